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
from silentscope.audit.test_sets import IID, VALIDATION
from silentscope.audit.validation import AuditSetError, first_rows

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

    Parameters
    ----------
    table : DataFrame or path
        One row per sample.
    label_column : str
        True class, as an index or a class name.
    id_column, test_set_column : str or None
        Sample ids (default: row numbers) and test-set names (default: all ``iid``).
    prob_prefix, logit_prefix : str
        Columns ``<prefix><class>`` holding probabilities or logits, one per class. A single
        probability column ``prob`` (or ``<prob_prefix>1``) for a binary task is accepted.
    confidence_prefix : str
        Columns ``<prefix><name>`` holding external confidences (higher = more confident).
    text_column, image_column : str or None
        Report text and image reference columns.
    metadata_columns : sequence of str or None
        Metadata columns; default: every column not used above.
    class_names : sequence of str or None
        Class names; default: the suffixes of the probability/logit columns.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"prob_normal": [0.9, 0.2], "prob_pneumonia": [0.1, 0.8],
    ...                       "label": ["normal", "normal"], "age": [40, 71]})
    >>> audit = from_table(table)
    >>> audit.class_names, audit.correct.tolist(), list(audit.metadata.columns)
    (('normal', 'pneumonia'), [True, False], ['age'])
    """
    source = None
    if not isinstance(table, pd.DataFrame):
        source = Path(table)
        table = read_table(source)
    table = table.reset_index(drop=True)
    if label_column not in table:
        raise AuditSetError(
            f"the table has no label column {label_column!r} (columns: {', '.join(map(str, table.columns[:12]))}); "
            "name it with label_column / --label-column"
        )
    used: list[str] = [label_column]
    logit_cols = _columns_with_prefix(table, logit_prefix)
    prob_cols = _columns_with_prefix(table, prob_prefix)
    if not prob_cols and "prob" in table and not logit_cols:
        prob_cols = ["prob"]
    if logit_cols and prob_cols:
        raise AuditSetError(
            f"the table has both logit ({logit_prefix}*) and probability ({prob_prefix}*) columns; "
            "keep one kind, or rename the other"
        )
    if not logit_cols and not prob_cols:
        raise AuditSetError(
            f"the table has no prediction columns: expected '{logit_prefix}<class>' or "
            f"'{prob_prefix}<class>' columns (set logit_prefix / prob_prefix for other names)"
        )
    columns = logit_cols or prob_cols
    used += columns
    values = table[columns].to_numpy(dtype=np.float64)
    if prob_cols and len(prob_cols) == 1:
        values = np.column_stack([1 - values[:, 0], values[:, 0]])
        suffixes = ["0", "1"]
    else:
        prefix = logit_prefix if logit_cols else prob_prefix
        suffixes = [str(c)[len(prefix) :] for c in columns]
    if class_names is None:
        class_names = suffixes
    if len(class_names) != values.shape[1]:
        raise AuditSetError(
            f"{len(class_names)} class_names given for {values.shape[1]} prediction columns"
        )
    provenance = {"importer": "table", "source": str(source) if source else None}
    if prob_cols:
        logits = probabilities_to_logits(values)
        provenance["logits"] = f"log of probabilities clipped at {PROBABILITY_FLOOR}"
    else:
        logits = values
        provenance["logits"] = "logits"
    labels = _labels_from_column(table[label_column], class_names, label_column)
    sample_id = (
        table[id_column].astype(str).to_numpy() if id_column and id_column in table else None
    )
    if sample_id is None:
        sample_id = np.array([f"row{i}" for i in range(len(table))])
    else:
        used.append(id_column)
    test_set = np.full(len(table), IID, dtype=object)
    if test_set_column and test_set_column in table:
        test_set = table[test_set_column].astype(str).to_numpy()
        used.append(test_set_column)
    confidences = {
        str(c)[len(confidence_prefix) :]: table[c].to_numpy(dtype=np.float64)
        for c in _columns_with_prefix(table, confidence_prefix)
    }
    used += [f"{confidence_prefix}{k}" for k in confidences]
    for column in (text_column, image_column):
        if column is not None and column not in table:
            raise AuditSetError(f"the table has no column {column!r}")
    used += [c for c in (text_column, image_column) if c]
    if metadata_columns is None:
        metadata_columns = [c for c in table.columns if c not in used]
    missing = [c for c in metadata_columns if c not in table]
    if missing:
        raise AuditSetError(f"metadata columns {missing} are not in the table")
    return AuditSet(
        sample_id=sample_id,
        test_set=test_set,
        label=labels,
        logits=logits,
        class_names=class_names,
        confidences=confidences,
        metadata=table[list(metadata_columns)] if metadata_columns else None,
        text=table[text_column].to_numpy() if text_column else None,
        image_ref=table[image_column].astype(str).to_numpy() if image_column else None,
        provenance=provenance,
    )


def _labels_from_column(column: pd.Series, class_names: Sequence[str], name: str) -> np.ndarray:
    if column.isna().any():
        raise AuditSetError(
            f"label column {name!r} is empty at rows {first_rows(column.isna().to_numpy())}"
        )
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(column):
        as_int = column.round().astype(np.int64)
        if not (as_int == column).all():
            raise AuditSetError(
                f"label column {name!r} holds non-integer numbers; pass class indices or names"
            )
        return as_int.to_numpy()
    lookup = {c: i for i, c in enumerate(class_names)}
    text = column.astype(str)
    unknown = ~text.isin(list(lookup)) & ~text.str.fullmatch(r"\d+")
    if unknown.any():
        raise AuditSetError(
            f"label column {name!r} has values {sorted(text[unknown].unique())[:5]} that are not class names "
            f"{list(class_names)} (rows {first_rows(unknown.to_numpy())}); pass --class-names or fix the labels"
        )
    return np.array([lookup[v] if v in lookup else int(v) for v in text], dtype=np.int64)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file with a clear error for other formats."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    raise ValueError(f"{path} is not a CSV/TSV or Parquet file; convert it to one of those")


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

    def load(value):
        if value is None or isinstance(value, np.ndarray):
            return value
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        return np.load(path, allow_pickle=False, mmap_mode="r")

    logits_arr = np.asarray(load(logits))
    label_arr = np.asarray(load(labels)).reshape(-1)
    if logits_arr.ndim != 2:
        raise AuditSetError(f"logits must be 2-D (samples x classes), got shape {logits_arr.shape}")
    if probabilities:
        logits_arr = probabilities_to_logits(logits_arr)
    n = len(logits_arr)
    names = class_names or [str(i) for i in range(logits_arr.shape[1])]
    if np.issubdtype(label_arr.dtype, np.floating) and np.all(np.mod(label_arr, 1) == 0):
        label_arr = label_arr.astype(np.int64)  # integral floats from np.save of a float array
    return AuditSet(
        sample_id=sample_id if sample_id is not None else np.array([f"s{i}" for i in range(n)]),
        test_set=np.asarray(load(test_set)).astype(str)
        if test_set is not None
        else np.full(n, IID),
        label=label_arr,
        logits=logits_arr,
        class_names=names,
        features=load(features),
        mc_logits=load(mc_logits),
        provenance={
            "importer": "arrays",
            "logits": "log-probabilities" if probabilities else "logits",
        },
    )


# ---------------------------------------------------------------------- FD-Shifts
_FD_STUDY_KINDS = {
    "iid_study": "iid",
    "in_class_study": "man",
    "new_class_study": "ood",
    "noise_study": "shift",
}


def _npz_array(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        keys = list(data.keys())
        if not keys:
            raise AuditSetError(f"{path} holds no array")
        return data["arr_0"] if "arr_0" in keys else data[keys[0]]


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
    if raw_path.name == "raw_output.npz":  # older runs stored softmax outputs
        logits = probabilities_to_logits(logits)
    n, c = logits.shape
    indices = np.unique(dataset_idx)
    if test_set_names is None:
        experiment = results.parent if results.name == "test_results" else results
        test_set_names = fdshifts_test_set_names(experiment, int(indices.max()) + 1)
    if indices.max() >= len(test_set_names):
        raise AuditSetError(
            f"dataset_idx goes up to {indices.max()} but only {len(test_set_names)} test-set names are known "
            f"({list(test_set_names)}); pass test_set_names / --names"
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
    return AuditSet(
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
            "test_set_names": list(test_set_names),
        },
    )
