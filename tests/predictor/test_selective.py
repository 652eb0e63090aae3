"""Flipping and abstaining: thresholds chosen on validation, gains with paired bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silentscope.audit import AuditSet, AuditSetError
from silentscope.predictor import SelectiveCorrector, binary_metric, selective_correction
from tests.support.planted import synthetic_audit


def flip_metric(metric, risk, truth, decision, threshold):
    after = np.where(risk > threshold, 1 - decision, decision)
    tp = np.sum((truth == 1) & (after == 1))
    fp = np.sum((truth == 0) & (after == 1))
    fn = np.sum((truth == 1) & (after == 0))
    tn = np.sum((truth == 0) & (after == 0))
    return float(binary_metric(metric, tp, fp, fn, tn))


binary = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=25
)


@settings(max_examples=80, deadline=None)
@given(rows=binary, metric=st.sampled_from(["f1", "balanced_accuracy", "accuracy"]))
def test_flip_threshold_is_the_best_of_all_thresholds(rows, metric):
    risk, truth, decision = (np.array(column) for column in zip(*rows, strict=True))
    risk = risk / 5.0  # ties on purpose
    corrector = SelectiveCorrector("flip", metric).fit(risk, truth, decision)
    candidates = [np.inf, -np.inf, *np.unique(risk)]
    best = max(flip_metric(metric, risk, truth, decision, t) for t in candidates)
    assert flip_metric(metric, risk, truth, decision, corrector.threshold_) == pytest.approx(best)
    assert corrector.validation_after_ == pytest.approx(best)


@settings(max_examples=80, deadline=None)
@given(rows=binary, target=st.sampled_from([0.0, 0.1, 0.25, 0.5]))
def test_abstention_keeps_the_most_predictions_within_the_target_risk(rows, target):
    risk, truth, decision = (np.array(column) for column in zip(*rows, strict=True))
    risk = risk / 5.0
    if target == 0.0:
        target = 1e-9
    corrector = SelectiveCorrector("abstain", f"risk={target}").fit(risk, truth, decision)
    kept = ~corrector.acts_on(risk)
    feasible = []
    for t in [-np.inf, *np.unique(risk)]:
        keep = risk <= t
        if keep.any() and np.mean(truth[keep] != decision[keep]) <= target:
            feasible.append(keep.sum())
    if feasible:
        assert kept.sum() == max(feasible) and corrector.target_reached_
        assert np.mean(truth[kept] != decision[kept]) <= target
    else:
        assert kept.sum() == 0 and not corrector.target_reached_


def informative_audit(seed, n=1600, signal=True):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.2
    logits = np.eye(2)[np.where(wrong, 1 - label, label)] * 3
    risk = np.clip(0.2 + 0.5 * wrong * signal + rng.normal(0, 0.2, n), 0, 1)
    audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=logits,
                     test_set=np.where(np.arange(n) < n // 2, "val", "iid"), class_names=["a", "b"])  # fmt: skip
    return audit, risk


def test_an_informative_risk_gives_a_real_f1_gain():
    audit, risk = informative_audit(0)
    row = selective_correction(
        audit, risk, action="flip", objective="f1", n_bootstrap=500
    ).table.iloc[0]
    assert row["delta"] > 0.05 and row["delta_low"] > 0 and row["significant"]
    assert row["fixed"] > row["broken"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_uninformative_risk_gives_no_significant_gain(seed):
    audit, risk = informative_audit(seed, signal=False)
    row = selective_correction(
        audit, risk, action="flip", objective="balanced_accuracy", n_bootstrap=500
    ).table.iloc[0]
    assert not row["significant"]
    assert row["delta_low"] <= 0


def test_the_bootstrap_is_paired():
    # Only a few confident errors are flipped: before and after move together in every
    # resample, so the interval of the change is far narrower than that of the metric.
    audit, _ = informative_audit(0, n=4000)
    rng = np.random.default_rng(1)
    wrong = ~audit.correct
    flag = wrong & (rng.random(audit.n_samples) < 0.15)
    risk = np.where(flag, 0.9, rng.uniform(0, 0.4, audit.n_samples))
    row = selective_correction(audit, risk, objective="accuracy", n_bootstrap=500).table.iloc[0]
    assert 0 < row["changed"] < 0.05 * row["n"]
    assert (row["delta_high"] - row["delta_low"]) < 0.6 * (row["after_high"] - row["after_low"])
    again = selective_correction(audit, risk, objective="accuracy", n_bootstrap=500).table
    assert again.iloc[0]["delta_low"] == row["delta_low"]  # seeded


def test_cluster_bootstrap_is_honest_about_duplicated_patients():
    audit, risk = informative_audit(0, n=1200)
    rows = np.r_[np.arange(audit.n_samples), np.arange(audit.n_samples)]
    doubled = AuditSet(sample_id=np.r_[audit.sample_id, np.char.add(audit.sample_id.astype(str), "b")],
                       label=audit.label[rows], logits=audit.logits[rows], test_set=audit.test_set[rows],
                       class_names=audit.class_names, metadata={"patient": rows})  # fmt: skip
    widths = {}
    for name, kwargs in {"single": {}, "naive": {}, "cluster": {"cluster": "patient"}}.items():
        data, r = (audit, risk) if name == "single" else (doubled, risk[rows])
        row = selective_correction(data, r, n_bootstrap=800, **kwargs).table.iloc[0]
        widths[name] = row["delta_high"] - row["delta_low"]
    assert widths["naive"] < 0.85 * widths["single"]
    assert widths["cluster"] == pytest.approx(widths["single"], rel=0.2)


def test_abstaining_at_a_target_risk_lowers_the_error_rate_of_kept_predictions():
    audit, risk = informative_audit(0, n=3000)
    result = selective_correction(
        audit, risk, action="abstain", objective="risk=0.05", n_bootstrap=400
    )
    row = result.table.iloc[0]
    assert row["metric"] == "selective_risk" and row["before"] == pytest.approx(
        1 - audit.select("iid").correct.mean()
    )
    assert row["after"] < 0.08 and row["delta_high"] < 0 and row["significant"]
    assert 0.3 < row["coverage"] < 0.95 and row["changed"] == round(
        (1 - row["coverage"]) * row["n"]
    )


def test_one_vs_rest_flipping_of_a_multiclass_model():
    rng = np.random.default_rng(0)
    n = 1200
    label = rng.integers(0, 3, n)
    wrong = rng.random(n) < 0.25
    prediction = np.where(wrong, (label + 1) % 3, label)
    audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=np.eye(3)[prediction] * 2,
                     test_set=np.where(np.arange(n) < 600, "val", "iid"), class_names=["x", "y", "z"])  # fmt: skip
    decision_error = (prediction == 1) != (label == 1)
    risk = np.clip(0.1 + 0.7 * decision_error + rng.normal(0, 0.1, n), 0, 1)
    result = selective_correction(audit, risk, objective="f1", positive_class="y", n_bootstrap=300)
    assert result.positive_class == "y" and result.table.iloc[0]["significant"]
    with pytest.raises(
        ValueError, match="flipping needs a binary decision; this model has 3 classes"
    ):
        selective_correction(audit, risk)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "flip", "objective": "risk=0.05"}, "a risk target is for abstain"),
        (
            {"action": "abstain", "objective": "f1"},
            "abstaining on f1 would be maximised by abstaining on everything",
        ),
        ({"action": "skip"}, "action must be one of flip, abstain"),
        ({"objective": "auc"}, "unknown objective 'auc'"),
        ({"action": "abstain", "objective": "risk=2"}, "unknown objective 'risk=2'"),
        (
            {"fit_on": "acq/x"},
            "test set 'acq/x' to choose the threshold on is not in this AuditSet",
        ),
    ],
)
def test_invalid_requests_are_one_clear_sentence(kwargs, message):
    audit, risk = informative_audit(0, n=200)
    with pytest.raises(ValueError, match=message):
        selective_correction(audit, risk, **kwargs)


def test_missing_validation_and_bad_risk_are_explained():
    audit = synthetic_audit(200, n_val=0)
    with pytest.raises(AuditSetError, match="no validation split"):
        selective_correction(audit, np.zeros(200))
    audit = synthetic_audit(200)
    with pytest.raises(ValueError, match="one value per sample"):
        selective_correction(audit, np.zeros(10))
    with pytest.raises(ValueError, match="NaN or infinite"):
        selective_correction(audit, np.full(200, np.nan))


def test_when_nothing_helps_the_predictions_are_left_alone_and_the_note_says_so():
    audit, _ = informative_audit(0, n=400)
    result = selective_correction(audit, np.zeros(400), objective="f1", n_bootstrap=100)
    assert result.corrector.threshold_ == np.inf
    assert result.table.iloc[0]["changed"] == 0 and result.table.iloc[0]["delta"] == 0
    assert any("keeps every prediction" in note for note in result.notes)
