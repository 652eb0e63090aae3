"""Multi-label heads: targets in ImageDataset, ChestMNIST files, BCE training, per-finding audits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from silentscope.audit import AuditSet
from silentscope.data import DatasetError, ImageDataset, load_medmnist
from silentscope.evaluation import evaluate
from silentscope.models import (
    BinaryCrossEntropy,
    SilentNet,
    Trainer,
    audit_model,
    audit_multilabel,
    corruption_test_sets,
    load_model,
)
from silentscope.models.multilabel import FINDING_CLASSES
from tests.support.datasets import chest_npz

FINDINGS = ("square", "stripe")


def _planted(n: int = 240, seed: int = 0) -> ImageDataset:
    """12 px noise images; 'square' brightens the top-left 4x4 patch (easy), 'stripe' a faint
    segment of row 9 (hard: the model makes errors there, so failure detection has work)."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, 2)) < [0.4, 0.3]).astype(np.uint8)
    images = rng.normal(60, 20, (n, 12, 12))
    images[targets[:, 0] == 1, 1:5, 1:5] += 120
    images[targets[:, 1] == 1, 9, 2:10] += 40
    split = np.array(["train"] * (n * 2 // 3) + ["val"] * (n // 6) + ["test"] * (n - n * 5 // 6))
    return ImageDataset(
        "planted",
        np.clip(images, 0, 255).astype(np.uint8),
        targets.any(axis=1),
        ["no finding", "any finding"],
        split,
        [f"s{i}" for i in range(n)],
        targets=targets,
        target_names=FINDINGS,
    )


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.fixture(scope="module")
def trained(planted):
    torch.set_num_threads(1)
    settings = {"width": 4, "n_threads": 1, "progress": False, "augment": "none"}
    return Trainer(objective="bce", epochs=8, batch_size=32, lr=3e-3, device="cpu", **settings).fit(
        planted
    )


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- data
def test_targets_are_validated_with_clear_errors():
    common = ("t", np.zeros((2, 4, 4), np.uint8), [0, 1], ["a", "b"], ["train", "test"], ["x", "y"])
    with pytest.raises(ValueError, match=r"targets must be 0 or 1; row 1, column 0 holds 2"):
        ImageDataset(*common, targets=[[0, 1], [2, 0]], target_names=["m", "n"])
    with pytest.raises(ValueError, match=r"targets must have shape \(N, K\) = \(2, K\)"):
        ImageDataset(*common, targets=[0, 1], target_names=["m"])
    with pytest.raises(ValueError, match="targets need target_names"):
        ImageDataset(*common, targets=[[0], [1]])
    with pytest.raises(ValueError, match="2 distinct names"):
        ImageDataset(*common, targets=[[0, 1], [1, 0]], target_names=["m", "m"])
    with pytest.raises(ValueError, match="target_names were given without targets"):
        ImageDataset(*common, target_names=["m"])
    with pytest.raises(ValueError, match="targets must be 0 or 1"):
        ImageDataset(*common, targets=[[0.0, np.nan], [1.0, 0.0]], target_names=["m", "n"])


def test_subsets_carry_the_targets_and_single_label_data_has_none(planted):
    test = planted.split_of("test")
    assert test.multi_label and test.target_names == FINDINGS
    assert np.array_equal(test.targets, planted.targets[planted.split == "test"])
    single = planted.subset(np.arange(5))
    plain = ImageDataset(
        "p", single.load_images(), single.labels, ["a", "b"], single.split, single.sample_ids
    )
    assert not plain.multi_label and plain.targets is None and plain.target_names is None


def test_chestmnist_layout_loads_as_multi_label(tmp_path):
    arrays = chest_npz(tmp_path / "chestmnist.npz")
    data = load_medmnist("chestmnist", tmp_path)
    expected = np.concatenate([arrays[f"{s}_labels"] for s in ("train", "val", "test")])
    assert data.multi_label and data.targets.shape == (15, 14)
    assert np.array_equal(data.targets, expected)
    assert data.target_names[:3] == ("atelectasis", "cardiomegaly", "effusion")
    assert data.target_names[-1] == "hernia"
    assert data.class_names == ("no finding", "any finding")
    assert data.labels.tolist() == expected.any(axis=1).astype(int).tolist()
    assert data.labels[0] == 0
    assert data.modality == "xray" and data.info["task"] == "multi-label, binary-class"
    assert data.split_of("val").targets.shape == (3, 14)


def test_chestmnist_with_non_binary_findings_is_refused(tmp_path):
    bad = np.zeros((3, 14), np.uint8)
    bad[2, 5] = 3
    chest_npz(tmp_path / "chestmnist.npz", {"val_labels": bad})
    with pytest.raises(DatasetError, match=r"val_labels row 2, column 5 holds 3"):
        load_medmnist("chestmnist", tmp_path)


# ---------------------------------------------------------------- training
def test_bce_training_reduces_the_loss_and_learns_both_findings(trained, planted):
    history = trained.history_
    # Below the BCE of predicting each finding's training prevalence (what no image gives).
    prevalence = planted.split_of("train").targets.mean(axis=0)
    baseline = -np.mean(prevalence * np.log(prevalence) + (1 - prevalence) * np.log1p(-prevalence))
    assert history["train_loss"].iloc[-1] < 0.75 * baseline < history["train_loss"].iloc[0]
    # Model selection on the lowest validation BCE.
    assert history.loc[history["selected"], "val_loss"].iloc[-1] == history["val_loss"].min()
    assert trained.network_.multi_label and trained.network_.n_classes == 2
    test = planted.split_of("test")
    with torch.no_grad():
        logits = trained.network_(torch.as_tensor(test.load_images()).permute(0, 3, 1, 2) / 255.0)
    aurocs = [roc_auc_score(test.targets[:, k], logits[:, k].numpy()) for k in range(2)]
    assert aurocs[0] > 0.95 and aurocs[1] > 0.75  # chance is 0.5; the stripe is faint
    assert trained.provenance_["dataset"]["target_names"] == list(FINDINGS)


def test_pos_weight_balanced_comes_from_training_prevalence(planted):
    train = planted.split_of("train").targets
    resolved = BinaryCrossEntropy("balanced").for_targets(train, FINDINGS)
    expected = (len(train) - train.sum(0)) / train.sum(0)
    assert np.allclose(resolved.pos_weight, expected)
    with pytest.raises(ValueError, match="finding 'stripe' has no positive training image"):
        BinaryCrossEntropy("balanced").for_targets(np.array([[1, 0], [0, 0]]), FINDINGS)
    with pytest.raises(ValueError, match="pos_weight needs 2 positive numbers"):
        BinaryCrossEntropy([1.0]).for_targets(train, FINDINGS)
    trainer = Trainer(
        objective="bce",
        objective_params={"pos_weight": "balanced"},
        epochs=1,
        width=4,
        n_threads=1,
        progress=False,
        augment="none",
        device="cpu",
    ).fit(planted)
    assert np.allclose(trainer.provenance_["objective_params"]["pos_weight"], expected)


def test_checkpoint_round_trips_the_multi_label_head(trained, tmp_path):
    path = trained.save(tmp_path / "model.pt")
    loaded = load_model(path)
    assert loaded.multi_label and loaded.config["objective"] == "bce"
    x = torch.rand(3, 1, 12, 12)
    assert torch.equal(loaded(x), trained.network_(x))


def test_objective_and_data_must_agree(planted):
    single = planted.subset(np.arange(len(planted)))
    single = ImageDataset(
        "s", single.load_images(), single.labels, ["a", "b"], single.split, single.sample_ids
    )
    with pytest.raises(
        ValueError, match="objective 'bce' is multi-label but dataset 's' has no targets"
    ):
        Trainer(objective="bce", epochs=1, progress=False).fit(single)
    with pytest.raises(ValueError, match="at least 1 finding"):
        SilentNet(n_classes=0, in_channels=1, objective="bce")


# ---------------------------------------------------------------- auditing
def test_per_finding_audits_hold_the_sigmoid_and_the_targets(trained, planted):
    shifts = corruption_test_sets(planted, ["gaussian_noise"], severities=(3,))
    audits = audit_multilabel(trained, planted, test_sets=shifts, mc_samples=5, n_threads=1)
    assert list(audits) == list(FINDINGS)
    n_val, n_test = (int((planted.split == s).sum()) for s in ("val", "test"))
    n = n_val + 2 * n_test
    targets = np.concatenate([planted.split_of(s).targets for s in ("val", "test", "test")])
    test_images = planted.split_of("test").load_images()
    with torch.no_grad():
        iid_logits = trained.network_(torch.as_tensor(test_images).permute(0, 3, 1, 2) / 255.0)
    for k, name in enumerate(FINDINGS):
        audit = audits[name]
        assert isinstance(audit, AuditSet) and audit.class_names == FINDING_CLASSES
        assert audit.logits.shape == (n, 2) and audit.mc_logits.shape == (n, 2, 5)
        assert audit.features.shape[0] == n and audit.features is audits[FINDINGS[0]].features
        assert audit.test_sets == ("val", "iid", "cor/gaussian_noise/3")
        assert np.array_equal(audit.label, targets[:, k])
        assert np.array_equal(audit.train_labels, planted.split_of("train").targets[:, k])
        iid = audit.test_set == "iid"
        assert np.allclose(audit.logits[iid, 1], iid_logits[:, k].numpy(), atol=1e-5)
        assert np.allclose(_softmax(audit.logits)[:, 1], _sigmoid(audit.logits[:, 1]), atol=1e-6)
        # MC samples differ from each other and carry the same construction.
        assert np.all(audit.mc_logits[:, 0, :] == 0)
        assert audit.mc_logits[:, 1, :].std(axis=1).mean() > 0
        assert audit.provenance["multi_label"]["threshold"] == 0.5
        assert audit.provenance["objective"] == "bce"
    corrupted = audits["square"].test_set == "cor/gaussian_noise/3"
    assert not np.allclose(audits["square"].logits[corrupted, 1], audits["square"].logits[iid, 1])


def test_evaluation_runs_on_a_finding(trained, planted):
    audits = audit_multilabel(trained, planted, mc_samples=4, n_threads=1, findings=["stripe"])
    assert list(audits) == ["stripe"]
    result = evaluate(
        audits["stripe"], csfs=["MSR", "MLS"], metrics=["augrc", "accuracy"], n_bootstrap=0
    )
    rows = result.table.set_index("csf")
    assert set(rows.index) == {"MSR", "MLS"} and set(result.table["test_set"]) == {"iid"}
    audit = audits["stripe"]
    iid = audit.test_set == "iid"
    wrong = (audit.logits[iid, 1] > 0) != (audit.label[iid] == 1)
    assert wrong.sum() > 0  # the faint stripe gives failures to detect
    assert rows.loc["MSR", "n_errors"] == wrong.sum()
    assert rows.loc["MSR", "accuracy"] == pytest.approx(1 - wrong.mean())
    assert 0 < rows.loc["MSR", "value"] < wrong.mean()


def test_thresholds_chosen_on_val_maximise_youden_j(trained, planted):
    audits = audit_multilabel(trained, planted, threshold="val", n_threads=1, train_features=False)
    for name in FINDINGS:
        audit = audits[name]
        val = audit.test_set == "val"
        z, y = audit.logits[val, 1], audit.label[val]
        fpr, tpr, _ = roc_curve(y, z)
        cut = audit.logits[0, 0]
        predicted = audit.logits[val].argmax(axis=1)
        assert np.array_equal(predicted, (z > cut).astype(int))
        achieved = predicted[y == 1].mean() - predicted[y == 0].mean()
        assert achieved == pytest.approx((tpr - fpr).max())
        info = audit.provenance["multi_label"]
        assert info["threshold"] == pytest.approx(_sigmoid(cut))
        assert info["threshold_rule"] == "Youden's J on the validation split"


def test_fixed_thresholds_shift_the_decision_but_keep_the_logit(trained, planted):
    base = audit_multilabel(trained, planted, n_threads=1, train_features=False)
    moved = audit_multilabel(
        trained,
        planted,
        threshold={"square": 0.8, "stripe": 0.3},
        n_threads=1,
        train_features=False,
    )
    for name, t in (("square", 0.8), ("stripe", 0.3)):
        z = moved[name].logits[:, 1]
        assert np.array_equal(z, base[name].logits[:, 1])
        assert np.array_equal(moved[name].logits.argmax(1), (_sigmoid(z) > t).astype(int))


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        (1.0, "must be a probability in \\(0, 1\\)"),
        ([0.5], "one value per finding \\(2\\)"),
        ({"square": 0.5}, "missing \\['stripe'\\]"),
        ("youden", "or 'val'"),
    ],
)
def test_bad_thresholds_are_named(trained, planted, threshold, message):
    with pytest.raises(ValueError, match=message):
        audit_multilabel(trained, planted, threshold=threshold, n_threads=1, train_features=False)


