"""The confidence scoring function (CSF) interface and the registry every CSF joins.

A CSF maps an :class:`~silentscope.audit.AuditSet` to one confidence per sample, with
*higher = more confident* for every CSF: uncertainty measures (entropy, distances,
variances) are negated inside the CSF, so no caller ever needs a sign table.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from silentscope.audit import AuditSet

#: Inputs a CSF may require, named as in :meth:`AuditSet.has` (``logits`` is always present).
#: ``true_logits``: the classifier's own logits, not the logarithms of imported probabilities
#: (see :attr:`AuditSet.outputs`); a CSF that is constant or a relabelled MSR on log-probabilities
#: (the maximum logit, the energy) requires it.
CSF_INPUTS = ("logits", "true_logits", "mc_logits", "features", "train_features", "validation")

#: How to obtain each input, appended to the reason a CSF is unavailable.
INPUT_HINTS = {
    "mc_logits": "run inference with MC dropout (M stochastic forward passes) to add it",
    "features": "save the penultimate-layer features at inference to add them",
    "train_features": "pass train_features and train_labels (penultimate features of the training set)",
    "validation": "add the validation split as test set 'val'",
}

#: Why a CSF that requires ``true_logits`` is unavailable on imported probabilities.
NO_TRUE_LOGITS = (
    "{name} needs the classifier's logits, but this AuditSet was imported from probabilities, "
    "whose logarithms are not logits (their energy is 0 for every sample and their maximum is "
    "the log of MSR); import the logits instead (logit_<class> columns, or arrays without "
    "--probabilities)"
)

#: The same for a deep ensemble, whose stored logits are its log mean-softmax.
NO_ENSEMBLE_LOGITS = (
    "{name} needs a classifier's logits, but a deep ensemble's stored logits are the logarithm "
    "of its members' mean probabilities (its energy is 0 for every sample and its maximum is "
    "the log of MSR); read {name} of each member in the member runs"
)

_REGISTRY: dict[str, type[ConfidenceScorer]] = {}


class CSFUnavailableError(ValueError):
    """A CSF's inputs are present but cannot be used (too few samples, wrong layer, ...)."""


class ConfidenceScorer(BaseEstimator):
    """Base class of every confidence scoring function.

    Subclasses set the class attributes below, implement :meth:`score` and, if
    ``fitted`` is true, :meth:`fit` (which may only use the validation split or the
    training features, never the evaluation test sets). Hyper-parameters are constructor
    arguments, as in scikit-learn; fitted state ends in ``_``.

    Attributes
    ----------
    name : str
        Registry name, matched exactly by :func:`~silentscope.confidence.get_csf`.
    display_name : str
        Human-readable name for tables and reports.
    requires : tuple of str
        Inputs needed, a subset of :data:`CSF_INPUTS`.
    higher_is_better : bool
        Always ``True``: the output is a confidence, not an uncertainty.
    probability_valued : bool
        Whether the value is a probability of being correct, in [0, 1] (MSR, TS-MSR, MCD-MSR).
        Only such CSFs get calibration metrics (ECE); for the others they mean nothing.
    fitted : bool
        Whether :meth:`fit` learns state from the validation split or training features.
    """

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ("logits",)
    higher_is_better: ClassVar[bool] = True
    fitted: ClassVar[bool] = False
    probability_valued: ClassVar[bool] = False

    def missing_inputs(self, audit: AuditSet) -> list[str]:
        """The required inputs that ``audit`` lacks, in declaration order."""
        return [name for name in self.requires if name != "logits" and not _has(audit, name)]

    def unavailable_reason(self, audit: AuditSet) -> str | None:
        """``None`` if ``audit`` has every input this CSF needs, else one sentence saying which not."""
        missing = self.missing_inputs(audit)
        if "true_logits" in missing:
            ensemble = "ensemble" in audit.provenance
            return (NO_ENSEMBLE_LOGITS if ensemble else NO_TRUE_LOGITS).format(name=self.name)
        if not missing:
            return None
        hints = "; ".join(INPUT_HINTS[name] for name in missing if name in INPUT_HINTS)
        return f"{self.name} needs {' and '.join(missing)}, which this AuditSet does not have" + (
            f" ({hints})" if hints else ""
        )

    def check_inputs(self, audit: AuditSet) -> None:
        """Raise :class:`CSFUnavailableError` with the reason if an input is missing."""
        reason = self.unavailable_reason(audit)
        if reason is not None:
            raise CSFUnavailableError(reason)

    def fit(self, audit: AuditSet) -> ConfidenceScorer:
        """Learn nothing: stateless CSFs only check their inputs. Returns ``self``."""
        self.check_inputs(audit)
        return self

    def score(self, audit: AuditSet) -> np.ndarray:
        """Confidence per sample of ``audit``, float64 of shape (N,), higher = more confident."""
        raise NotImplementedError

    def fit_score(self, audit: AuditSet) -> np.ndarray:
        """``fit(audit)`` then ``score(audit)``."""
        return self.fit(audit).score(audit)

    def _check_fitted(self, *attributes: str) -> None:
        if not all(hasattr(self, attribute) for attribute in attributes):
            raise NotFittedError(
                f"{self.name} is not fitted yet; call fit(audit) before score(audit)"
            )


def _has(audit: AuditSet, name: str) -> bool:
    if name == "true_logits":
        return audit.outputs == "logits"
    return audit.has(name)


def register_csf(cls: type[ConfidenceScorer]) -> type[ConfidenceScorer]:
    """Class decorator adding a CSF to the registry under its exact ``name``."""
    if not cls.name or not cls.display_name or not cls.__doc__:
        raise TypeError(f"{cls.__name__} must define name, display_name and a docstring")
    unknown = set(cls.requires) - set(CSF_INPUTS)
    if unknown:
        raise TypeError(
            f"{cls.__name__} requires unknown inputs {sorted(unknown)}; use {CSF_INPUTS}"
        )
    if not cls.higher_is_better:
        raise TypeError(
            f"{cls.__name__} must output higher = more confident; negate it inside score"
        )
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a CSF named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def as_float64_rows(array, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a (possibly memory-mapped) array as float64."""
    return np.asarray(array[start:stop], dtype=np.float64)


def row_chunks(n_rows: int, values_per_row: int, budget: int = 4_000_000):
    """Row ranges whose blocks hold at most ``budget`` values, to bound memory on large inputs."""
    step = max(1, budget // max(1, values_per_row))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)
