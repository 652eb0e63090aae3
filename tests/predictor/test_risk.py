"""Cross-fitted risk: the predictor never scores a sample (or patient) it was trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from silentscope.audit import AuditSet, AuditSetError
from silentscope.predictor import (
    MisclassificationPredictor,
    compare_confidences,
    error_target,
    estimate_risk,
)
from tests.support.planted import simulate_audit, synthetic_audit


def test_every_training_sample_is_scored_by_a_model_that_did_not_see_it():
    audit = synthetic_audit(500)
    estimate = estimate_risk(audit, model="logreg", n_splits=4)
    train_rows = np.flatnonzero(estimate.train_mask)
    assert (estimate.fold[train_rows] >= 0).all() and (
        estimate.fold[~estimate.train_mask] == -1
    ).all()
    for row in train_rows:
        assert row not in estimate.fold_train_index[estimate.fold[row]]
    # each fold model was trained on the other folds of the split only
    for k, rows in enumerate(estimate.fold_train_index):
        assert estimate.train_mask[rows].all() and not (estimate.fold[rows] == k).any()


def test_a_memorisable_feature_does_not_leak_into_the_scores():
    # Errors are pure chance; each sample carries a unique random number the boosting model
    # can memorise. In-sample scores would look predictive, cross-fitted ones must not.
    rng = np.random.default_rng(0)
    n = 500
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.3
    logits = np.zeros((n, 2))
    logits[np.arange(n), np.where(wrong, 1 - label, label)] = 3.0  # constant confidence
    audit = AuditSet(sample_id=np.arange(n).astype(str), test_set=["val"] * n, label=label, logits=logits,
                     class_names=["a", "b"], metadata=pd.DataFrame({"token": rng.random(n)}))  # fmt: skip
    params = {"max_iter": 80, "min_samples_leaf": 2, "max_leaf_nodes": 64, "l2_regularization": 0.0}
    estimate = estimate_risk(audit, metadata=["token"], random_state=0, **params)
    assert abs(roc_auc_score(wrong, estimate.risk) - 0.5) < 0.07
    in_sample = MisclassificationPredictor(random_state=0, **params).fit(
        estimate.features, wrong.astype(int)
    )
    assert (
        roc_auc_score(wrong, in_sample.predict_risk(estimate.features)) > 0.9
    )  # the test has teeth


def test_folds_keep_patients_together_across_test_sets(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, n_patients=500)
    # the same patients' images again in a shifted test set
    val = audit.select("val")
    copy = AuditSet(sample_id=np.char.add("cor_", val.sample_id.astype(str)), test_set=["cor/blur/2"] * val.n_samples,
                    label=val.label, logits=val.logits, class_names=val.class_names, metadata=val.metadata)  # fmt: skip
    both = AuditSet(
        sample_id=np.r_[audit.sample_id, copy.sample_id], test_set=np.r_[audit.test_set, copy.test_set],
        label=np.r_[audit.label, copy.label], logits=np.r_[audit.logits, copy.logits],
        class_names=audit.class_names, metadata=pd.concat([audit.metadata, copy.metadata], ignore_index=True),
    )  # fmt: skip
    estimate = estimate_risk(both, model="logreg", metadata=["age"], cluster="patient_id")
    patients = both.metadata["patient_id"].to_numpy()
    for k, rows in enumerate(estimate.fold_train_index):
        scored_by_k = estimate.fold == k
        assert not set(patients[rows]) & set(patients[scored_by_k])
    corrupted = both.test_set == "cor/blur/2"
    assert (estimate.fold[corrupted] >= 0).all()  # scored by the fold that left the patient out
    assert (estimate.fold[both.test_set == "iid"] == -1).all()


def test_scoring_another_auditset_follows_the_same_rule():
    audit = synthetic_audit(500)
    estimate = estimate_risk(audit, model="logreg", n_splits=3)
    part = audit.subset(np.arange(200, 300))  # 50 validation and 50 iid samples
    risk, fold = estimate.score(part)
    np.testing.assert_allclose(risk, estimate.risk[200:300])
    np.testing.assert_array_equal(fold, estimate.fold[200:300])


def test_learned_predictor_beats_msr_on_confident_failures_of_a_risk_group(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, n_patients=1200)
    estimate = estimate_risk(audit, metadata=["age", "sex", "eye"], cluster="patient_id")
    table = compare_confidences(
        audit, {"MSR": audit.probabilities.max(axis=1), "MisPred": estimate.confidence},
        test_sets=["iid"], n_resamples=300,
    )  # fmt: skip
    mispred = table.set_index(["csf", "metric"])
    assert mispred.loc[("MisPred", "auroc_f"), "delta_low"] > 0
    assert mispred.loc[("MisPred", "aurc"), "delta_high"] < 0


def test_one_vs_rest_target_and_errors():
    audit = AuditSet(sample_id=list("abcd"), test_set=["iid"] * 4, label=[0, 1, 2, 2],
                     logits=np.eye(3)[[1, 1, 0, 2]] * 3, class_names=["x", "y", "z"])  # fmt: skip
    assert error_target(audit).tolist() == [True, False, True, False]
    assert error_target(audit, "y").tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="positive class 'w' is not a class"):
        error_target(audit, "w")


def test_missing_or_too_small_splits_are_explained():
    audit = synthetic_audit(300, n_val=0)
    with pytest.raises(AuditSetError, match="no validation split"):
        estimate_risk(audit)
    assert estimate_risk(
        audit, train_split="iid", model="logreg", n_splits=3
    ).train_mask.all()  # cross-fitted on iid
    with pytest.raises(ValueError, match="training split 'acq/x' not in this AuditSet"):
        estimate_risk(audit, train_split="acq/x")
    with pytest.raises(ValueError, match="n_splits must be at least 2"):
        estimate_risk(audit, train_split="iid", n_splits=1)
    tiny = synthetic_audit(300, n_val=12)
    with pytest.raises(ValueError, match="rarer outcome, fewer than n_splits=5|at least 5 of each"):
        estimate_risk(tiny)
