"""audit_segmentation: one row per volume, risk, CSFs, outcomes, health, store and evaluate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from silentscope.audit.health import DegenerateModelWarning
from silentscope.audit.store import load_audit, save_audit
from silentscope.confidence.segmentation import segmentation_csf_names
from silentscope.evaluation import evaluate
from silentscope.metrics.segmentation import dice_per_class, segmentation_risk
from silentscope.models.segmentation_training import (
    SegmentationTrainer,
    predict_labels,
    volume_tensor,
)
from silentscope.segmentation import audit_segmentation, dice_table

from .conftest import blobs


@pytest.fixture(scope="module")
def trained(toy):
    return SegmentationTrainer(
        width=8, depth=2, epochs=6, lr=1e-2, progress=False, n_threads=1
    ).fit(toy)


@pytest.fixture(scope="module")
def result(trained, toy):
    noisy = blobs(4, seed=2)
    noisy.images = noisy.images + np.random.default_rng(5).normal(
        0, 0.6, noisy.images.shape
    ).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audit_segmentation(
            trained.network_,
            toy,
            {"cor/rician_noise/5": noisy},
            mc_samples=4,
            extra_risks=["hd95"],
            keep_predictions=True,
            device="cpu",
            n_threads=1,
            shift_params={"cor/rician_noise/5": '{"corruption": "rician_noise", "severity": 5}'},
            provenance=trained.provenance_,
        )


def test_one_row_per_volume_with_risk_from_the_predictions(result, toy, trained):
    audit = result.audit
    assert audit.test_sets == ("val", "iid", "cor/rician_noise/5")
    assert audit.n_samples == 12 and audit.task == "segmentation"
    assert sorted(audit.confidences) == sorted(segmentation_csf_names())
    iid = audit.test_set == "iid"
    predicted = predict_labels(trained.network_, volume_tensor(toy.test.images), "cpu")
    np.testing.assert_array_equal(result.predictions["iid"], predicted)
    expected_risk = [
        segmentation_risk(t, p.astype(int), 3)
        for t, p in zip(toy.test.labels, predicted, strict=True)
    ]
    np.testing.assert_allclose(audit.risk[iid], expected_risk)
    expected_dice = [
        dice_per_class(t, p.astype(int), 3)[2]
        for t, p in zip(toy.test.labels, predicted, strict=True)
    ]
    np.testing.assert_allclose(audit.outcomes["dice_shell"][iid], expected_dice)
    assert "risk_hd95" in audit.outcomes
    assert audit.sample_id[iid].tolist() == [f"iid/{i}" for i in toy.test.ids]
    assert audit.features.shape == (12, 16)
    assert audit.provenance["health"]["split"] == "val"
    assert audit.provenance["seed"] == 0  # the trainer's provenance is kept


def test_noise_raises_the_risk_and_the_table_shows_dice(result):
    table = dice_table(result.audit).set_index("test_set")
    assert table.loc["cor/rician_noise/5", "mean_risk"] > table.loc["iid", "mean_risk"]
    assert {"dice_core", "dice_shell", "n"} <= set(table.columns)


def test_store_and_evaluate_on_continuous_risk(result, tmp_path):
    loaded = load_audit(save_audit(result.audit, tmp_path / "seg"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluation = evaluate(loaded, n_bootstrap=50)
    assert set(evaluation.table["metric"]) == {"aurc", "e_aurc", "augrc", "e_augrc"}
    assert set(evaluation.table["csf"]) == {f"ext:{n}" for n in segmentation_csf_names()}
    assert not evaluation.health.degenerate
    assert "only 4 validation volumes" in evaluation.unavailable["ext:quality@learned"]
    assert evaluation.table["value"].notna().all()


def test_background_everywhere_is_degenerate_and_foreground_falls_back(trained, toy):
    net = trained.network_
    saved = net.head.bias.detach().clone()
    try:
        with torch.no_grad():
            net.head.bias.copy_(torch.tensor([80.0, -80.0, -80.0]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            audit = audit_segmentation(net, toy, mc_samples=0, device="cpu").audit
    finally:
        with torch.no_grad():
            net.head.bias.copy_(saved)
    messages = [str(w.message) for w in caught]
    assert any(w.category is DegenerateModelWarning for w in caught)
    assert any("no predicted foreground" in m for m in messages)
    assert audit.provenance["health"]["degenerate"] is True
    assert len(audit.provenance["segmentation_csfs"]["fallbacks"]["msr@foreground"]) == 8
    assert (audit.risk == 1.0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert evaluate(audit, n_bootstrap=0).health.degenerate


def test_refuses_mismatched_inputs(trained, toy):
    with pytest.raises(ValueError, match="need MC-dropout passes"):
        audit_segmentation(trained.network_, toy, csfs=["mcd_mi@mean"], mc_samples=0)
    with pytest.raises(ValueError, match="unknown test-set name .noise 3."):
        audit_segmentation(trained.network_, None, {"noise 3": toy.test})
    with pytest.raises(ValueError, match="risk and extra_risks"):
        audit_segmentation(trained.network_, toy, risk="iou")


def test_shift_params_per_volume(trained, toy):
    params = [f'{{"corruption": "rician_noise", "seed": {i}}}' for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = audit_segmentation(
            trained.network_, None, {"cor/rician_noise/2": toy.test}, mc_samples=0,
            shift_params={"cor/rician_noise/2": params}, quality=False,
        ).audit  # fmt: skip
    assert audit.shift_params.tolist() == params
    with pytest.raises(ValueError, match="holds 2 entries for 4 volumes"):
        audit_segmentation(
            trained.network_, None, {"cor/rician_noise/2": toy.test}, mc_samples=0,
            shift_params={"cor/rician_noise/2": params[:2]},
        )  # fmt: skip


def test_risk_classes_choose_the_classes_averaged(trained, toy):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = audit_segmentation(
            trained.network_, None, {"iid": toy.test}, mc_samples=0, risk_classes=["shell"]
        ).audit
    np.testing.assert_allclose(audit.risk, 1 - audit.outcomes["dice_shell"])
    assert audit.provenance["risk_classes"] == ["shell"]
    with pytest.raises(ValueError, match="risk_classes must name foreground classes"):
        audit_segmentation(trained.network_, None, {"iid": toy.test}, risk_classes=["background"])


def test_a_class_never_predicted_is_a_recorded_caveat(trained, toy):
    net = trained.network_
    saved = net.head.bias.detach().clone()
    try:
        with torch.no_grad():  # never predict the core
            net.head.bias.copy_(saved + torch.tensor([0.0, -80.0, 0.0]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            audit = audit_segmentation(
                net,
                toy,
                mc_samples=0,
                device="cpu",
                quality=False,
                provenance={"caveats": ["all volumes derive from one anatomy"]},
            ).audit
    finally:
        with torch.no_grad():
            net.head.bias.copy_(saved)
    assert any("'core' is in the val labels" in c for c in audit.provenance["caveats"])
    # the caller's caveat (the data's) is kept beside the network's, not overwritten
    assert "all volumes derive from one anatomy" in audit.provenance["caveats"]
    assert any("never predicted" in str(w.message) for w in caught)
    np.testing.assert_array_equal(audit.outcomes["dice_core"], 0.0)
