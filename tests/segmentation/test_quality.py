"""The learned quality regressor: cross-fitted, unavailable with a reason, never a constant."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.evaluation import evaluate
from silentscope.predictor.quality import (
    QUALITY_CSF,
    QualityRegressor,
    quality_scores,
    with_quality_confidence,
)


def _audit(n_val=30, n_test=20, signal=1.0, seed=0, patients=None):
    rng = np.random.default_rng(seed)
    n = n_val + n_test
    risk = rng.uniform(0.05, 0.7, n)
    confidence = 1 - signal * risk + rng.normal(0, 0.05, n)
    metadata = None if patients is None else pd.DataFrame({"patient_id": patients(n)})
    return AuditSet(
        sample_id=[f"v{i}" for i in range(n)],
        test_set=["val"] * n_val + ["iid"] * n_test,
        label=np.zeros(n, int),
        logits=np.log(np.full((n, 3), 1 / 3)),
        class_names=["background", "GM", "WM"],
        confidences={"msr@mean": confidence, "pe@mean": rng.normal(size=n)},
        risk=risk,
        metadata=metadata,
        provenance={"task": "segmentation"},
    )


def test_learns_the_risk_and_cross_fits_the_validation_volumes():
    audit = _audit()
    estimate = quality_scores(audit)
    assert estimate.available and estimate.cv_spearman > 0.8
    assert estimate.cv_mae < estimate.baseline_mae
    val = audit.test_set == "val"
    # validation volumes are scored out of fold: not what the model fitted on all of them gives
    from silentscope.predictor.quality import quality_features

    X, _ = quality_features(audit)
    in_sample = -QualityRegressor().fit(X[val], audit.risk[val]).predict(X[val])
    assert not np.allclose(estimate.confidence[val], in_sample)
    assert np.corrcoef(estimate.confidence[~val], -audit.risk[~val])[0, 1] > 0.8


def test_too_few_volumes_or_no_signal_is_unavailable_with_a_reason():
    small = quality_scores(_audit(n_val=6))
    assert not small.available and "only 6 validation volumes" in small.reason
    noise = quality_scores(_audit(signal=0.0, seed=3))
    assert noise.confidence is None and "learned nothing" in noise.reason


def test_patients_stay_in_one_fold():
    audit = _audit(patients=lambda n: [f"p{i // 3}" for i in range(n)])
    assert quality_scores(audit).available


def test_evaluate_lists_the_unavailable_regressor_with_its_reason():
    audit = with_quality_confidence(_audit(n_val=6))
    assert QUALITY_CSF not in audit.confidences
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(audit, n_bootstrap=0)
    assert "only 6 validation volumes" in result.unavailable[f"ext:{QUALITY_CSF}"]
    good = with_quality_confidence(_audit())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(good, n_bootstrap=0)
    assert f"ext:{QUALITY_CSF}" in set(result.table["csf"])
    assert good.provenance["quality_regressor"]["available"] is True


@pytest.mark.parametrize("n_val", [0, 9])
def test_never_a_constant(n_val):
    estimate = quality_scores(_audit(n_val=n_val, n_test=12))
    assert estimate.confidence is None and estimate.reason
