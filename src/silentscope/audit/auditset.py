"""The AuditSet: the one data contract between inference and every analysis.

An AuditSet holds, per sample, what a classifier produced on every test set (logits,
optional MC-dropout logits, penultimate features, external confidences) together with
what is known of the sample (label, metadata, report text, image reference). Everything
after the AuditSet is model-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from silentscope.audit.columns import (
    CONFIDENCE_PREFIX,
    METADATA_PREFIX,
    OUTCOME_PREFIX,
    RISK_COLUMN,
)
from silentscope.audit.test_sets import (
    IID,
    UNKNOWN_LABEL,
    VALIDATION,
    is_valid_test_set,
    parse_test_set,
    test_set_sort_key,
)
from silentscope.audit.validation import (
    AuditSetError,
    check_finite,
    check_labels,
    check_length,
    check_unique_ids,
    first_rows,
    reject_probabilities_as_logits,
)

#: Names of the optional inputs an analysis may require (see :meth:`AuditSet.has`).
OPTIONAL_INPUTS = (
    "mc_logits",
    "features",
    "train_features",
    "validation",
    "metadata",
    "text",
    "image_ref",
    "shift_params",
    "risk",
)


def _as_str_array(values, field_name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise AuditSetError(f"{field_name} must be 1-D, got shape {array.shape}")
    missing = pd.isna(array)
    if missing.any():
        raise AuditSetError(
            f"{field_name} is missing at rows {first_rows(missing)}; every sample needs one"
        )
    return array.astype(str)


@dataclass(eq=False)
class AuditSet:
    """Per-sample model outputs and sample facts for every test set, validated on construction.

    Parameters
    ----------
    sample_id : array of str, shape (N,)
        Unique sample identifiers.
    test_set : array of str, shape (N,)
        Test-set name per sample (``val``, ``iid``, ``cor/<name>/<severity>``, ``acq/<v>``,
        ``man/<v>``, ``sub/<attr>=<v>``, ``prev/<v>``, ``ood/<v>``).
    label : array of int, shape (N,)
        True class index per sample; :data:`UNKNOWN_LABEL` (-1) for a new-class sample,
        allowed only on ``ood/`` test sets (its own dataset's label may be kept in metadata).
        Such a sample is always a failure (``correct`` is False).
    logits : array of float, shape (N, C)
        Classifier logits. Probabilities can be passed as log-probabilities; probabilities
        themselves (every row in [0, 1], summing to 1) are refused: a softmax over them would
        flatten every confidence.
    class_names : sequence of str, length C
    mc_logits : array of float, shape (N, C, M), optional
        Logits of M stochastic (MC-dropout) forward passes.
    features : array of float, shape (N, D), optional
        Penultimate-layer features.
    train_features, train_labels : arrays, shapes (N_train, D) and (N_train,), optional
        Training-set features for feature-based CSFs (Mahalanobis, ViM, kNN).
    confidences : mapping of str to array, shape (N,), optional
        External confidences (e.g. ConfidNet, DeepGamblers), higher = more confident.
    mc_confidences : mapping of str to array, shape (N, M), optional
        External confidences of M stochastic (MC-dropout) forward passes, higher = more
        confident, keyed like ``confidences`` (FD-Shifts' ``external_confids_dist.npz``);
        the CSF ``mcd-ext:<key>`` scores their mean over M. A key may exist here without a
        deterministic counterpart in ``confidences``, and vice versa.
    metadata : DataFrame with N rows, optional
        Clinical and acquisition attributes (age, sex, site, ...).
    text : array of str, shape (N,), optional
        Report text per sample; missing reports are empty strings.
    image_ref : array of str, shape (N,), optional
        Image reference per sample: a file path, or ``<array file>#<index>``.
    shift_params : array of str, shape (N,), optional
        JSON of the shift parameters applied to each sample (corruption, severity, seed).
    risk : array of float, shape (N,), optional
        A continuous per-sample risk in [0, 1] (0 = perfect), e.g. ``1 - Dice`` of a
        segmented volume. When present, ``evaluate`` ranks the CSFs against it (AURC,
        AUGRC and their excess forms on continuous risk, with bootstrap CIs) instead of
        0/1 correctness, and :attr:`correct` is ``risk == 0``. ``provenance["risk"]``
        says what it measures. NaN or values outside [0, 1] are refused.
    outcomes : mapping of str to array, shape (N,), optional
        Per-sample measures of the model's result that are neither inputs nor
        confidences (e.g. ``dice_GM``, the Dice of one class), for tables and reports.
        NaN marks an undefined value (a class absent from truth and prediction);
        infinite values are refused. Never used as an explanatory attribute.
    provenance : dict, optional
        Model, data, seed, shift suite: anything needed to reproduce the audit.
    metadata_roles : mapping of column to role, optional
        What the source knows of metadata columns (``{"patient_id": "identifier"}``); every
        other column's role is inferred (:mod:`silentscope.audit.roles`). After
        construction: a :class:`~silentscope.audit.roles.ColumnRole` per column, recorded
        in the store so that every analysis uses the same columns.
    store_check : dict, optional
        How the store this AuditSet was loaded from was checked, set by
        :func:`~silentscope.audit.store.load_audit` (never saved): ``hashes_verified``
        (False when the content hashes were skipped for a trusted store) and ``unrecorded``
        (what an old store records no hash for). Analyses record it beside their results.

    Examples
    --------
    >>> import numpy as np
    >>> audit = AuditSet(
    ...     sample_id=["a", "b", "c"], test_set=["iid", "iid", "cor/gaussian_noise/2"],
    ...     label=[0, 1, 1], logits=np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
    ...     class_names=["normal", "pneumonia"])
    >>> audit.correct.tolist()
    [True, True, False]
    >>> audit.test_sets
    ('iid', 'cor/gaussian_noise/2')
    """

    sample_id: np.ndarray
    test_set: np.ndarray
    label: np.ndarray
    logits: np.ndarray
    class_names: tuple[str, ...]
    mc_logits: np.ndarray | None = None
    features: np.ndarray | None = None
    train_features: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    confidences: dict[str, np.ndarray] = field(default_factory=dict)
    mc_confidences: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: pd.DataFrame | None = None
    text: np.ndarray | None = None
    image_ref: np.ndarray | None = None
    shift_params: np.ndarray | None = None
    risk: np.ndarray | None = None
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metadata_roles: dict[str, Any] | None = None
    store_check: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.sample_id = _as_str_array(self.sample_id, "sample_id")
        self.test_set = _as_str_array(self.test_set, "test_set")
        n = len(self.sample_id)
        if n == 0:
            raise AuditSetError("the AuditSet is empty; it needs at least one sample")
        check_length("test_set", self.test_set, n)
        self.class_names = tuple(str(c) for c in self.class_names)
        if len(set(self.class_names)) != len(self.class_names):
            raise AuditSetError(f"class_names must be unique, got {list(self.class_names)}")
        self._validate_outputs(n)
        self._validate_sample_facts(n)
        self._validate_risk(n)
        self._validate_test_sets()
        check_unique_ids(self.sample_id)
        self.provenance = dict(self.provenance)
        self._resolve_roles()

    def _resolve_roles(self) -> None:
        from silentscope.audit.roles import resolve_roles

        try:
            self.metadata_roles = resolve_roles(
                self.metadata, self.metadata_roles, label=self.label, test_set=self.test_set
            )
        except ValueError as error:
            raise AuditSetError(str(error)) from None

    def _validate_outputs(self, n: int) -> None:
        self.logits = (
            np.asarray(self.logits) if not isinstance(self.logits, np.memmap) else self.logits
        )
        if self.logits.ndim != 2:
            raise AuditSetError(
                f"logits must be 2-D (samples x classes), got shape {self.logits.shape}"
            )
        check_length("logits", self.logits, n)
        c = len(self.class_names)
        if self.logits.shape[1] != c:
            raise AuditSetError(
                f"logits has {self.logits.shape[1]} columns but there are {c} class_names; "
                "pass one name per output class"
            )
        if c < 2:
            raise AuditSetError(
                "a classifier needs at least 2 classes; got class_names of length 1"
            )
        check_finite("logits", self.logits)
        # every path into an audit crosses here: probabilities taken for logits would go
        # through a second softmax and flatten every confidence, silently
        reject_probabilities_as_logits(
            self.logits, "logits",
            "pass the network's logits (without its final softmax), or log-probabilities "
            "(np.log of the probabilities)",
        )  # fmt: skip
        self.label = np.asarray(self.label)
        check_length("label", self.label, n)
        check_labels(self.label, c, unknown_allowed=self.ood_mask)
        if self.mc_logits is not None:
            if self.mc_logits.ndim != 3 or self.mc_logits.shape[:2] != self.logits.shape:
                raise AuditSetError(
                    f"mc_logits must have shape (N, C, M) = ({n}, {c}, M), got {self.mc_logits.shape}"
                )
            check_finite("mc_logits", self.mc_logits)
        if self.features is not None:
            if self.features.ndim != 2:
                raise AuditSetError(
                    f"features must be 2-D (samples x dims), got shape {self.features.shape}"
                )
            check_length("features", self.features, n)
            check_finite("features", self.features)
        self._validate_training_features()
        confidences = {}
        for name, values in dict(self.confidences).items():
            values = np.asarray(values)
            if values.ndim != 1:
                raise AuditSetError(f"confidence {name!r} must be 1-D, got shape {values.shape}")
            check_length(f"confidence {name!r}", values, n)
            check_finite(f"confidence {name!r}", values)
            confidences[str(name)] = values
        self.confidences = confidences
        self._validate_mc_confidences(n)

    def _validate_mc_confidences(self, n: int) -> None:
        mc_confidences = {}
        for name, values in dict(self.mc_confidences).items():
            if not isinstance(values, np.memmap):
                values = np.asarray(values)
            if values.ndim != 2 or values.shape[1] < 1:
                raise AuditSetError(
                    f"mc_confidences {name!r} must have shape (N, M) = ({n}, M) with M >= 1 "
                    f"passes, got {values.shape}; store one column per stochastic pass"
                )
            check_length(f"mc_confidences {name!r}", values, n)
            check_finite(f"mc_confidences {name!r}", values)
            mc_confidences[str(name)] = values
        self.mc_confidences = mc_confidences

    def _validate_training_features(self) -> None:
        if (self.train_features is None) != (self.train_labels is None):
            raise AuditSetError("train_features and train_labels must be given together")
        if self.train_features is None:
            return
        self.train_labels = np.asarray(self.train_labels)
        if self.train_features.ndim != 2 or len(self.train_features) != len(self.train_labels):
            raise AuditSetError(
                f"train_features {self.train_features.shape} and train_labels "
                f"{self.train_labels.shape} must be (N_train, D) and (N_train,)"
            )
        if self.features is not None and self.train_features.shape[1] != self.features.shape[1]:
            raise AuditSetError(
                f"train_features has {self.train_features.shape[1]} dims but features has "
                f"{self.features.shape[1]}; both must come from the same layer"
            )
        check_finite("train_features", self.train_features)
        check_labels(self.train_labels, len(self.class_names))

    def _validate_sample_facts(self, n: int) -> None:
        if self.metadata is not None:
            if not isinstance(self.metadata, pd.DataFrame):
                self.metadata = pd.DataFrame(self.metadata)
            check_length("metadata", self.metadata, n)
            self.metadata = self.metadata.reset_index(drop=True)
            self.metadata.columns = [str(c) for c in self.metadata.columns]
        for name in ("text", "image_ref", "shift_params"):
            values = getattr(self, name)
            if values is None:
                continue
            array = np.asarray(values, dtype=object)
            check_length(name, array, n)
            if name == "text":
                array = np.where(pd.isna(array), "", array)
            elif pd.isna(array).any():
                raise AuditSetError(f"{name} is missing at rows {first_rows(pd.isna(array))}")
            setattr(self, name, array.astype(str))

    def _validate_risk(self, n: int) -> None:
        if self.risk is not None:
            risk = np.asarray(self.risk)
            if risk.ndim != 1:
                raise AuditSetError(
                    f"risk must be 1-D (one value per sample), got shape {risk.shape}"
                )
            check_length("risk", risk, n)
            check_finite("risk", risk)
            outside = (risk < 0) | (risk > 1)
            if outside.any():
                raise AuditSetError(
                    f"risk must lie in [0, 1] but is {float(risk[outside][0])!r} at rows {first_rows(outside)}; "
                    "rescale it first (e.g. 1 - Dice)"
                )
            self.risk = risk.astype(np.float64)
        outcomes = {}
        for name, values in dict(self.outcomes).items():
            values = np.asarray(values)
            if values.ndim != 1:
                raise AuditSetError(f"outcome {name!r} must be 1-D, got shape {values.shape}")
            check_length(f"outcome {name!r}", values, n)
            if not np.issubdtype(values.dtype, np.number) or np.isinf(values).any():
                raise AuditSetError(
                    f"outcome {name!r} must be numeric without infinite values (NaN marks an "
                    f"undefined value), got dtype {values.dtype}"
                )
            outcomes[str(name)] = values.astype(np.float64)
        self.outcomes = outcomes

    def _validate_test_sets(self) -> None:
        names = self.test_sets
        bad = [name for name in names if not is_valid_test_set(name)]
        if bad:
            rows = first_rows(np.isin(self.test_set, bad))
            try:
                parse_test_set(bad[0])
            except ValueError as error:  # re-raised with the rows, keeping the naming convention
                raise AuditSetError(f"test_set at rows {rows}: {error}") from None

    # ------------------------------------------------------------------ derived values
    @property
    def n_samples(self) -> int:
        return len(self.sample_id)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def test_sets(self) -> tuple[str, ...]:
        """Test-set names in canonical order: ``val``, ``iid``, then shifts by kind and name."""
        return tuple(
            sorted((str(name) for name in np.unique(self.test_set)), key=test_set_sort_key)
        )

    @property
    def ood_mask(self) -> np.ndarray:
        """Rows of new-class (``ood/``) test sets, whose labels may be unknown to the classifier."""
        ood = [name for name in self.test_sets if name.startswith("ood/")]
        if not ood:
            return np.zeros(len(self.test_set), dtype=bool)
        return np.isin(self.test_set, ood)

    @cached_property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits, shape (N, C)."""
        return softmax(self.logits)

    @cached_property
    def predictions(self) -> np.ndarray:
        """Predicted class per sample (arg-max of the logits)."""
        return np.asarray(np.argmax(self.logits, axis=1))

    @cached_property
    def correct(self) -> np.ndarray:
        """Whether each prediction is right (bool, shape (N,)).

        With a continuous :attr:`risk`, a sample is correct only when its risk is 0 (the
        metrics' convention); threshold the risk explicitly for a binary notion of failure.
        """
        if self.risk is not None:
            return self.risk == 0
        return self.predictions == self.label

    @property
    def task(self) -> str:
        """``"segmentation"`` when ``provenance["task"]`` says so, else ``"classification"``."""
        return "segmentation" if self.provenance.get("task") == "segmentation" else "classification"

    @property
    def outputs(self) -> str:
        """What the classifier gave: ``"logits"``, or ``"probabilities"`` (``logits`` are then their logs).

        Read from ``provenance["outputs"]``, which the importers record; AuditSets made by
        inference hold the network's logits. Stores written before that key existed are
        recognised by the importers' ``provenance["logits"]`` description.

        Examples
        --------
        >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
        ...                  logits=np.log([[0.9, 0.1], [0.4, 0.6]]), class_names=["no", "yes"],
        ...                  provenance={"outputs": "probabilities"})
        >>> audit.outputs
        'probabilities'
        """
        recorded = self.provenance.get("outputs")
        if recorded in ("logits", "probabilities"):
            return recorded
        described = str(self.provenance.get("logits", ""))
        return "probabilities" if "probabilit" in described else "logits"

    @property
    def has_validation(self) -> bool:
        return VALIDATION in self.test_sets

    def has(self, name: str) -> bool:
        """Whether an optional input is present: one of :data:`OPTIONAL_INPUTS`."""
        if name not in OPTIONAL_INPUTS:
            raise ValueError(f"unknown input {name!r}; choose from {', '.join(OPTIONAL_INPUTS)}")
        if name == "validation":
            return self.has_validation
        if name == "metadata":
            return self.metadata is not None and self.metadata.shape[1] > 0
        return getattr(self, name) is not None

    def available_inputs(self) -> set[str]:
        """Names of the optional inputs present (plus ``logits``, always present)."""
        return {"logits"} | {name for name in OPTIONAL_INPUTS if self.has(name)}

    # ------------------------------------------------------------------ selection
    def subset(self, rows) -> AuditSet:
        """A new AuditSet with the given rows (boolean mask or integer indices)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if len(rows) != self.n_samples:
                raise ValueError(f"mask has {len(rows)} entries for {self.n_samples} samples")
            rows = np.flatnonzero(rows)
        if len(rows) == 0:
            raise ValueError("the selection is empty; an AuditSet needs at least one sample")

        def take(values):
            return None if values is None else np.asarray(values[rows])

        return replace(
            self,
            sample_id=self.sample_id[rows],
            test_set=self.test_set[rows],
            label=self.label[rows],
            logits=np.asarray(self.logits[rows]),
            mc_logits=take(self.mc_logits),
            features=take(self.features),
            confidences={k: v[rows] for k, v in self.confidences.items()},
            mc_confidences={k: np.asarray(v[rows]) for k, v in self.mc_confidences.items()},
            metadata=None
            if self.metadata is None
            else self.metadata.iloc[rows].reset_index(drop=True),
            text=take(self.text),
            image_ref=take(self.image_ref),
            shift_params=take(self.shift_params),
            risk=take(self.risk),
            outcomes={k: v[rows] for k, v in self.outcomes.items()},
        )

    def select(self, *test_sets: str) -> AuditSet:
        """The samples of the named test sets.

        Raises a ValueError listing the available names if one is absent.
        """
        missing = [name for name in test_sets if name not in self.test_sets]
        if missing:
            raise ValueError(
                f"test set(s) {missing} not in this AuditSet; available: {', '.join(self.test_sets)}"
            )
        return self.subset(np.isin(self.test_set, list(test_sets)))

    def validation(self) -> AuditSet:
        """The validation split; a clear error if the AuditSet has none."""
        if not self.has_validation:
            raise AuditSetError(
                "this AuditSet has no validation split (test_set 'val'); add validation "
                "predictions to use fitted CSFs, calibration or thresholds"
            )
        return self.select(VALIDATION)

    def evaluation_sets(self) -> tuple[str, ...]:
        """Test sets to evaluate on: every test set except the validation split."""
        return tuple(name for name in self.test_sets if name != VALIDATION)

    def with_metadata_roles(self, roles: Mapping[str, str]) -> AuditSet:
        """A copy in which the named metadata columns have the given roles (declared).

        Examples
        --------
        >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
        ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
        ...                  metadata=pd.DataFrame({"code": ["x", "y"]}))
        >>> audit.with_metadata_roles({"code": "identifier"}).metadata_roles["code"].role
        'identifier'
        """
        return replace(self, metadata_roles={**(self.metadata_roles or {}), **dict(roles)})

    def with_confidence(self, name: str, values) -> AuditSet:
        """A copy with one more external confidence (higher = more confident)."""
        return replace(self, confidences={**self.confidences, name: np.asarray(values)})

    def per_sample_frame(self) -> pd.DataFrame:
        """The small per-sample columns as one DataFrame (no logits or features)."""
        frame = pd.DataFrame(
            {
                "sample_id": self.sample_id,
                "test_set": self.test_set,
                "label": self.label,
                "prediction": self.predictions,
                "correct": self.correct,
            }
        )
        for name, values in self.confidences.items():
            frame[f"{CONFIDENCE_PREFIX}{name}"] = values
        if self.risk is not None:
            frame[RISK_COLUMN] = self.risk
        for name, values in self.outcomes.items():
            frame[f"{OUTCOME_PREFIX}{name}"] = values
        for name in ("text", "image_ref", "shift_params"):
            if getattr(self, name) is not None:
                frame[name] = getattr(self, name)
        if self.metadata is not None:
            for column in self.metadata.columns:
                frame[f"{METADATA_PREFIX}{column}"] = self.metadata[column].to_numpy()
        return frame

    def summary(self) -> pd.DataFrame:
        """Samples, accuracy and class counts per test set."""
        rows = []
        for name in self.test_sets:
            mask = self.test_set == name
            rows.append(
                {
                    "test_set": name,
                    "kind": parse_test_set(name).kind,
                    "n": int(mask.sum()),
                    "accuracy": float(self.correct[mask].mean()),
                    "errors": int((~self.correct[mask]).sum()),
                    **({} if self.risk is None else {"mean_risk": float(self.risk[mask].mean())}),
                }
            )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        extras = sorted(self.available_inputs() - {"logits"})
        return (
            f"AuditSet(n_samples={self.n_samples}, n_classes={self.n_classes}, "
            f"test_sets={list(self.test_sets)}, inputs={extras}, "
            f"confidences={sorted(self.confidences)})"
        )


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def require(audit: AuditSet, inputs: Mapping[str, str] | tuple[str, ...], analysis: str) -> None:
    """Raise one clear error if ``audit`` lacks an input that ``analysis`` needs."""
    missing = [name for name in inputs if name != "logits" and not audit.has(name)]
    if missing:
        raise AuditSetError(
            f"{analysis} needs {', '.join(missing)}, which this AuditSet does not have; "
            "add it at import or inference time"
        )


__all__ = [
    "AuditSet",
    "AuditSetError",
    "IID",
    "UNKNOWN_LABEL",
    "VALIDATION",
    "OPTIONAL_INPUTS",
    "softmax",
    "require",
]
