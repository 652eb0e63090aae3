"""The misclassification predictor in the CSF registry, beside MSR and the others."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.confidence import (
    CSFUnavailableError,
    compute_confidences,
    describe_csfs,
    get_csf,
    registered_csfs,
)
from silentscope.predictor import estimate_risk
from silentscope.predictor.csf import MisclassificationPredictorCSF
from tests.support.planted import simulate_audit, synthetic_audit


def test_registered_by_exact_name_with_its_contract():
    assert "MisPred" in registered_csfs()
    csf = get_csf("MisPred", model="logreg", metadata=["risky"])
    assert isinstance(csf, MisclassificationPredictorCSF) and csf.metadata == ["risky"]
    row = describe_csfs().set_index("name").loc["MisPred"]
    assert row["requires"] == "logits, validation" and bool(row["fitted"])
    with pytest.raises(ValueError, match="unknown CSF"):
        get_csf("mispred_v2")


def test_scores_validation_out_of_fold_and_matches_the_risk_estimate():
    audit = synthetic_audit(600)
    csf = get_csf("MisPred", model="logreg", n_splits=3, random_state=0).fit(audit)
    estimate = estimate_risk(audit, model="logreg", n_splits=3, random_state=0)
    np.testing.assert_allclose(csf.score(audit), 1 - estimate.risk)
    assert (csf.estimate_.fold[audit.test_set == "val"] >= 0).all()


def test_appears_in_every_confidence_computation_and_detects_planted_silent_failures(odir_metadata):
    audit = simulate_audit(odir_metadata, 2, n_patients=900)
    confidences, unavailable = compute_confidences(
        audit, ["MSR", get_csf("MisPred", metadata=["age"])]
    )
    assert set(confidences) == {"MSR", "MisPred"} and not unavailable
    iid = audit.test_set == "iid"
    from sklearn.metrics import roc_auc_score

    auroc = {
        name: roc_auc_score(~audit.correct[iid], -values[iid])
        for name, values in confidences.items()
    }
    assert auroc["MisPred"] > auroc["MSR"] + 0.05


def test_unavailable_without_validation_or_with_too_few_errors_says_why():
    _, unavailable = compute_confidences(synthetic_audit(200, n_val=0), ["MisPred"])
    assert unavailable["MisPred"].startswith(
        "MisPred needs validation, which this AuditSet does not have"
    )
    _, unavailable = compute_confidences(synthetic_audit(200, n_val=12), ["MisPred"])
    assert "cannot be trained" in unavailable["MisPred"]
    with pytest.raises(CSFUnavailableError):
        get_csf("MisPred").fit(synthetic_audit(200, n_val=12))
