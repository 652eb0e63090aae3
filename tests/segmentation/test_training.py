"""SegmentationTrainer: Dice + CE lowers the loss, seeded, checkpointed, health-checked."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from silentscope.audit.health import check_segmentation
from silentscope.models.segmentation_training import (
    SegmentationTrainer,
    dice_ce_loss,
    load_unet,
    predict_labels,
    volume_tensor,
)

from .conftest import blobs


def _trainer(**kwargs):
    settings = dict(width=8, depth=2, epochs=6, batch_size=2, lr=1e-2, progress=False, n_threads=1)
    settings.update(kwargs)
    return SegmentationTrainer(**settings)


def test_training_lowers_the_loss_and_learns(toy):
    trainer = _trainer(epochs=8).fit(toy)
    history = trainer.history_
    assert list(history.columns) == [
        "stage",
        "epoch",
        "train_loss",
        "val_loss",
        "val_dice",
        "lr",
        "seconds",
        "selected",
    ]
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert history["val_dice"].max() > 0.5
    assert trainer.provenance_["selected_epoch"] == int(history["val_dice"].idxmax()) + 1
    # the health verdict is the voxel rule on the selected network's validation predictions
    predicted = predict_labels(trainer.network_, volume_tensor(toy.val.images), "cpu")
    expected = check_segmentation(toy.val.labels, predicted, toy.val.class_names)
    assert trainer.health_ == expected and not trainer.health_.degenerate
    assert trainer.provenance_["health"]["degenerate"] is False


def test_same_seed_same_network_and_2d_form(toy):
    a = _trainer(epochs=1).fit(toy.train, toy.val)
    b = _trainer(epochs=1).fit(toy.train, toy.val)
    for (k, va), vb in zip(
        a.network_.state_dict().items(), b.network_.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k
    flat = blobs(6, side=16, spatial_dims=2)
    two_d = _trainer(epochs=1).fit(flat, flat)
    assert two_d.network_.config["spatial_dims"] == 2


def test_checkpoint_resume_equals_uninterrupted_run(toy, tmp_path):
    full = _trainer(epochs=3).fit(toy)
    _trainer(epochs=3).fit(toy, checkpoint_dir=tmp_path, stop_after=2)
    resumed = _trainer(epochs=3).fit(toy, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_allclose(full.history_["val_loss"], resumed.history_["val_loss"], rtol=1e-5)
    net, provenance = load_unet(resumed.save(tmp_path / "unet.pt"))
    assert provenance["class_names"] == list(toy.train.class_names)
    x = volume_tensor(toy.val.images[:1])
    torch.testing.assert_close(net(x), resumed.network_(x))


def test_background_everywhere_is_flagged_degenerate(toy):
    trainer = _trainer(epochs=1)
    trainer.fit(toy)
    net = trainer.network_
    with torch.no_grad():  # make it predict background for every voxel
        net.head.bias.copy_(torch.tensor([50.0, -50.0, -50.0]))
    predicted = predict_labels(net, volume_tensor(toy.val.images), "cpu")
    health = check_segmentation(toy.val.labels, predicted, toy.val.class_names)
    assert health.degenerate and "predicts only 'background'" in health.reason
    assert "voxels" in health.reason


def test_augmentations_are_applied_and_recorded(toy):
    calls = []

    def brighten(x, generator):
        calls.append(x.shape)
        return x + 0.01 * torch.rand(x.shape[0], 1, 1, 1, 1, generator=generator)

    trainer = _trainer(epochs=1, augment=[brighten]).fit(toy)
    assert calls and trainer.provenance_["augmentations"] == ["brighten"]


def test_dice_ce_loss_falls_when_the_prediction_improves():
    labels = torch.zeros(1, 6, 6, dtype=torch.long)
    labels[:, 2:4, 2:4] = 1
    onehot = torch.nn.functional.one_hot(labels, 2).permute(0, 3, 1, 2).float()
    assert (
        dice_ce_loss(onehot * 8, labels)
        < dice_ce_loss(onehot * 1, labels)
        < dice_ce_loss(-onehot, labels)
    )


def test_refuses_bad_data(toy):
    with pytest.raises(ValueError, match="it has no 'images'"):
        _trainer().fit(object())
    bad = blobs(3)
    bad.labels = bad.labels + 5
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 2\]"):
        _trainer().fit(bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = _trainer(epochs=1).fit(toy.train)
    assert any("no validation volumes" in str(w.message) for w in caught)
    assert trainer.health_ is None


def test_the_classification_trainer_points_to_the_segmentation_trainer(toy):
    from silentscope.models import Trainer

    with pytest.raises(ValueError, match="SegmentationTrainer"):
        Trainer(progress=False).fit(toy.train)
