"""Inference into an AuditSet: MC batching, hooks, errors, shifts, ensembles, TorchScript."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from silentscope.audit.store import load_audit
from silentscope.models import (
    DeepEnsemble,
    SilentNet,
    TestSet,
    audit_model,
    corruption_test_sets,
    load_model,
)
from silentscope.models.inference import ModulePredictor, NetPredictor
from silentscope.models.tensors import to_float_tensor

CPU = torch.device("cpu")


class TinyClassifier(nn.Module):
    """A user's own classifier: conv body, pooled features, dropout, linear head."""

    def __init__(self, in_channels: int = 1, n_classes: int = 2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(6, 5)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(5, n_classes)

    def forward(self, x):
        h = torch.relu(self.fc1(self.pool(self.body(x)).flatten(1)))
        return self.fc2(self.drop(h))


def _images(dataset, n=8):
    return dataset.load_images(np.arange(n))


def test_batched_mc_equals_separate_passes_with_the_same_masks(pneumonia):
    torch.manual_seed(0)
    net = SilentNet(n_classes=2, in_channels=1, width=4, dropout=0.5).eval()
    x = to_float_tensor(_images(pneumonia))
    m = 6
    torch.manual_seed(11)
    batched = NetPredictor(net, CPU).predict(x, m).mc_logits  # (B, C, M)
    # M separate full forward passes with dropout on, drawing masks from the same stream.
    torch.manual_seed(11)
    net.dropout.train()
    separate = torch.stack([net(x) for _ in range(m)], dim=2)
    net.eval()
    assert batched.shape == (8, 2, m)
    assert torch.allclose(batched, separate, atol=1e-5)
    # The M copies get independent masks: the samples differ.
    assert (batched.std(dim=2) > 0).all()


def test_generic_mc_repeats_the_input_batch_and_matches_separate_passes(pneumonia):
    torch.manual_seed(0)
    model = TinyClassifier().eval()
    x = to_float_tensor(_images(pneumonia))
    predictor = ModulePredictor(model, CPU, batch_size=64)
    torch.manual_seed(5)
    batched = predictor.predict(x, 4).mc_logits
    assert not model.drop.training  # switched back off after the MC pass
    torch.manual_seed(5)
    model.drop.train()
    separate = torch.stack([model(x) for _ in range(4)], dim=2)
    assert torch.allclose(batched, separate, atol=1e-5)


def test_mc_dropout_distribution_matches_separate_passes_statistically(pneumonia):
    torch.manual_seed(1)
    net = SilentNet(n_classes=2, in_channels=1, width=4, dropout=0.5).eval()
    x = to_float_tensor(_images(pneumonia, 4))
    torch.manual_seed(2)
    batched = torch.softmax(NetPredictor(net, CPU).predict(x, 300).mc_logits, dim=1)[:, 1]
    torch.manual_seed(3)  # a different stream: agreement in distribution only
    net.dropout.train()
    separate = torch.stack([torch.softmax(net(x), 1)[:, 1] for _ in range(300)], dim=1)
    standard_error = separate.std(1) / np.sqrt(300)
    assert ((batched.mean(1) - separate.mean(1)).abs() < 5 * standard_error + 1e-6).all()
    ratio = batched.std(1) / separate.std(1)
    assert ((ratio > 0.8) & (ratio < 1.25)).all()


def test_audit_model_with_a_custom_module_captures_hooked_features(pneumonia):
    torch.manual_seed(0)
    model = TinyClassifier()
    audit = audit_model(
        model, pneumonia, feature_layer="body", mc_samples=3, device="cpu", n_threads=1
    )
    test = pneumonia.split_of("test")
    x = to_float_tensor(test.load_images())
    with torch.no_grad():
        expected_logits = model.eval()(x).numpy()
        expected_features = model.body(x).mean(dim=(2, 3)).numpy()  # spatial maps are averaged
    iid = audit.test_set == "iid"
    assert np.allclose(audit.logits[iid], expected_logits, atol=1e-5)
    assert np.allclose(audit.features[iid], expected_features, atol=1e-5)
    assert audit.mc_logits.shape == (96, 2, 3)
    assert audit.train_features.shape == (160, 6)
    assert audit.sample_id[iid].tolist() == test.sample_ids.tolist()
    assert audit.image_ref[iid].tolist() == test.image_refs.tolist()
    assert audit.metadata.shape[0] == 96
    # Default features: the input of the last linear layer (the penultimate representation).
    default = audit_model(model, pneumonia, device="cpu", n_threads=1, include_val=False)
    with torch.no_grad():
        hidden = torch.relu(model.fc1(model.pool(model.body(x)).flatten(1))).numpy()
    assert np.allclose(default.features, hidden, atol=1e-5)
    assert default.provenance["inference"]["feature_layer"] == "fc2"
    # The hook is removed afterwards.
    assert not model.body._forward_hooks and not model.fc2._forward_pre_hooks


def test_unknown_feature_layer_lists_close_names(pneumonia):
    with pytest.raises(ValueError, match=r"no layer named 'fc_1' \(close names: fc1"):
        audit_model(TinyClassifier(), pneumonia, feature_layer="fc_1", device="cpu")


def test_a_feature_layer_the_forward_pass_never_calls_is_an_error(pneumonia):
    model = TinyClassifier()
    model.unused = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="layer 'unused' gave no tensor during the forward pass"):
        audit_model(model, pneumonia, feature_layer="unused", device="cpu")


