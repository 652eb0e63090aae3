"""Build AuditSets from the formats users already have.

- a CSV or Parquet table of predictions (probability or logit columns, label, metadata);
- NumPy arrays (``.npy`` files or in-memory arrays);
- an FD-Shifts ``test_results/`` folder (``raw_logits.npz`` and friends).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.auditset import AuditSet
from silentscope.audit.files import (
    metadata_frame,
    numeric_column,
    read_array,
    read_npz_array,
    read_table,
    text_values,
)
from silentscope.audit.health import record_health
from silentscope.audit.test_sets import IID, UNKNOWN_LABEL, VALIDATION
from silentscope.audit.validation import (
    AuditSetError,
    first_rows,
    quoted,
    reject_probabilities_as_logits,
)

#: Probabilities are clipped here before the log so that a hard 0 stays finite.
PROBABILITY_FLOOR = 1e-12


def probabilities_to_logits(probs: np.ndarray, *, atol: float = 1e-3) -> np.ndarray:
    """Log-probabilities usable as logits (softmax gives the probabilities back).

    Raises a clear error where rows are not probability vectors.

    Examples
    --------
    >>> probabilities_to_logits(np.array([[0.25, 0.75]])).round(3).tolist()
    [[-1.386, -0.288]]
    """
    probs = np.asarray(probs, dtype=np.float64)
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | (probs > 1).any(axis=1)
    if bad.any():
        raise AuditSetError(
            f"probabilities outside [0, 1] or not finite at rows {first_rows(bad)}; "
            "pass logits instead, or fix those rows"
        )
    sums = probs.sum(axis=1)
    off = np.abs(sums - 1) > atol
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise AuditSetError(
            f"probabilities do not sum to 1 at rows {first_rows(off)} (row {row} sums to {sums[row]:.4f}); "
            "pass logits, or one probability column per class"
        )
    return np.log(np.clip(probs, PROBABILITY_FLOOR, 1.0))


def _columns_with_prefix(frame: pd.DataFrame, prefix: str) -> list[str]:
    return [c for c in frame.columns if str(c).startswith(prefix)]


def from_table(
    table: pd.DataFrame | str | os.PathLike,
    *,
    label_column: str = "label",
    id_column: str | None = "sample_id",
    test_set_column: str | None = "test_set",
    prob_prefix: str = "prob_",
    logit_prefix: str = "logit_",
    confidence_prefix: str = "conf_",
    text_column: str | None = None,
    image_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> AuditSet:
    """An AuditSet from a table of predictions (a DataFrame, or a CSV/Parquet path).

    Classes are matched by name, never by column position: the column ``prob_<c>`` holds the
    probability of the class named ``c``, and a label ``c`` means that class, whatever the
    order of the columns. A file is read as text, so ids keep their spelling (``000``).

    Parameters
    ----------
    table : DataFrame or path
        One row per sample.
    label_column : str
        True class, by name: a value of the label column is the suffix of its class's column
        (``1`` for ``prob_1``, ``normal`` for ``prob_normal``). Class numbers (0, 1, ...) with
        named columns are ambiguous and refused unless ``class_names`` gives their order.
    id_column, test_set_column : str or None
        Sample ids (default: row numbers) and test-set names (default: all ``iid``).
    prob_prefix, logit_prefix : str
        Columns ``<prefix><class>`` holding probabilities or logits, one per class. A single
        probability column ``prob`` (or ``<prob_prefix>1``) for a binary task is the
        probability of class ``1``.
    confidence_prefix : str
        Columns ``<prefix><name>`` holding external confidences (higher = more confident).
    text_column, image_column : str or None
        Report text and image reference columns.
    metadata_columns : sequence of str or None
        Metadata columns; default: every column not used above.
    class_names : sequence of str or None
        Class names in class-index order; each must name a prediction column (or the columns
        are numbered ``0 .. C-1``), and labels may then be names or indices. Default: the
        suffixes of the prediction columns (numbered suffixes in numeric order).

    Raises
    ------
    AuditSetError
        One sentence naming the file, column or row: missing or duplicated columns, cells
        that are not numbers, labels that match no class, ambiguous class numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"prob_normal": [0.9, 0.2], "prob_pneumonia": [0.1, 0.8],
    ...                       "label": ["normal", "normal"], "age": [40, 71]})
    >>> audit = from_table(table)
    >>> audit.class_names, audit.correct.tolist(), list(audit.metadata.columns)
    (('normal', 'pneumonia'), [True, False], ['age'])
    >>> reordered = pd.DataFrame({"prob_1": [0.9, 0.2], "prob_0": [0.1, 0.8], "label": [1, 0]})
    >>> from_table(reordered).correct.tolist()
    [True, True]
    """
    source = None
    if not isinstance(table, pd.DataFrame):
        source = Path(table)
        # prediction and confidence columns are read as numbers (every other one as text)
        prefixes = (prob_prefix, logit_prefix, confidence_prefix)
        single = prob_prefix.rstrip("_")  # one probability column of a binary task

        def numeric(name: str) -> bool:
            return name == single or name.startswith(prefixes)

        table = read_table(source, keep_floats=numeric)
    elif table.columns.duplicated().any():
        duplicated = table.columns[table.columns.duplicated()][0]
        raise AuditSetError(
            f"the table has the column {duplicated!r} more than once; give every column its own name"
        )
    where = str(source) if source else "the table"
    table = table.reset_index(drop=True)
    if label_column not in table:
        raise AuditSetError(
            f"{where} has no label column {label_column!r} (columns: {', '.join(map(str, table.columns[:12]))}); "
            "name it with label_column / --label-column"
        )
    names_given = class_names is not None
    columns, class_names, kind = _class_columns(
        table, prob_prefix, logit_prefix, class_names, where
    )
    used: list[str] = [label_column, *dict.fromkeys(c for c in columns if c is not None)]
    values = _prediction_values(table, columns, source)
    provenance = {
        "importer": "table",
        "source": str(source) if source else None,
        "outputs": kind,
        "class_columns": dict(zip(class_names, columns, strict=True)),
    }
    if kind == "probabilities":
        logits = probabilities_to_logits(values)
        provenance["logits"] = f"log of probabilities clipped at {PROBABILITY_FLOOR}"
    else:
        reject_probabilities_as_logits(
            values, f"the logit columns {', '.join(c for c in columns if c)} of {where}",
            f"name them {prob_prefix}<class>",
        )  # fmt: skip
        logits = values
        provenance["logits"] = "logits"
    labels = _labels_by_name(
        table[label_column], class_names, label_column, where, indices=names_given
    )
    if id_column and id_column in table:
        sample_id = text_values(table[id_column])
        empty = sample_id == ""
        if empty.any():
            raise AuditSetError(
                f"id column {id_column!r} of {where} is empty at rows {first_rows(empty)}; "
                "give every sample an id"
            )
        used.append(id_column)
    else:
        sample_id = np.array([f"row{i}" for i in range(len(table))])
    test_set = np.full(len(table), IID, dtype=object)
    if test_set_column and test_set_column in table:
        test_set = text_values(table[test_set_column])
        used.append(test_set_column)
    confidences = {
        str(c)[len(confidence_prefix) :]: numeric_column(
            table[c], str(c), source, nan_is_empty=source is not None
        )
        for c in _columns_with_prefix(table, confidence_prefix)
    }
    used += [f"{confidence_prefix}{k}" for k in confidences]
    for column in (text_column, image_column):
        if column is not None and column not in table:
            raise AuditSetError(f"{where} has no column {column!r}")
    used += [c for c in (text_column, image_column) if c]
    if metadata_columns is None:
        metadata_columns = [c for c in table.columns if c not in used]
    missing = [c for c in metadata_columns if c not in table]
    if missing:
        raise AuditSetError(f"metadata columns {missing} are not in {where}")
    metadata = table[list(metadata_columns)] if metadata_columns else None
    if metadata is not None and source is not None:
        metadata = metadata_frame(metadata)
    audit = AuditSet(
        sample_id=sample_id,
        test_set=test_set,
        label=labels,
        logits=logits,
        class_names=class_names,
        confidences=confidences,
        metadata=metadata,
        text=table[text_column].to_numpy() if text_column else None,
        image_ref=text_values(table[image_column]) if image_column else None,
        provenance=provenance,
    )
    record_health(audit, "the imported classifier", stacklevel=3)
    return audit


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+", text) is not None


def _class_columns(
    table: pd.DataFrame,
    prob_prefix: str,
    logit_prefix: str,
    class_names: Sequence[str] | None,
    where: str,
) -> tuple[list[str | None], list[str], str]:
    """The prediction column of each class (in class order), the class names and the kind.

    A ``None`` column is the complement of the single probability column of a binary task.
    """
    logit_cols = _columns_with_prefix(table, logit_prefix)
    prob_cols = _columns_with_prefix(table, prob_prefix)
    if not prob_cols and "prob" in table and not logit_cols:
        prob_cols = ["prob"]
    if logit_cols and prob_cols:
        raise AuditSetError(
            f"{where} has both logit ({logit_prefix}*) and probability ({prob_prefix}*) columns; "
            "keep one kind, or rename the other"
        )
    if not logit_cols and not prob_cols:
        raise AuditSetError(
            f"{where} has no prediction columns: expected '{logit_prefix}<class>' or "
            f"'{prob_prefix}<class>' columns (set logit_prefix / prob_prefix for other names)"
        )
    kind = "logits" if logit_cols else "probabilities"
    columns = [str(c) for c in (logit_cols or prob_cols)]
    prefix = logit_prefix if logit_cols else prob_prefix
    suffixes = ["1" if c == "prob" else c[len(prefix) :] for c in columns]
    if "" in suffixes:
        raise AuditSetError(
            f"column {columns[suffixes.index('')]!r} of {where} names no class; call it {prefix}<class>"
        )
    if len(columns) == 1:
        if kind == "logits":
            raise AuditSetError(
                f"{where} has one logit column {columns[0]!r}; give one {logit_prefix}<class> column per class"
            )
        return _single_probability_column(columns[0], suffixes[0], class_names, where)
    by_suffix = dict(zip(suffixes, columns, strict=True))
    numbered = all(_is_number(s) for s in suffixes)
    if class_names is None:
        names = sorted(suffixes, key=int) if numbered else suffixes
        return [by_suffix[name] for name in names], names, kind
    names = [str(c) for c in class_names]
    if len(names) != len(columns):
        raise AuditSetError(
            f"{len(names)} class names given for the {len(columns)} prediction columns of {where}"
        )
    if set(names) == set(suffixes):
        return [by_suffix[name] for name in names], names, kind
    if numbered and sorted(int(s) for s in suffixes) == list(range(len(names))):
        number = {int(s): column for s, column in by_suffix.items()}
        return [number[i] for i in range(len(names))], names, kind
    raise AuditSetError(
        f"the prediction columns {', '.join(columns)} of {where} do not match the class names "
        f"{', '.join(names)}; name the columns {prefix}<class name> or {prefix}0 .. {prefix}{len(names) - 1}"
    )


def _single_probability_column(
    column: str, suffix: str, class_names: Sequence[str] | None, where: str
) -> tuple[list[str | None], list[str], str]:
    names = ["0", "1"] if class_names is None else [str(c) for c in class_names]
    if len(names) != 2:
        raise AuditSetError(
            f"{where} has one probability column {column!r}, which fits 2 classes, but "
            f"{len(names)} class names were given"
        )
    if suffix in names:
        positive = names.index(suffix)
    elif suffix == "1":  # ``prob`` or ``prob_1``: class index 1 of the given names
        positive = 1
    else:
        raise AuditSetError(
            f"{where} has one probability column {column!r} and the other class is unknown; "
            "add a column for the other class, or call it prob_1 with labels 0 and 1"
        )
    columns: list[str | None] = [None, None]
    columns[positive] = column
    return columns, names, "probabilities"


def _prediction_values(
    table: pd.DataFrame, columns: list[str | None], source: Path | None
) -> np.ndarray:
    present = {
        c: numeric_column(table[c], c, source, nan_is_empty=source is not None)
        for c in columns
        if c is not None
    }
    if len(present) < len(columns):  # a binary task given as one probability column
        (known,) = present.values()
        return np.column_stack([known if c is not None else 1 - known for c in columns])
    return np.column_stack([present[c] for c in columns])


def _labels_by_name(
    column: pd.Series, class_names: Sequence[str], name: str, where: str, *, indices: bool
) -> np.ndarray:
    """Class indices of a label column whose values are class names (or indices, see below).

    A class number that is not a class name is taken as a class index only when ``indices``
    (the names were given in index order) and no class name is itself a number.
    """
    if pd.api.types.is_float_dtype(column):
        integral = column.notna() & (column == column.round())
        if integral.all():  # 1.0 from a float column of a DataFrame means the number 1
            column = column.astype(np.int64)
    text = pd.Series(text_values(column), dtype=object).str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        raise AuditSetError(
            f"label column {name!r} of {where} is empty at rows {first_rows(empty)}"
        )
    lookup = {c: i for i, c in enumerate(class_names)}
    unknown = ~text.isin(list(lookup)).to_numpy()
    if not unknown.any():
        return text.map(lookup).to_numpy(dtype=np.int64)
    numbers = text[unknown]
    if numbers.map(_is_number).all():
        named_by_number = any(_is_number(c) for c in class_names)
        if indices and not named_by_number:
            index = np.array([lookup[v] if v in lookup else int(v) for v in text], dtype=np.int64)
            return index  # out-of-range indices are reported by the AuditSet
        values = sorted(set(numbers), key=int)[:5]
        raise AuditSetError(
            f"label column {name!r} of {where} holds class numbers ({', '.join(values)}) but the "
            f"prediction columns name the classes {quoted(class_names)}; write class names in the "
            "label column, or give the class names in number order (--class-names / class_names)"
        )
    raise AuditSetError(
        f"label column {name!r} of {where} has values {sorted(text[unknown].unique())[:5]} that are not class names "
        f"{list(class_names)} (rows {first_rows(unknown)}); pass --class-names or fix the labels"
    )


def from_arrays(
    logits: np.ndarray | str | os.PathLike,
    labels: np.ndarray | str | os.PathLike,
    *,
    test_set: np.ndarray | str | os.PathLike | None = None,
    features: np.ndarray | str | os.PathLike | None = None,
    mc_logits: np.ndarray | str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    sample_id: np.ndarray | None = None,
    probabilities: bool = False,
) -> AuditSet:
    """An AuditSet from NumPy arrays or ``.npy`` files (test set defaults to ``iid``).

    Examples
    --------
    >>> audit = from_arrays(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0, 0]))
    >>> audit.class_names, float(audit.correct.mean())
    (('0', '1'), 0.5)
    """

    def load(value, what):
        if value is None or isinstance(value, np.ndarray):
            return value
        return read_array(value, what)

    # the file behind each field, so that a bad value names the file to fix
    files = {
        field: str(value)
        for field, value in (
            ("logits", logits), ("probabilities", logits), ("label", labels),
            ("test_set", test_set), ("features", features), ("mc_logits", mc_logits),
        )
        if isinstance(value, str | os.PathLike)
    }  # fmt: skip
    try:
        return _audit_from_arrays(
            load, logits, labels, test_set, features, mc_logits, class_names, sample_id,
            probabilities,
        )  # fmt: skip
    except AuditSetError as error:
        field = next((f for f in files if str(error).startswith(f)), None)
        if field is None:
            raise
        raise AuditSetError(f"{files[field]}: {error}") from None


def _audit_from_arrays(
    load, logits, labels, test_set, features, mc_logits, class_names, sample_id, probabilities
) -> AuditSet:
    logits_arr = np.asarray(load(logits, "logits"))
    label_arr = np.asarray(load(labels, "labels")).reshape(-1)
    if logits_arr.ndim != 2:
        raise AuditSetError(f"logits must be 2-D (samples x classes), got shape {logits_arr.shape}")
    if probabilities:
        logits_arr = probabilities_to_logits(logits_arr)
    else:
        reject_probabilities_as_logits(
            logits_arr, "the logits", "pass probabilities=True (--probabilities)"
        )
    n = len(logits_arr)
    names = class_names or [str(i) for i in range(logits_arr.shape[1])]
    if np.issubdtype(label_arr.dtype, np.floating) and np.all(np.mod(label_arr, 1) == 0):
        label_arr = label_arr.astype(np.int64)  # integral floats from np.save of a float array
    audit = AuditSet(
        sample_id=sample_id if sample_id is not None else np.array([f"s{i}" for i in range(n)]),
        test_set=np.asarray(load(test_set, "test-set")).astype(str)
        if test_set is not None
        else np.full(n, IID),
        label=label_arr,
        logits=logits_arr,
        class_names=names,
        features=load(features, "features"),
        mc_logits=load(mc_logits, "mc_logits"),
        provenance={
            "importer": "arrays",
            "outputs": "probabilities" if probabilities else "logits",
            "logits": "log-probabilities" if probabilities else "logits",
        },
    )
    record_health(audit, "the imported classifier", stacklevel=3)
    return audit


# ---------------------------------------------------------------------- FD-Shifts
#: FD-Shifts splits its noise study into this many corruption types x severities, in this
#: order within the noise set's rows (``reshape(15, 5, -1)`` in its analysis).
FDSHIFTS_NOISE_TYPES, FDSHIFTS_NOISE_SEVERITIES = 15, 5

#: The metadata column holding FD-Shifts' own label of each sample: for a new-class (``ood/``)
#: sample a class of *its* dataset (e.g. 0-99 for cifar100), which the classifier never saw.
FDSHIFTS_LABEL_COLUMN = "fdshifts_label"


def _npz_array(path: Path) -> np.ndarray:
    return read_npz_array(path, f"FD-Shifts {path.stem}")


def _clean_name(value: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", str(value).lower())


def read_fdshifts_config(experiment_dir: Path) -> dict | None:
    """The run's configuration (``hydra/config.yaml``), whichever FD-Shifts layout wrote it.

    FD-Shifts at HEAD writes top-level ``experiment:`` and ``config:`` (the run's settings
    under ``config``); v0.1.1 writes the settings at the top level. The settings are
    returned, with ``${a.b}`` references (``iid_study: ${data.dataset}``) resolved.
    ``None`` when the run has no config.
    """
    import yaml

    path = experiment_dir / "hydra" / "config.yaml"
    if not path.is_file():
        return None
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise AuditSetError(f"cannot read the FD-Shifts config {path}: {error}") from None
    if isinstance(config.get("config"), dict) and "eval" in config["config"]:
        config = config["config"]
    return _resolved(config, config)


def _resolved(value, root: dict):
    if isinstance(value, dict):
        return {k: _resolved(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, root) for v in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([A-Za-z0-9_.]+)\}", value)
        if whole:  # a plain reference to another key of the config (not ${oc.env:...})
            target = root
            for key in whole.group(1).split("."):
                if not isinstance(target, dict) or key not in target:
                    return value
                target = target[key]
            return _resolved(target, root)
    return value


def _study_datasets(entry) -> list[str]:
    """Dataset names of one query study: a name, a dict with ``dataset``, or a list of these.

    A dict without ``dataset`` (FD-Shifts' empty noise study) names no dataset: FD-Shifts
    skips it, and so does its dataset_idx numbering.
    """
    if entry is None:
        return []
    entries = entry if isinstance(entry, list) else [entry]
    names = []
    for item in entries:
        if isinstance(item, dict):
            item = item.get("dataset")
        if item not in (None, ""):
            names.append(str(item))
    return names


def fdshifts_datasets(config: dict) -> list[tuple[str, str]]:
    """``(study, dataset)`` per FD-Shifts dataset_idx, in FD-Shifts' order.

    dataset_idx numbers the validation split first when ``eval.val_tuning`` is set, then the
    iid study, the noise study, the in-class studies and the new-class studies.

    Examples
    --------
    >>> fdshifts_datasets({"eval": {"val_tuning": True, "query_studies": {
    ...     "iid_study": "cifar10", "noise_study": {"dataset": "corrupt_cifar10"},
    ...     "new_class_study": ["svhn"], "in_class_study": []}}})
    [('val_tuning', 'val'), ('iid_study', 'cifar10'), ('noise_study', 'corrupt_cifar10'), ('new_class_study', 'svhn')]
    """
    evaluation = config.get("eval") or {}
    studies = evaluation.get("query_studies") or {}
    datasets = [("val_tuning", VALIDATION)] if evaluation.get("val_tuning") else []
    for study in ("iid_study", "noise_study", "in_class_study", "new_class_study"):
        datasets += [(study, name) for name in _study_datasets(studies.get(study))]
    unknown = sorted(
        set(studies) - {"iid_study", "noise_study", "in_class_study", "new_class_study"}
    )
    if unknown:
        raise AuditSetError(
            f"the FD-Shifts config has query studies {unknown} that silentscope does not know, so "
            "their dataset_idx cannot be placed; pass the test-set names with --names"
        )
    return datasets


def fdshifts_test_set_names(experiment_dir: Path, n_datasets: int) -> list[str]:
    """Test-set name per FD-Shifts dataset_idx (a noise study is one entry, ``cor/<noise>``).

    ``val`` for the validation split, ``iid``, ``cor/<noise set>`` for the noise study (split
    into its severities by :func:`from_fdshifts`), ``shift/<name>`` for in-class studies
    (FD-Shifts does not record what kind of shift they are) and ``ood/<name>`` for new-class
    studies. Without a config, index 0 is ``iid`` and the others ``shift/dataset_<k>``.
    """
    config = read_fdshifts_config(experiment_dir)
    if config is None:
        return [IID] + [f"shift/dataset_{k}" for k in range(1, n_datasets)]
    prefix = {"noise_study": "cor", "in_class_study": "shift", "new_class_study": "ood"}
    names = []
    for study, dataset in fdshifts_datasets(config):
        if study in ("val_tuning", "iid_study"):
            names.append(VALIDATION if study == "val_tuning" else IID)
        else:
            names.append(f"{prefix[study]}/{_clean_name(dataset)}")
    return names


def _check_fdshifts_classes(experiment_dir: Path, raw_path: Path, n_columns: int) -> None:
    """Refuse logits whose class count differs from the config's ``data.num_classes``.

    FD-Shifts writes one logit column per class of the trained dataset; another count means
    the arrays and ``hydra/config.yaml`` come from different runs, so the test-set names the
    config gives could land on the wrong samples.
    """
    config = read_fdshifts_config(experiment_dir)
    declared = ((config or {}).get("data") or {}).get("num_classes")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared != n_columns:
        raise AuditSetError(
            f"{raw_path} has {n_columns} logit columns but {experiment_dir / 'hydra' / 'config.yaml'} "
            f"says data.num_classes: {declared}; the arrays and the config come from different runs: "
            "import the folder FD-Shifts wrote for this config"
        )


def _noise_severities(name: str, count: int, where: Path) -> np.ndarray:
    """Per-row ``cor/<noise>/<k>`` of a noise set, in FD-Shifts' 15 types x 5 severities order."""
    blocks = FDSHIFTS_NOISE_TYPES * FDSHIFTS_NOISE_SEVERITIES
    if count % blocks:
        raise AuditSetError(
            f"{where}: the noise study {name!r} has {count} samples, which FD-Shifts splits into "
            f"{FDSHIFTS_NOISE_TYPES} corruptions x {FDSHIFTS_NOISE_SEVERITIES} severities of equal "
            f"size, so it must be a multiple of {blocks}; pass --names to import it as one test set"
        )
    per_block = count // blocks
    severity = (np.arange(count) // per_block) % FDSHIFTS_NOISE_SEVERITIES
    levels = np.array([f"{name}/{k + 1}" for k in range(FDSHIFTS_NOISE_SEVERITIES)], dtype=object)
    return levels[severity]


def _per_sample_names(names: Sequence[str], dataset_idx: np.ndarray, where: Path) -> np.ndarray:
    """Test-set name per row; a ``cor/<noise>`` entry without severity is split in five."""
    per_sample = np.asarray(names, dtype=object)[dataset_idx]
    for index, name in enumerate(names):
        if name.startswith("cor/") and name.count("/") == 1:
            rows = np.flatnonzero(dataset_idx == index)
            per_sample[rows] = _noise_severities(name, len(rows), where)
    return per_sample


def _mc_array(path: Path, n: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    """An MC array (N, *shape, M); sample-major (N*M, *shape) files are reordered."""
    dist = _npz_array(path)
    if dist.ndim == len(shape) + 2 and dist.shape[: len(shape) + 1] == (n, *shape):
        return dist
    if dist.ndim == len(shape) + 1 and dist.shape[1:] == shape and dist.shape[0] % n == 0:
        m = dist.shape[0] // n
        return np.moveaxis(dist.reshape(n, m, *shape), 1, -1)
    if not shape and dist.ndim == 1 and dist.shape[0] % n == 0:
        return dist.reshape(n, dist.shape[0] // n)
    expected = ", ".join(map(str, (n, *shape)))
    raise AuditSetError(
        f"{path.name} has shape {dist.shape}; FD-Shifts writes {what} as ({expected}, M) "
        f"(M dropout samples); is it from the same run as raw_logits.npz?"
    )


def from_fdshifts(
    path: str | os.PathLike, *, test_set_names: Sequence[str] | None = None
) -> AuditSet:
    """An AuditSet from an FD-Shifts experiment (its folder or its ``test_results/`` folder).

    Reads every array FD-Shifts writes:

    - ``raw_logits.npz`` (key ``arr_0``, N x (C+2): logits | label | dataset_idx; float16 at
      FD-Shifts HEAD, float64 in v0.1.1 with ``output_precision: 64``);
    - ``encoded_output.npz`` (N x (D+1): features | dataset_idx) as ``features``;
    - ``train_features.npz`` (N_train x (D+1): features | label) as ``train_features``;
    - ``external_confids.npz`` (N) as the confidence ``external``;
    - ``raw_logits_dist.npz`` (N x C x M, or (N*M) x C sample-major) as ``mc_logits``;
    - ``external_confids_dist.npz`` (N x M) as ``mc_confidences["external"]`` (the CSFs
      ``mcd-ext:external`` and ``waic-ext:external``, FD-Shifts' ``mcd_ext`` / ``ext_waic``).

    Test sets come from ``hydra/config.yaml`` in either layout (HEAD: ``config.eval``;
    v0.1.1: top-level ``eval``), in dataset_idx order: ``val`` (if ``eval.val_tuning``),
    ``iid``, the noise study split into FD-Shifts' five severities ``cor/<noise set>/<1-5>``
    (its rows are 15 corruptions x 5 severities x images, as FD-Shifts splits them),
    ``shift/<name>`` per in-class study and ``ood/<name>`` per new-class study. A new-class
    sample keeps its own dataset's label in the metadata column ``fdshifts_label``; its
    ``label`` is :data:`~silentscope.audit.UNKNOWN_LABEL` (-1), a class the classifier does
    not know, so it is always a failure. ``test_set_names`` (one name per dataset_idx)
    overrides the config.
    """
    path = Path(path)
    results = path / "test_results" if (path / "test_results").is_dir() else path
    raw_path = results / "raw_logits.npz"
    if not raw_path.is_file():
        legacy = results / "raw_output.npz"
        if not legacy.is_file():
            raise FileNotFoundError(
                f"{results} has no raw_logits.npz: it is not an FD-Shifts test_results folder"
            )
        raw_path = legacy
    raw = _npz_array(raw_path)
    if raw.ndim != 2 or raw.shape[1] < 4:
        raise AuditSetError(
            f"{raw_path} must be N x (C+2) (logits | label | dataset_idx), got {raw.shape}"
        )
    stored_dtype = str(raw.dtype)
    raw = raw.astype(np.float64)  # float16 at FD-Shifts HEAD: exact in float64
    logits, label, dataset_idx = raw[:, :-2], raw[:, -2], raw[:, -1]
    for column, values in (("label", label), ("dataset_idx", dataset_idx)):
        fractional = np.mod(values, 1) != 0
        if fractional.any():
            raise AuditSetError(
                f"{raw_path} has non-integer {column} values at rows {first_rows(fractional)}"
            )
    dataset_idx = dataset_idx.astype(np.int64)
    negative = dataset_idx < 0
    if negative.any():
        raise AuditSetError(
            f"{raw_path} has negative dataset_idx values (e.g. {dataset_idx[negative][0]}) in its last column "
            f"at rows {first_rows(negative)}; FD-Shifts numbers its datasets from 0: fix or drop those rows"
        )
    outputs = "logits"
    if raw_path.name == "raw_output.npz":  # older runs stored softmax outputs
        logits = probabilities_to_logits(logits)
        outputs = "probabilities"
    n, c = logits.shape
    indices = np.unique(dataset_idx)
    experiment = results.parent if results.name == "test_results" else results
    _check_fdshifts_classes(experiment, raw_path, c)
    names_from = "--names" if test_set_names is not None else "hydra/config.yaml"
    if test_set_names is None:
        test_set_names = fdshifts_test_set_names(experiment, int(indices.max()) + 1)
    test_set_names = [str(name) for name in test_set_names]
    if indices.max() >= len(test_set_names):
        beyond = dataset_idx >= len(test_set_names)
        raise AuditSetError(
            f"{raw_path}: dataset_idx goes up to {indices.max()} (rows {first_rows(beyond)}) but only "
            f"{len(test_set_names)} test-set names are known ({list(test_set_names)}, from "
            f"{names_from}); pass one name per dataset_idx with test_set_names / --names"
        )
    names = _per_sample_names(test_set_names, dataset_idx, raw_path)
    original_label = label.astype(np.int64)
    label = original_label.copy()
    ood = np.isin(
        dataset_idx, [i for i, name in enumerate(test_set_names) if name.startswith("ood/")]
    )
    label[ood] = UNKNOWN_LABEL  # a new-class sample's class is none of the classifier's
    features = None
    if (results / "encoded_output.npz").is_file():
        encoded = _npz_array(results / "encoded_output.npz")
        if encoded.ndim != 2 or len(encoded) != n:
            raise AuditSetError(
                f"encoded_output.npz has shape {encoded.shape} for {n} samples; FD-Shifts writes "
                "(N, D+1): features | dataset_idx"
            )
        if not np.array_equal(encoded[:, -1].astype(np.int64), dataset_idx):
            raise AuditSetError(
                f"the last column of encoded_output.npz (dataset_idx) differs from raw_logits.npz at rows "
                f"{first_rows(encoded[:, -1].astype(np.int64) != dataset_idx)}; are both from the same run?"
            )
        features = encoded[:, :-1].astype(np.float64)
    train_features = train_labels = None
    if (results / "train_features.npz").is_file():
        train = _npz_array(results / "train_features.npz").astype(np.float64)
        if train.ndim != 2 or features is None or train.shape[1] != features.shape[1] + 1:
            raise AuditSetError(
                f"train_features.npz has shape {train.shape}; expected (N_train, D+1) = features | label "
                f"with D = {None if features is None else features.shape[1]} (from encoded_output.npz)"
            )
        train_features, train_labels = train[:, :-1], train[:, -1].astype(np.int64)
    confidences = {}
    mc_confidences = {}
    if (results / "external_confids.npz").is_file():
        external = _npz_array(results / "external_confids.npz").reshape(-1)
        if len(external) != n:
            raise AuditSetError(f"external_confids.npz has {len(external)} values for {n} samples")
        confidences["external"] = external.astype(np.float64)
    if (results / "external_confids_dist.npz").is_file():
        dist = _mc_array(results / "external_confids_dist.npz", n, (), "external confidences")
        mc_confidences["external"] = dist.astype(
            np.float64
        )  # CSFs mcd-ext:external, waic-ext:external
    mc_logits = None
    if (results / "raw_logits_dist.npz").is_file():
        mc_logits = _mc_array(results / "raw_logits_dist.npz", n, (c,), "MC logits")
        mc_logits = mc_logits.astype(np.float64)
    audit = AuditSet(
        sample_id=np.char.add(np.char.add(names.astype(str), ":"), np.arange(n).astype(str)),
        test_set=names,
        label=label,
        logits=logits,
        class_names=[str(i) for i in range(c)],
        features=features,
        train_features=train_features,
        train_labels=train_labels,
        mc_logits=mc_logits,
        confidences=confidences,
        mc_confidences=mc_confidences,
        metadata=pd.DataFrame({FDSHIFTS_LABEL_COLUMN: original_label}),
        metadata_roles={FDSHIFTS_LABEL_COLUMN: "label_derived"},
        provenance={
            "importer": "fd-shifts",
            "source": str(results),
            "outputs": outputs,
            "stored_dtype": stored_dtype,
            "test_set_names": list(test_set_names),
            "test_set_names_from": names_from,
            "noise_study_split": (
                f"{FDSHIFTS_NOISE_TYPES} corruptions x {FDSHIFTS_NOISE_SEVERITIES} severities in row "
                "order, as FD-Shifts splits it (its 15 corruption types are pooled per severity)"
            ),
            "ood_labels": (
                f"new-class (ood/) samples have label {UNKNOWN_LABEL} (unknown to the classifier); "
                f"their own dataset's label is in metadata column {FDSHIFTS_LABEL_COLUMN!r}"
            ),
        },
    )
    record_health(audit, "the imported classifier", stacklevel=3)
    return audit
