"""Look up CSFs by exact name, and compute every available one for an AuditSet."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from silentscope._suggest import unknown_name
from silentscope.audit import AuditSet

# The CSF modules register their classes on import; this tuple fixes the display order:
# families in this order, CSFs within a family in source order, any others after.
from silentscope.confidence import (
    knn,
    mahalanobis,
    mc_dropout,
    react,
    softmax,
    temperature,
    vim,
)
from silentscope.confidence.base import _REGISTRY, ConfidenceScorer, CSFUnavailableError
from silentscope.confidence.external import EXTERNAL_PREFIX, ExternalConfidence
from silentscope.confidence.external_mc import MC_EXTERNAL_CLASSES

_FAMILY_ORDER = tuple(
    module.__name__ for module in (softmax, temperature, mc_dropout, mahalanobis, vim, react, knn)
)


#: Modules of analyses above this package that register CSFs (e.g. the misclassification
#: predictor "MisPred"). Imported on first lookup rather than at import time, so that
#: ``silentscope.confidence`` never imports the analyses built on it.
PLUGIN_MODULES = ("silentscope.predictor.csf",)


def _load_plugins() -> None:
    for module in PLUGIN_MODULES:
        importlib.import_module(module)


def _ordered_registry() -> dict[str, type[ConfidenceScorer]]:
    _load_plugins()
    position = {name: index for index, name in enumerate(_REGISTRY)}

    def key(item):
        name, cls = item
        module = cls.__module__
        family = _FAMILY_ORDER.index(module) if module in _FAMILY_ORDER else len(_FAMILY_ORDER)
        return family, position[name]

    return dict(sorted(_REGISTRY.items(), key=key))


def registered_csfs() -> tuple[str, ...]:
    """Names of every registered CSF, in display order (external ones are per AuditSet).

    Examples
    --------
    >>> registered_csfs()[:4]
    ('MSR', 'MLS', 'PE', 'energy')
    """
    return tuple(_ordered_registry())


def get_csf(name: str, **params) -> ConfidenceScorer:
    """A new, unfitted CSF by its exact registered name (or ``ext:<key>``).

    Parameters
    ----------
    name : str
        A name from :func:`registered_csfs`, or ``ext:<key>`` for ``audit.confidences[key]``.
    **params
        Hyper-parameters passed to the CSF's constructor (e.g. ``k=10`` for ``kNN``).

    Raises
    ------
    ValueError
        If no CSF has exactly this name; the message lists the registered names.

    Examples
    --------
    >>> get_csf("kNN", k=10)
    KNN(k=10)
    >>> get_csf("ext:ConfidNet").key
    'ConfidNet'
    """
    if not isinstance(name, str):
        raise TypeError(f"a CSF name must be a string, got {type(name).__name__}")
    if name.startswith(EXTERNAL_PREFIX) and len(name) > len(EXTERNAL_PREFIX):
        return ExternalConfidence(name[len(EXTERNAL_PREFIX) :], **params)
    for prefix, cls in MC_EXTERNAL_CLASSES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return cls(name[len(prefix) :], **params)
    _load_plugins()
    if name not in _REGISTRY:
        raise ValueError(
            unknown_name("CSF", name, registered_csfs(), "`silentscope csfs` lists them")
            + f" (or {EXTERNAL_PREFIX}<name> for an external confidence, "
            + " / ".join(f"{prefix}<name>" for prefix in MC_EXTERNAL_CLASSES)
            + " for its MC-dropout passes)"
        )
    return _REGISTRY[name](**params)


def available_csfs(audit: AuditSet) -> list[str]:
    """Names of the CSFs whose inputs ``audit`` has, including ``ext:<key>`` per external confidence.

    A feature-based CSF listed here can still turn out unusable when fitted (e.g. fewer
    training features than ``k``); :func:`compute_confidences` reports that reason.

    Examples
    --------
    >>> import numpy as np
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"], confidences={"DG": [1.0, 0.0]})
    >>> available_csfs(audit)
    ['MSR', 'MLS', 'PE', 'energy', 'ext:DG']
    """
    names = [
        name for name, cls in _ordered_registry().items() if cls().unavailable_reason(audit) is None
    ]
    return names + _external_names(audit)


def _external_names(audit: AuditSet) -> list[str]:
    names = [f"{EXTERNAL_PREFIX}{key}" for key in audit.confidences]
    for key in audit.mc_confidences:
        names += [f"{prefix}{key}" for prefix in MC_EXTERNAL_CLASSES]
    return names


def describe_csfs() -> pd.DataFrame:
    """One row per registered CSF: name, display name, required inputs, fitted, probability-valued.

    Examples
    --------
    >>> describe_csfs().set_index("name").loc["TS-MSR", "requires"]
    'logits, validation'
    """
    rows = [
        {
            "name": name,
            "display_name": cls.display_name,
            "requires": ", ".join(cls.requires),
            "fitted": cls.fitted,
            "higher_is_better": cls.higher_is_better,
            "probability_valued": cls.probability_valued,
            "reference": _first_line(cls.__doc__),
        }
        for name, cls in _ordered_registry().items()
    ]
    rows.append(
        {
            "name": f"{EXTERNAL_PREFIX}<name>",
            "display_name": ExternalConfidence.display_name,
            "requires": "confidences[<name>]",
            "fitted": False,
            "higher_is_better": True,
            "probability_valued": ExternalConfidence.probability_valued,
            "reference": _first_line(ExternalConfidence.__doc__),
        }
    )
    for prefix, cls in MC_EXTERNAL_CLASSES.items():
        rows.append(
            {
                "name": f"{prefix}<name>",
                "display_name": cls.display_name,
                "requires": "mc_confidences[<name>]",
                "fitted": False,
                "higher_is_better": True,
                "probability_valued": cls.probability_valued,
                "reference": _first_line(cls.__doc__),
            }
        )
    return pd.DataFrame(rows)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0]


def resolve_csfs(
    audit: AuditSet, csfs: Sequence[str | ConfidenceScorer] | None = None
) -> list[ConfidenceScorer]:
    """The CSF objects to compute: every registered one plus the AuditSet's external ones by default.

    Raises a ValueError for an unknown name or two CSFs with the same name.
    """
    if csfs is None:
        names: list[str | ConfidenceScorer] = list(registered_csfs())
        names += _external_names(audit)
    elif isinstance(csfs, str | ConfidenceScorer):
        names = [csfs]
    else:
        names = list(csfs)
    scorers = [item if isinstance(item, ConfidenceScorer) else get_csf(item) for item in names]
    seen: set[str] = set()
    for scorer in scorers:
        if scorer.name in seen:
            raise ValueError(
                f"CSF {scorer.name!r} is requested twice; each CSF may appear once in one evaluation"
            )
        seen.add(scorer.name)
    return scorers


def fit_score_csfs(
    audit: AuditSet,
    csfs: Sequence[str | ConfidenceScorer] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, ConfidenceScorer]]:
    """Like :func:`compute_confidences`, also returning the fitted CSF objects by name."""
    confidences: dict[str, np.ndarray] = {}
    unavailable: dict[str, str] = {}
    fitted: dict[str, ConfidenceScorer] = {}
    for scorer in resolve_csfs(audit, csfs):
        if on_step is not None:
            on_step(scorer.name)
        reason = scorer.unavailable_reason(audit)
        if reason is not None:
            unavailable[scorer.name] = reason
            continue
        try:
            values = scorer.fit(audit).score(audit)
        except CSFUnavailableError as error:
            unavailable[scorer.name] = str(error)
            continue
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (audit.n_samples,) or not np.isfinite(values).all():
            # A CSF returning the wrong shape or NaN is a bug in that CSF, never a user error.
            raise RuntimeError(
                f"CSF {scorer.name} returned {values.shape} values with "
                f"{int((~np.isfinite(values)).sum())} non-finite; expected ({audit.n_samples},) finite"
            )
        confidences[scorer.name] = values
        fitted[scorer.name] = scorer
    return confidences, unavailable, fitted


def compute_confidences(
    audit: AuditSet, csfs: Sequence[str | ConfidenceScorer] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Fit and score CSFs on ``audit``; report each one that cannot run with its reason.

    Fitted CSFs learn only from the validation split or the training features of
    ``audit``; every CSF then scores every sample (validation rows included).

    Parameters
    ----------
    audit : AuditSet
    csfs : sequence of str or ConfidenceScorer, optional
        CSF names (exact, see :func:`registered_csfs`) or configured CSF objects. Default:
        every registered CSF and every external confidence of ``audit``.

    Returns
    -------
    confidences : dict of str to ndarray of shape (N,)
        Confidence per sample (higher = more confident) for each CSF that ran.
    unavailable : dict of str to str
        For each CSF that could not run, one sentence saying why.

    Examples
    --------
    >>> import numpy as np
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[2.0, 0.0], [1.0, 0.0]]), class_names=["no", "yes"])
    >>> confidences, unavailable = compute_confidences(audit, ["MSR", "MCD-MSR"])
    >>> confidences["MSR"].round(3).tolist()
    [0.881, 0.731]
    >>> unavailable["MCD-MSR"].split(" (")[0]
    'MCD-MSR needs mc_logits, which this AuditSet does not have'
    """
    confidences, unavailable, _ = fit_score_csfs(audit, csfs)
    return confidences, unavailable