def test_output_width_must_match_the_class_count(pneumonia):
    with pytest.raises(
        ValueError, match="outputs 3 values per image but the dataset has 2 classes"
    ):
        audit_model(TinyClassifier(n_classes=3), pneumonia, device="cpu")


def test_a_model_that_ends_with_a_softmax_is_refused(pneumonia):
    """Its outputs read as logits would go through a second softmax: flat confidences."""
    from silentscope.audit import AuditSetError

    softmaxed = nn.Sequential(TinyClassifier(), nn.Softmax(dim=1))
    with pytest.raises(AuditSetError, match="model's outputs hold probabilities.*final softmax"):
        audit_model(softmaxed, pneumonia, device="cpu", n_threads=1, include_val=False)
    logged = nn.Sequential(TinyClassifier(), nn.LogSoftmax(dim=1))
    audit = audit_model(logged, pneumonia, device="cpu", n_threads=1, include_val=False)
    np.testing.assert_allclose(audit.probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_inputs_the_model_rejects_give_a_clear_error(pneumonia):
    with pytest.raises(
        ValueError, match=r"rejected an input batch of shape \(48, 1, 28, 28\).*preprocess="
    ):
        audit_model(TinyClassifier(in_channels=3), pneumonia, device="cpu")
    rgb = audit_model(
        TinyClassifier(in_channels=3),
        pneumonia,
        device="cpu",
        preprocess=lambda images: to_float_tensor(images).expand(-1, 3, -1, -1),
    )
    assert rgb.logits.shape == (96, 2)


def test_mc_dropout_needs_dropout(pneumonia):
    plain = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    with pytest.raises(ValueError, match="MC dropout needs dropout layers"):
        audit_model(plain, pneumonia, mc_samples=5, device="cpu")
    with pytest.raises(ValueError, match="dropout=0"):
        audit_model(SilentNet(2, 1, width=4, dropout=0.0), pneumonia, mc_samples=5, device="cpu")


def test_shifted_test_sets_record_params_and_prefix_ids(pneumonia, tmp_path):
    net = SilentNet(n_classes=2, in_channels=1, width=4, objective="confidnet")
    sets = corruption_test_sets(pneumonia, ["gaussian_noise"], severities=(2, 5), seed=3)

    def invert(images):
        return 255 - images

    sets["acq/inverted"] = TestSet(pneumonia.split_of("test"), invert)
    audit = audit_model(
        net,
        pneumonia,
        test_sets=sets,
        mc_samples=2,
        feature_dtype="float16",
        device="cpu",
        n_threads=1,
        out=tmp_path / "store",
    )
    assert audit.test_sets == (
        "val",
        "iid",
        "cor/gaussian_noise/2",
        "cor/gaussian_noise/5",
        "acq/inverted",
    )
    noisy = audit.test_set == "cor/gaussian_noise/5"
    record = json.loads(audit.shift_params[noisy][0])
    assert record["corruption"] == "gaussian_noise" and record["severity"] == 5
    assert audit.shift_params[audit.test_set == "iid"][0] == "{}"
    assert (
        audit.sample_id[noisy][0]
        == "cor/gaussian_noise/5:" + audit.sample_id[audit.test_set == "iid"][0]
    )
    assert audit.image_ref[noisy][0] == audit.image_ref[audit.test_set == "iid"][0]
    assert audit.features.dtype == np.float16 and audit.train_features.dtype == np.float16
    assert set(audit.confidences) == {"confidnet"}
    # The severity matters: more noise changes the logits more.
    clean = audit.logits[audit.test_set == "iid"]
    change = [
        np.abs(audit.logits[audit.test_set == f"cor/gaussian_noise/{s}"] - clean).mean()
        for s in (2, 5)
    ]
    assert change[1] > change[0] > 0
    stored = load_audit(tmp_path / "store")
    assert stored.test_sets == audit.test_sets and np.allclose(stored.logits, audit.logits)
    # Same seed, same corrupted images.
    again = audit_model(
        net,
        pneumonia,
        test_sets=corruption_test_sets(pneumonia, ["gaussian_noise"], (2, 5), seed=3),
        device="cpu",
        n_threads=1,
        train_features=False,
    )
    assert np.array_equal(again.logits, audit.logits[: len(again.logits)])


def test_test_set_names_and_classes_are_checked(pneumonia, derma):
    net = SilentNet(n_classes=2, in_channels=1, width=4)
    with pytest.raises(ValueError, match="unknown test-set name 'noisy'"):
        audit_model(net, pneumonia, test_sets={"noisy": pneumonia.split_of("test")}, device="cpu")
    with pytest.raises(ValueError, match="every test set must use the same class names"):
        audit_model(net, pneumonia, test_sets={"acq/derma": derma.split_of("test")}, device="cpu")


def test_deep_ensemble_stores_log_mean_softmax_and_member_logits(pneumonia, tiny, tmp_path):
    tiny.pop("device")
    ensemble = DeepEnsemble(n_members=2, epochs=2, objective="dg", device="cpu", **tiny).fit(
        pneumonia
    )
    audit = ensemble.audit(pneumonia, n_threads=1)
    n = 96
    assert audit.logits.shape == (n, 2) and audit.mc_logits.shape == (n, 2, 2)
    members = [m.network_ for m in ensemble.members_]
    x = to_float_tensor(pneumonia.split_of("val").load_images())
    with torch.no_grad():
        probs = torch.stack([torch.softmax(m(x), 1) for m in members]).mean(0).numpy()
    assert np.allclose(np.exp(audit.logits[audit.test_set == "val"]), probs, atol=1e-5)
    assert np.allclose(np.exp(audit.logits).sum(1), 1, atol=1e-5)
    assert set(audit.confidences) == {"dg"}
    assert audit.provenance["ensemble"]["seeds"] == [0, 1]
    # log mean-softmax is log-probabilities: energy and MLS refuse it (they would be constant)
    assert audit.outputs == "probabilities"
    with pytest.raises(ValueError, match="set mc_samples=0 for an EnsembleNet"):
        ensemble.audit(pneumonia, mc_samples=5)
    reloaded = load_model(ensemble.save(tmp_path / "ensemble.pt"))
    with torch.no_grad():
        assert torch.allclose(reloaded(x), ensemble.network_(x))


def test_torchscript_models_are_audited_without_hooks(pneumonia, tmp_path):
    torch.manual_seed(0)
    model = TinyClassifier().eval()
    path = tmp_path / "model.ts"
    torch.jit.save(torch.jit.script(model), path)
    loaded = load_model(path)
    audit = audit_model(loaded, pneumonia, mc_samples=3, device="cpu", n_threads=1)
    assert audit.features is None and audit.mc_logits.shape == (96, 2, 3)
    with pytest.raises(ValueError, match="TorchScript models do not support forward hooks"):
        audit_model(loaded, pneumonia, feature_layer="fc1", device="cpu")
    traced = tmp_path / "traced.ts"
    torch.jit.save(torch.jit.trace(model, torch.rand(2, 1, 28, 28)), traced)
    with pytest.raises(ValueError, match="M identical samples"):
        audit_model(load_model(traced), pneumonia, mc_samples=3, device="cpu")


def test_state_dicts_need_their_class(tmp_path):
    model = TinyClassifier()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match="bare state dict; pass the model class"):
        load_model(path)
    loaded = load_model(path, TinyClassifier)
    assert torch.equal(loaded.fc2.weight, model.fc2.weight)
    with pytest.raises(ValueError, match="does not fit TinyClassifier"):
        load_model(path, TinyClassifier, {"n_classes": 3})


