"""The degenerate-model check: one class predicted, chance-level, healthy, multi-class."""

import numpy as np
import pytest

from silentscope.audit.auditset import AuditSet
from silentscope.audit.health import (
    DegenerateModelWarning,
    ModelHealth,
    check_predictions,
    model_health,
)

NAMES = ["normal", "pneumonia"]


def imbalanced(n=120, minority=0.27, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(n) < minority).astype(int)


def test_one_class_predicted_is_degenerate_whichever_class():
    labels = imbalanced()
    for constant in (0, 1):  # the majority, and the minority (accuracy 0.27, as in issue 13)
        health = check_predictions(labels, np.full(len(labels), constant), NAMES)
        assert health.degenerate
        assert health.predicted_classes == (NAMES[constant],)
        assert f"predicts only {NAMES[constant]!r}" in health.reason
        assert f"{health.accuracy:.3f}" in health.reason
        assert health.balanced_accuracy == pytest.approx(0.5)


def test_near_constant_predictions_are_no_better_than_the_majority_class():
    labels = imbalanced()
    predictions = np.zeros(len(labels), int)
    predictions[np.flatnonzero(labels == 1)[:1]] = 1  # one minority image right
    health = check_predictions(labels, predictions, NAMES)
    assert len(health.predicted_classes) == 2
    assert health.accuracy > health.majority_rate  # accuracy alone would pass it
    assert health.degenerate
    assert "no better than always predicting 'normal'" in health.reason
    assert f"{health.balanced_accuracy:.3f}" in health.reason


def test_a_useful_model_below_the_majority_rate_is_not_flagged():
    labels = imbalanced()
    predictions = labels.copy()
    majority = np.flatnonzero(labels == 0)
    predictions[majority[: int(0.4 * len(majority))]] = 1  # many false alarms, every case found
    health = check_predictions(labels, predictions, NAMES)
    assert health.accuracy < health.majority_rate
    assert health.balanced_accuracy > 0.75
    assert not health.degenerate and health.assessed
    assert health.reason.startswith("better than the majority class")


def test_multiclass_chance_is_one_over_k():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 400)
    random_guess = rng.integers(0, 4, 400)
    health = check_predictions(labels, random_guess, list("abcd"))
    assert health.chance == pytest.approx(0.25)
    assert health.degenerate  # four classes predicted, still chance level
    good = np.where(rng.random(400) < 0.7, labels, random_guess)
    assert not check_predictions(labels, good, list("abcd")).degenerate


def test_one_class_in_the_labels_is_not_assessed():
    health = check_predictions([1, 1, 1], [1, 1, 1], NAMES, split="iid")
    assert not health.assessed and not health.degenerate
    assert "not assessed" in health.reason


def test_model_health_checks_the_validation_split_and_warns():
    labels = np.array([0, 1, 0, 1, 0, 1])
    logits = np.zeros((6, 2))
    logits[:3, 0] = 3  # val: all "normal"
    logits[3:, :] = np.eye(2)[labels[3:]] * 3  # iid: all right
    audit = AuditSet(
        sample_id=list("abcdef"),
        test_set=["val"] * 3 + ["iid"] * 3,
        label=labels,
        logits=logits,
        class_names=NAMES,
    )
    health = model_health(audit)
    assert health.split == "val" and health.degenerate
    assert not model_health(audit.select("iid")).degenerate  # falls back to iid
    with pytest.warns(DegenerateModelWarning, match="predicts only 'normal'"):
        health.warn()
    assert ModelHealth.from_dict(health.to_dict()) == health


def test_mismatched_inputs_raise_one_sentence():
    with pytest.raises(ValueError, match="equally long"):
        check_predictions([0, 1], [0])


def test_imported_predictions_get_the_same_check_recorded_in_provenance(tmp_path):
    from silentscope.audit.importers import from_arrays
    from silentscope.audit.store import load_audit, save_audit

    labels = imbalanced()
    logits = np.tile([2.0, 0.0], (len(labels), 1))  # one class for every sample
    with pytest.warns(DegenerateModelWarning, match="imported classifier is degenerate"):
        audit = from_arrays(logits, labels, class_names=NAMES)
    recorded = load_audit(save_audit(audit, tmp_path / "store")).provenance["health"]
    assert recorded["degenerate"] and recorded["split"] == "iid"
    assert recorded["reason"].startswith("predicts only 'normal' for all 120 iid samples")


@pytest.mark.parametrize("constant", [True, False])
def test_info_says_degenerate_and_shows_balanced_accuracy(tmp_path, constant):
    # `silentscope info` is the first table a user reads: with imbalanced classes it shows
    # balanced accuracy beside accuracy, and a degenerate classifier is named there.
    from typer.testing import CliRunner

    from silentscope.audit.store import save_audit
    from silentscope.cli import app
    from tests.support.audits import imbalanced_audit

    save_audit(imbalanced_audit(constant), tmp_path / "store")
    output = CliRunner().invoke(app, ["info", str(tmp_path / "store")], terminal_width=200).output
    assert "balanced accuracy" in output and "classes are imbalanced" in output
    if constant:
        iid = next(line for line in output.splitlines() if "│ iid " in line)
        assert "0.500" in iid  # every image "normal": balanced accuracy is chance
        assert "degenerate classifier: predicts only 'normal'" in output
    else:
        assert "degenerate classifier" not in output


def test_a_class_segmented_only_by_stray_voxels_is_a_caveat_like_a_class_never_predicted():
    from silentscope.audit.health import unpredicted_classes

    names = ["background", "csf", "gm"]
    truth = np.zeros((2, 50), int)
    truth[:, :5] = 1  # 10 csf voxels
    truth[:, 25:] = 2
    good = truth.copy()
    stray = np.where(truth == 1, 0, truth)
    stray[0, 10] = 1  # one csf voxel, on background: Dice 0 although "predicted"
    assert unpredicted_classes(truth, good, names) == []
    (sentence,) = unpredicted_classes(truth, stray, names)
    assert "'csf'" in sentence and "barely segmented" in sentence and "0.000" in sentence
    half = np.where(truth == 1, 0, truth)
    half[:, :2] = 1  # 4 of 10 csf voxels found, none wrong: Dice 0.57, no caveat
    assert unpredicted_classes(truth, half, names) == []