def test_val_threshold_needs_both_classes_of_each_finding(trained, planted):
    rows = np.flatnonzero((planted.split != "val") | (planted.targets[:, 1] == 0))
    with pytest.raises(ValueError, match="finding 'stripe' has 0 positive and"):
        audit_multilabel(trained, planted.subset(rows), threshold="val", n_threads=1)


def test_single_label_paths_refuse_clearly(trained, planted):
    with pytest.raises(ValueError, match="multi-label.*audit_multilabel"):
        audit_model(trained.network_, planted, device="cpu")
    with pytest.raises(ValueError, match="multi-label.*audit_multilabel"):
        trained.audit(planted)
    single_net = SilentNet(n_classes=2, in_channels=1, width=4, image_size=12)
    with pytest.raises(ValueError, match="single-label"):
        audit_multilabel(single_net, planted)
    plain = ImageDataset(
        "p", planted.load_images(), planted.labels, ["a", "b"], planted.split, planted.sample_ids
    )
    with pytest.raises(ValueError, match="dataset 'p' has no targets"):
        audit_multilabel(trained, plain)
    other = ImageDataset(
        "o", planted.load_images(), planted.labels, ["a", "b"], planted.split, planted.sample_ids,
        targets=planted.targets, target_names=["x", "y"],
    )  # fmt: skip
    with pytest.raises(ValueError, match="test set 'acq/o' has findings"):
        audit_multilabel(trained, planted, test_sets={"acq/o": other.split_of("test")})
    with pytest.raises(ValueError, match="unknown finding"):
        audit_multilabel(trained, planted, findings=["nodule"])
    one = ImageDataset(
        "one", planted.load_images(), planted.labels, ["a", "b"], planted.split, planted.sample_ids,
        targets=planted.targets[:, :1], target_names=["square"],
    )  # fmt: skip
    with pytest.raises(ValueError, match="single finding; audit_multilabel needs at least 2"):
        audit_multilabel(SilentNet(1, 1, objective="bce", width=4, image_size=12), one)