def test_audits_measure_each_image_as_the_model_saw_it(pneumonia, tmp_path):
    """Appearance measures are acquisition columns, and a corrupted copy is measured corrupted."""
    from silentscope.data.appearance import APPEARANCE_COLUMNS, appearance_measures

    net = SilentNet(n_classes=2, in_channels=1, width=4)
    sets = corruption_test_sets(pneumonia, ["gaussian_noise"], severities=(5,), seed=3)
    audit = audit_model(
        net, pneumonia, test_sets=sets, device="cpu", n_threads=1, train_features=False,
        out=tmp_path / "store",
    )  # fmt: skip
    meta = audit.metadata
    assert set(APPEARANCE_COLUMNS) <= set(meta.columns)
    assert {audit.metadata_roles[c].role for c in APPEARANCE_COLUMNS} == {"acquisition"}
    iid = audit.test_set == "iid"
    clean = appearance_measures(pneumonia.split_of("test").load_images())
    np.testing.assert_allclose(meta.loc[iid, "image noise"], clean["image noise"], rtol=1e-6)
    noisy = audit.test_set == "cor/gaussian_noise/5"
    assert (
        meta.loc[noisy, "image noise"].to_numpy() > meta.loc[iid, "image noise"].to_numpy()
    ).all()
    assert audit.provenance["inference"]["appearance"] == list(APPEARANCE_COLUMNS)
    stored = load_audit(tmp_path / "store")
    assert stored.metadata_roles["image sharpness"].role == "acquisition"
    plain = audit_model(net, pneumonia, device="cpu", n_threads=1, appearance=False)
    assert plain.metadata is None or not set(APPEARANCE_COLUMNS) & set(plain.metadata.columns)


def test_a_metadata_column_named_like_a_measure_is_refused_before_inference(pneumonia):
    import dataclasses

    import pandas as pd

    meta = pd.DataFrame({"image noise": np.zeros(len(pneumonia.labels))})
    clashing = dataclasses.replace(pneumonia, metadata=meta)
    net = SilentNet(n_classes=2, in_channels=1, width=4)
    with pytest.raises(
        ValueError, match=r"already has column\(s\) \['image noise'\].*appearance=False"
    ):
        audit_model(net, clashing, device="cpu", n_threads=1, train_features=False)
    kept = audit_model(net, clashing, device="cpu", n_threads=1, train_features=False,
                       appearance=False)  # fmt: skip
    assert kept.metadata.columns.tolist() == ["image noise"]
