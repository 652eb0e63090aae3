"""The misclassification predictor as a confidence scoring function, beside MSR and the others."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from silentscope.audit.auditset import AuditSet
from silentscope.confidence.base import ConfidenceScorer, CSFUnavailableError, register_csf
from silentscope.predictor.selection import AUTO, select_model


@register_csf
class MisclassificationPredictorCSF(ConfidenceScorer):
    """Learned misclassification predictor on model outputs (and metadata): 1 - predicted risk.

    A logistic or gradient-boosting model of the classifier's errors, trained on the
    validation split from the classifier's probabilities, confidence scores (MSR, margin,
    entropy, maximum logit, energy), MC-dropout statistics and external confidences, plus
    the metadata columns named in ``metadata`` (Chen et al., "CheXbreak", MLHC 2021).
    The validation samples are scored by cross-fitting, so no sample is ever scored by a
    model that was trained on it. The model is chosen by cross-validated AUROC_f on the
    validation split (:func:`~silentscope.predictor.select_model`); when no model is
    better than chance the CSF is unavailable with that reason, never a column of
    constant scores.

    Parameters
    ----------
    model : {"auto", "hgb", "logreg"}, default "auto"
        ``auto`` compares every model; a named one gets the same check against chance.
    metadata : list of str, optional
        Metadata columns used as clinical features (none by default: metadata may hold
        label-derived columns that would leak).
    n_splits : int, default 5
        Folds of the cross-fitting on the validation split.
    cluster : str, optional
        Metadata column of the patient: folds keep a patient's samples together.
    random_state : int, default 0

    n_bootstrap : int, default 1000
        Resamples of the interval of each model's cross-validated AUROC_f.

    Attributes
    ----------
    selection_ : ModelSelection
        Every candidate's cross-validated AUROC_f and the chosen model.
    estimate_ : RiskEstimate
        The fitted predictors and the out-of-sample risk of the fitting AuditSet.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> logits = np.stack([np.zeros(n), rng.normal(0, 2, n)], axis=1)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=rng.integers(0, 2, n),
    ...                  logits=logits, test_set=np.where(np.arange(n) < 200, "val", "iid"),
    ...                  class_names=["a", "b"])
    >>> label = (logits[:, 1] + rng.normal(0, 1.5, n) > 0).astype(int)  # errors where unsure
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=label,
    ...                  logits=logits, test_set=np.where(np.arange(n) < 200, "val", "iid"),
    ...                  class_names=["a", "b"])
    >>> csf = MisclassificationPredictorCSF(n_bootstrap=200).fit(audit)
    >>> csf.selection_.chosen in ("logreg", "hgb")
    True
    >>> confidence = csf.score(audit)
    >>> confidence.shape, bool(((confidence >= 0) & (confidence <= 1)).all())
    ((400,), True)
    """

    name = "MisPred"
    display_name = "Misclassification predictor"
    requires = ("logits", "validation")
    probability_valued = True  # 1 - the predicted probability of an error
    fitted = True

    def __init__(
        self,
        model: str = AUTO,
        metadata: Sequence[str] | None = None,
        n_splits: int = 5,
        cluster: str | None = None,
        n_bootstrap: int = 1000,
        random_state: int | None = 0,
    ):
        self.model = model
        self.metadata = metadata
        self.n_splits = n_splits
        self.cluster = cluster
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def fit(self, audit: AuditSet) -> MisclassificationPredictorCSF:
        self.check_inputs(audit)
        try:
            selection = select_model(
                audit,
                self.model,
                metadata=self.metadata,
                n_splits=self.n_splits,
                cluster=self.cluster,
                n_bootstrap=self.n_bootstrap,
                random_state=self.random_state,
            )
        except ValueError as error:
            # e.g. a validation split with almost no errors: the CSF is unavailable, not a bug
            raise CSFUnavailableError(f"{self.name} cannot be trained: {error}") from None
        if not selection.available:
            # scores of a predictor no better than chance would rank nothing (or noise)
            raise CSFUnavailableError(f"{self.name} is unavailable: {selection.reason}")
        self.selection_ = selection
        self.estimate_ = selection.estimate
        return self

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("estimate_")
        risk, _ = self.estimate_.score(audit)
        return 1.0 - risk
