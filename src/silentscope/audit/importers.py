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
from silentscope.audit.test_sets import IID, VALIDATION
from silentscope.audit.validation import AuditSetError, first_rows, quoted

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
        table = read_table(source)
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
        str(c)[len(confidence_prefix) :]: numeric_column(table[c], str(c), source)
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
    present = {c: numeric_column(table[c], c, source) for c in columns if c is not None}
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

    logits_arr = np.asarray(load(logits, "logits"))
    label_arr = np.asarray(load(labels, "labels")).reshape(-1)
    if logits_arr.ndim != 2:
        raise AuditSetError(f"logits must be 2-D (samples x classes), got shape {logits_arr.shape}")
    if probabilities:
        logits_arr = probabilities_to_logits(logits_arr)
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
_FD_STUDY_KINDS = {
    "iid_study": "iid",
    "in_class_study": "man",
    "new_class_study": "ood",
    "noise_study": "shift",
}


def _npz_array(path: Path) -> np.ndarray:
    return read_npz_array(path, f"FD-Shifts {path.stem}")


def fdshifts_test_set_names(experiment_dir: Path, n_datasets: int) -> list[str]:
    """Test-set names per FD-Shifts ``dataset_idx``, from the run's ``hydra/config.yaml``.

    FD-Shifts numbers the validation split 0 when ``eval.val_tuning`` is set, then the datasets
    of ``eval.query_studies`` in order. Without a config, index 0 is ``iid`` and the others
    ``shift/dataset_<k>``.
    """
    import yaml

    config_path = experiment_dir / "hydra" / "config.yaml"
    if not config_path.is_file():
        return [IID] + [f"shift/dataset_{k}" for k in range(1, n_datasets)]
    config = yaml.safe_load(config_path.read_text()) or {}
    evaluation = config.get("eval", {})
    names = [VALIDATION] if evaluation.get("val_tuning") else []
    for study, datasets in (evaluation.get("query_studies") or {}).items():
        kind = _FD_STUDY_KINDS.get(study, "shift")
        for dataset in datasets if isinstance(datasets, list) else [datasets]:
            value = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(dataset))
            names.append(IID if kind == "iid" else f"{kind}/{value}")
    return names


def from_fdshifts(
    path: str | os.PathLike, *, test_set_names: Sequence[str] | None = None
) -> AuditSet:
    """An AuditSet from an FD-Shifts experiment (its folder or its ``test_results/`` folder).

    Reads ``raw_logits.npz`` (N x (C+2): logits | label | dataset_idx), optional
    ``encoded_output.npz`` (N x (D+1): features | dataset_idx), ``external_confids.npz`` (N)
    and ``raw_logits_dist.npz`` (MC logits, N x C x M or (N*M) x C sample-major).
    ``test_set_names`` maps dataset_idx to names; by default they come from the run's config.
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
    if test_set_names is None:
        experiment = results.parent if results.name == "test_results" else results
        test_set_names = fdshifts_test_set_names(experiment, int(indices.max()) + 1)
    if indices.max() >= len(test_set_names):
        beyond = dataset_idx >= len(test_set_names)
        raise AuditSetError(
            f"{raw_path}: dataset_idx goes up to {indices.max()} (rows {first_rows(beyond)}) but only "
            f"{len(test_set_names)} test-set names are known ({list(test_set_names)}); pass test_set_names / --names"
        )
    names = np.asarray(test_set_names, dtype=object)[dataset_idx]
    features = None
    if (results / "encoded_output.npz").is_file():
        encoded = _npz_array(results / "encoded_output.npz")
        if len(encoded) != n:
            raise AuditSetError(f"encoded_output.npz has {len(encoded)} rows for {n} samples")
        features = encoded[:, :-1]
    confidences = {}
    if (results / "external_confids.npz").is_file():
        external = _npz_array(results / "external_confids.npz").reshape(-1)
        if len(external) != n:
            raise AuditSetError(f"external_confids.npz has {len(external)} values for {n} samples")
        confidences["external"] = external
    mc_logits = None
    if (results / "raw_logits_dist.npz").is_file():
        dist = _npz_array(results / "raw_logits_dist.npz")
        if dist.ndim == 3 and dist.shape[:2] == (n, c):
            mc_logits = dist
        elif dist.ndim == 2 and dist.shape[1] == c and dist.shape[0] % n == 0:
            mc_logits = dist.reshape(n, dist.shape[0] // n, c).transpose(0, 2, 1)
        else:
            raise AuditSetError(
                f"raw_logits_dist.npz has shape {dist.shape}; expected ({n}, {c}, M) or ({n}*M, {c})"
            )
    audit = AuditSet(
        sample_id=np.array([f"{names[i]}:{i}" for i in range(n)]),
        test_set=names,
        label=label.astype(np.int64),
        logits=logits,
        class_names=[str(i) for i in range(c)],
        features=features,
        mc_logits=mc_logits,
        confidences=confidences,
        provenance={
            "importer": "fd-shifts",
            "source": str(results),
            "outputs": outputs,
            "test_set_names": list(test_set_names),
        },
    )
    record_health(audit, "the imported classifier", stacklevel=3)
    return audit
