"""Features of a misclassification predictor: the classifier's outputs and clinical metadata.

Output features follow CheXbreak (Chen et al., MLHC 2021), which predicted
misclassification from a model's outputs plus patient attributes: the softmax
probabilities, the confidence scores derived from them (maximum softmax response, margin,
entropy, maximum logit, energy), MC-dropout statistics where the AuditSet has them, and the
external confidences it declares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp, softmax

from silentscope.audit.auditset import AuditSet
from silentscope.audit.roles import analysable_columns, roles_of
from silentscope.subgroups.attributes import Skipped

#: Above this many classes, per-class probabilities are left out (the summaries remain).
MAX_CLASSES_PER_CLASS_FEATURES = 32

#: A categorical metadata column with more levels is skipped (boosting handles up to 255).
MAX_CATEGORY_LEVELS = 100

# Rows per block when reading (possibly memory-mapped) MC logits.
_BLOCK = 20_000


def _entropy(probabilities: np.ndarray) -> np.ndarray:
    return -np.sum(probabilities * np.log(np.clip(probabilities, 1e-12, None)), axis=-1)


def output_features(audit: AuditSet, *, confidences: bool = True) -> pd.DataFrame:
    """Per-sample features computed from the classifier's outputs; no fitting involved.

    Columns: ``msr`` (maximum softmax response), ``margin`` (top-1 minus top-2
    probability), ``entropy`` (predictive entropy), ``max_logit``, ``logit_margin``,
    ``energy`` (log-sum-exp of the logits; these three only when the AuditSet holds logits,
    not imported probabilities, see :attr:`AuditSet.outputs`), and up to
    :data:`MAX_CLASSES_PER_CLASS_FEATURES` classes ``prob.<class>`` per class and
    ``predicted`` (the predicted class, categorical). With MC logits: ``mc.msr``, ``mc.entropy``,
    ``mc.expected_entropy``, ``mc.mutual_information``, ``mc.std`` (spread of the
    predicted class's probability) and ``mc.agreement`` (share of passes that agree with
    the mean prediction). With ``confidences``: ``conf.<name>`` per external confidence.

    Parameters
    ----------
    audit : AuditSet
    confidences : bool, default True
        Include the AuditSet's external confidences.

    Returns
    -------
    DataFrame with one row per sample.

    Examples
    --------
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[2.0, 0.0], [0.0, 0.0]]), class_names=["no", "yes"])
    >>> features = output_features(audit)
    >>> features[["msr", "margin"]].round(3).values.tolist()
    [[0.881, 0.762], [0.5, 0.0]]
    >>> features["predicted"].tolist()
    ['no', 'no']
    """
    logits = np.asarray(audit.logits, dtype=np.float64)
    probabilities = audit.probabilities
    top = np.sort(probabilities, axis=1)
    top_logits = np.sort(logits, axis=1)
    columns: dict[str, np.ndarray | pd.Categorical] = {
        "msr": top[:, -1],
        "margin": top[:, -1] - top[:, -2],
        "entropy": _entropy(probabilities),
    }
    if audit.outputs == "logits":
        # On imported probabilities the "logits" are log p: the energy is 0 for every
        # sample and the maximum is log MSR, so these would be a constant and relabelled
        # copies of msr/margin listed (and ranked in importances) under logit names.
        columns["max_logit"] = top_logits[:, -1]
        columns["logit_margin"] = top_logits[:, -1] - top_logits[:, -2]
        columns["energy"] = logsumexp(logits, axis=1)
    if audit.n_classes <= MAX_CLASSES_PER_CLASS_FEATURES:
        for c, name in enumerate(audit.class_names):
            columns[f"prob.{name}"] = probabilities[:, c]
        columns["predicted"] = pd.Categorical.from_codes(
            audit.predictions, categories=list(audit.class_names)
        )
    if audit.mc_logits is not None:
        columns.update(_mc_features(audit))
    if confidences:
        for name, values in audit.confidences.items():
            columns[f"conf.{name}"] = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(columns)


def _mc_features(audit: AuditSet) -> dict[str, np.ndarray]:
    n = audit.n_samples
    out = {
        name: np.empty(n)
        for name in ("msr", "entropy", "expected_entropy", "mutual_information", "std", "agreement")
    }
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        passes = softmax(
            np.asarray(audit.mc_logits[start:stop], dtype=np.float64), axis=1
        )  # (n, C, M)
        mean = passes.mean(axis=2)
        predicted = mean.argmax(axis=1)
        entropy = _entropy(mean)
        expected = _entropy(np.moveaxis(passes, 2, 1)).mean(axis=1)
        rows = np.arange(stop - start)
        out["msr"][start:stop] = mean[rows, predicted]
        out["entropy"][start:stop] = entropy
        out["expected_entropy"][start:stop] = expected
        out["mutual_information"][start:stop] = entropy - expected
        out["std"][start:stop] = passes[rows, predicted, :].std(axis=1)
        out["agreement"][start:stop] = (passes.argmax(axis=1) == predicted[:, None]).mean(axis=1)
    return {f"mc.{name}": values for name, values in out.items()}


def metadata_features(
    audit: AuditSet, columns: Sequence[str] | None, *, keep_label_derived: bool = False
) -> tuple[pd.DataFrame, list[Skipped]]:
    """Metadata columns as predictor features (``meta.<column>``), with what was skipped.

    Numeric columns stay numeric (missing values stay NaN, which the models handle);
    other columns become categorical. A column with no values, or a single value, is
    skipped with its reason, and so is one whose role is not analysable
    (:mod:`silentscope.audit.roles`: an identifier, row index or file name, or a
    label-derived column unless ``keep_label_derived``).

    Raises
    ------
    ValueError
        If a column is not in the metadata, or columns are requested without metadata.

    Examples
    --------
    >>> import pandas as pd
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  metadata=pd.DataFrame({"age": [40, 70], "site": ["x", "x"]}))
    >>> frame, skipped = metadata_features(audit, ["age", "site"])
    >>> list(frame.columns), skipped[0].reason
    (['meta.age'], "has a single value ('x'); it cannot tell samples apart")
    """
    if not columns:
        return pd.DataFrame(index=range(audit.n_samples)), []
    columns = [columns] if isinstance(columns, str) else list(columns)
    if audit.metadata is None:
        raise ValueError(
            "metadata features were requested but this AuditSet has no metadata; add it at import"
        )
    unknown = [c for c in columns if c not in audit.metadata.columns]
    if unknown:
        raise ValueError(
            f"metadata column(s) {unknown} not found; available: {', '.join(audit.metadata.columns)}"
        )
    columns, left_out = analysable_columns(
        roles_of(audit), columns, keep_label_derived=keep_label_derived
    )
    out, skipped = {}, [Skipped(f"feature {name}", why) for name, why in left_out]
    for name in columns:
        column = audit.metadata[name]
        present = column.dropna()
        if present.empty:
            skipped.append(Skipped(f"feature {name}", "all values are missing"))
            continue
        if present.nunique() == 1:
            skipped.append(
                Skipped(
                    f"feature {name}",
                    f"has a single value ({present.iloc[0]!r}); it cannot tell samples apart",
                )
            )
            continue
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            out[f"meta.{name}"] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        elif present.nunique() > MAX_CATEGORY_LEVELS:
            reason = (
                f"has {present.nunique()} distinct values (more than {MAX_CATEGORY_LEVELS}); an id "
                "is a cluster (cluster=...), not a feature: group its values first"
            )
            skipped.append(Skipped(f"feature {name}", reason))
        else:
            out[f"meta.{name}"] = pd.Categorical(
                column.astype("string").to_numpy(dtype=object, na_value=None)
            )
    return pd.DataFrame(out), skipped


def build_features(
    audit: AuditSet,
    metadata: Sequence[str] | None = None,
    *,
    confidences: bool = True,
    keep_label_derived: bool = False,
) -> tuple[pd.DataFrame, list[Skipped]]:
    """Output features plus metadata features, side by side."""
    meta, skipped = metadata_features(audit, metadata, keep_label_derived=keep_label_derived)
    return pd.concat([output_features(audit, confidences=confidences), meta], axis=1), skipped
