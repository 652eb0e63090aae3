"""The training loop: determinism, resume, checkpoints, model selection, data paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from silentscope.data import ImageDataset
from silentscope.models import Trainer, load_model
from silentscope.models.objectives import Stage
from silentscope.models.training_state import LoopState


def _logits(trainer, dataset):
    return trainer.audit(dataset, device="cpu", n_threads=1, train_features=False).logits


def test_same_seed_gives_identical_logits_and_another_seed_does_not(pneumonia, tiny):
    tiny["augment"] = ("hflip", "shift")  # the augmentation draws are seeded too
    a = Trainer(epochs=2, random_state=3, **tiny).fit(pneumonia)
    b = Trainer(epochs=2, random_state=3, **tiny).fit(pneumonia)
    c = Trainer(epochs=2, random_state=4, **tiny).fit(pneumonia)
    assert np.array_equal(_logits(a, pneumonia), _logits(b, pneumonia))
    assert a.history_["train_loss"].tolist() == b.history_["train_loss"].tolist()
    assert not np.allclose(_logits(a, pneumonia), _logits(c, pneumonia))


def test_fit_leaves_the_global_torch_rng_alone(pneumonia, tiny):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Trainer(epochs=1, **tiny).fit(pneumonia)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(("objective", "epochs", "stop_after"), [("devries", 3, 1), ("dg", 4, 2)])
def test_resumed_training_equals_an_uninterrupted_run(
    pneumonia, tiny, tmp_path, objective, epochs, stop_after
):
    tiny["augment"] = ("hflip", "shift")
    params = {**tiny, "objective": objective, "epochs": epochs, "patience": 0}
    whole = Trainer(**params).fit(pneumonia, checkpoint_dir=tmp_path / "whole")
    first = Trainer(**params).fit(
        pneumonia, checkpoint_dir=tmp_path / "split", stop_after=stop_after
    )
    assert not first.finished_ and len(first.history_) == stop_after
    rest = Trainer(**params).fit(pneumonia, checkpoint_dir=tmp_path / "split", resume=True)
    assert rest.finished_
    columns = ["stage", "epoch", "train_loss", "val_loss", "val_accuracy", "selected"]
    assert rest.history_[columns].equals(whole.history_[columns])
    for key, value in whole.network_.state_dict().items():
        assert torch.equal(value, rest.network_.state_dict()[key]), key
    assert np.array_equal(_logits(whole, pneumonia), _logits(rest, pneumonia))


def test_resume_refuses_other_settings_and_missing_state(pneumonia, tiny, tmp_path):
    Trainer(epochs=2, **tiny).fit(pneumonia, checkpoint_dir=tmp_path, stop_after=1)
    with pytest.raises(ValueError, match=r"other settings \(lr: saved 0.001, now 0.01\)"):
        Trainer(epochs=2, lr=0.01, **tiny).fit(pneumonia, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(FileNotFoundError, match="no training state to resume"):
        Trainer(epochs=2, **tiny).fit(pneumonia, checkpoint_dir=tmp_path / "empty", resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        Trainer(epochs=2, **tiny).fit(pneumonia, resume=True)


def test_saved_model_reloads_with_identical_outputs(pneumonia, tiny, tmp_path):
    trainer = Trainer(objective="dg", epochs=2, **tiny).fit(pneumonia)
    path = trainer.save(tmp_path / "model.pt")
    loaded = load_model(path)
    assert loaded.config == trainer.network_.config
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(loaded(x), trainer.network_(x))
    # Saved checkpoints hold no pickled code: they load with weights_only=True.
    assert torch.load(path, weights_only=True)["format"] == "silentscope.model"


def test_lazy_batches_equal_preconverted_batches(pneumonia, tiny):
    pre = Trainer(epochs=1, **tiny).fit(pneumonia)
    lazy = Trainer(epochs=1, max_tensor_bytes=0, **tiny).fit(pneumonia)
    assert np.allclose(_logits(pre, pneumonia), _logits(lazy, pneumonia), atol=1e-5)


def test_images_are_resized_to_the_requested_size(derma, tiny):
    trainer = Trainer(epochs=1, image_size=16, **tiny).fit(derma)
    assert trainer.network_.config["image_size"] == 16
    assert trainer.network_.config["in_channels"] == 3
    audit = trainer.audit(derma, device="cpu", n_threads=1)
    assert audit.logits.shape == (64, 7)


def test_model_selection_keeps_the_best_epoch_and_stops_early():
    state = LoopState([Stage("classifier", 10, ("backbone", "head"))])
    net = torch.nn.Linear(2, 2)
    accuracies = [0.6, 0.8, 0.7, 0.8, 0.75]
    for epoch, accuracy in enumerate(accuracies, 1):
        with torch.no_grad():
            net.weight.fill_(epoch)
        state.record(net, {"val_loss": 0.5, "val_accuracy": accuracy}, patience=3)
    # 0.8 at epoch 4 ties epoch 2 on accuracy and loss, so epoch 2 stays selected.
    assert [row["selected"] for row in state.history] == [True, True, False, False, False]
    assert state.selected == {"classifier": 2} and state.stopped_early
    state.finish_stage(net)
    assert float(net.weight.detach()[0, 0]) == 2.0


def test_training_without_validation_split_warns_and_keeps_the_last_epoch(pneumonia, tiny):
    no_val = pneumonia.subset(pneumonia.split != "val")
    with pytest.warns(UserWarning, match="no validation split"):
        trainer = Trainer(epochs=2, **tiny).fit(no_val)
    assert trainer.history_["selected"].tolist() == [True, True]
    assert math.isnan(trainer.history_["val_accuracy"].iloc[0])
    assert trainer.provenance_["model_selection"] == "last epoch (no validation split)"


def test_bad_inputs_get_clear_errors(pneumonia, tiny):
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        Trainer(epochs=1, backbone="vgg", **tiny).fit(pneumonia)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        Trainer(epochs=0, **tiny).fit(pneumonia)
    test_only = pneumonia.subset(pneumonia.split == "test")
    with pytest.raises(ValueError, match="has 0 training images"):
        Trainer(epochs=1, **tiny).fit(test_only)
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        Trainer(epochs=1, **{**tiny, "augment": ["rotate"]}).fit(pneumonia)


def test_provenance_records_objective_hyperparameters_seed_and_data(pneumonia, tiny):
    trainer = Trainer(
        objective="dg", objective_params={"reward": 1.5}, epochs=3, random_state=7, **tiny
    )
    trainer.fit(pneumonia)
    prov = trainer.audit(pneumonia, device="cpu", n_threads=1).provenance
    assert prov["objective"] == "dg" and prov["objective_params"] == {
        "reward": 1.5,
        "pretrain_epochs": None,
    }
    assert prov["seed"] == 7 and prov["hyperparameters"]["epochs"] == 3
    assert prov["dataset"]["name"] == "pneumoniamnist" and prov["dataset"]["n_train"] == 160
    assert [s["name"] for s in prov["stages"]] == ["pretrain", "gambler"]
    assert prov["inference"]["test_sets"] == {"val": 48, "iid": 48}


def test_a_dataset_of_constant_images_still_trains(tiny):
    rng = np.random.default_rng(0)
    ds = ImageDataset(
        "flat",
        np.zeros((40, 8, 8), np.uint8),
        rng.integers(0, 3, 40),
        ["a", "b", "c"],
        ["train"] * 30 + ["val"] * 10,
        [str(i) for i in range(40)],
    )
    trainer = Trainer(epochs=1, **tiny).fit(ds)
    assert np.isfinite(trainer.history_["train_loss"]).all()
