"""``silentscope train`` and ``silentscope audit-model`` end to end on small real-format data."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from silentscope.audit.store import load_audit
from silentscope.cli import app

runner = CliRunner()
SYNTHETIC = ["--dataset", "synthetic", "--data-option", "n_samples=200", "--data-option", "size=16"]
FAST = ["--width", "4", "--threads", "1", "--batch-size", "32", "--no-progress"]


def test_train_writes_model_history_checkpoint_and_audit_store(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        *SYNTHETIC,
        *FAST,
        "--objective",
        "dg",
        "--objective-param",
        "reward=1.8",
        "--epochs",
        "2",
        "--mc-samples",
        "4",
        "--corruption",
        "gaussian_noise",
        "--severity",
        "4",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "model.pt").is_file() and (out / "checkpoints" / "training_state.pt").is_file()
    history = pd.read_csv(out / "history.csv")
    assert history["stage"].tolist() == ["pretrain", "gambler"]
    audit = load_audit(out / "audit")
    assert audit.test_sets == ("val", "iid", "cor/gaussian_noise/4")
    assert set(audit.confidences) == {"dg"} and audit.mc_logits.shape[2] == 4
    assert audit.provenance["objective_params"]["reward"] == 1.8
    assert audit.provenance["dataset_spec"] == "synthetic"
    # A second run into the same folder must be explicit.
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    # The saved model audits again through audit-model, external confidences included.
    store = tmp_path / "again"
    audited = runner.invoke(
        app,
        ["audit-model", str(out / "model.pt"), *SYNTHETIC, "--mc-samples", "2", "--threads", "1"]
        + ["--no-progress", "--out", str(store)],
    )
    assert audited.exit_code == 0, audited.output
    again_audit = load_audit(store)
    assert set(again_audit.confidences) == {"dg"}
    iid = audit.test_set == "iid"
    assert (again_audit.logits[again_audit.test_set == "iid"] == audit.logits[iid]).all()


def test_train_a_deep_ensemble(tmp_path):
    out = tmp_path / "ens"
    result = runner.invoke(
        app, ["train", *SYNTHETIC, *FAST, "--epochs", "1", "--ensemble", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    audit = load_audit(out / "audit")
    assert audit.mc_logits.shape[2] == 2 and audit.provenance["ensemble"]["n_members"] == 2


@pytest.fixture
def user_model_module(tmp_path, monkeypatch):
    """A user's own model class in an importable module."""
    (tmp_path / "user_models.py").write_text(
        textwrap.dedent("""
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self, n_classes=3):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3, padding=1)
                self.avgpool = nn.AdaptiveAvgPool2d(1)
                self.drop = nn.Dropout(0.3)
                self.fc = nn.Linear(4, n_classes)

            def forward(self, x):
                return self.fc(self.drop(self.avgpool(torch.relu(self.conv(x))).flatten(1)))
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("user_models")


def test_audit_model_from_a_state_dict_with_its_class(tmp_path, user_model_module):
    weights = tmp_path / "weights.pt"
    torch.save(user_model_module.Net().state_dict(), weights)
    out = tmp_path / "store"
    result = runner.invoke(
        app,
        [
            "audit-model",
            str(weights),
            *SYNTHETIC,
            "--model-class",
            "user_models:Net",
            "--feature-layer",
            "avgpool",
            "--mc-samples",
            "3",
            "--threads",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    audit = load_audit(out)
    assert audit.features.shape[1] == 4 and audit.mc_logits.shape[2] == 3
    assert audit.provenance["inference"]["feature_layer"] == "avgpool"


def test_audit_model_errors_are_one_line(tmp_path, user_model_module):
    weights = tmp_path / "weights.pt"
    torch.save(user_model_module.Net().state_dict(), weights)
    base = [
        "audit-model",
        str(weights),
        *SYNTHETIC,
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path / "s"),
    ]
    bad_layer = runner.invoke(
        app, [*base, "--model-class", "user_models:Net", "--feature-layer", "avg_pool"]
    )
    assert bad_layer.exit_code == 2 and "close names: avgpool" in bad_layer.output
    no_class = runner.invoke(app, base)
    assert no_class.exit_code == 2 and "bare state dict" in no_class.output
    wrong_classes = runner.invoke(
        app, [*base, "--model-class", "user_models:Net", "--model-kwargs", '{"n_classes": 2}']
    )
    assert wrong_classes.exit_code == 2 and "does not fit Net" in wrong_classes.output
    missing = runner.invoke(
        app, ["audit-model", str(tmp_path / "nope.pt"), *SYNTHETIC, "--out", str(tmp_path / "s")]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_train_bce_on_a_multi_label_dataset_writes_one_store_per_finding(tmp_path):
    from tests.support.datasets import chest_npz

    arrays = chest_npz(tmp_path / "chestmnist.npz")
    out = tmp_path / "run"
    data = ["--dataset", "medmnist:chestmnist", "--data-root", str(tmp_path)]
    base = ["train", *data, *FAST, "--objective", "bce", "--epochs", "1", "--mc-samples", "2"]
    result = runner.invoke(app, [*base, "--threshold", "0.4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stores = sorted(p.name for p in (out / "audit").iterdir())
    assert len(stores) == 14 and {"pleural", "hernia", "cardiomegaly"} <= set(stores)
    audit = load_audit(out / "audit" / "cardiomegaly")
    test = audit.select("iid")
    assert test.label.tolist() == arrays["test_labels"][:, 1].tolist()  # cardiomegaly column
    assert audit.provenance["multi_label"]["finding"] == "cardiomegaly"
    assert audit.provenance["multi_label"]["threshold"] == pytest.approx(0.4)
    assert audit.mc_logits.shape[2] == 2
    bad = runner.invoke(app, [*base, "--threshold", "1.5", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "--threshold must be a probability in (0, 1)" in bad.output
    ensemble = runner.invoke(app, [*base, "--ensemble", "2", "--out", str(tmp_path / "e")])
    assert ensemble.exit_code == 2 and "drop --ensemble" in ensemble.output
    # the saved network audits again per finding through audit-model, same logits
    again = tmp_path / "again"
    audited = runner.invoke(
        app, ["audit-model", str(out / "model.pt"), *data, "--threshold", "0.4", "--no-progress"]
        + ["--threads", "1", "--out", str(again)],
    )  # fmt: skip
    assert audited.exit_code == 0, audited.output
    reaudit = load_audit(again / "cardiomegaly")
    assert (reaudit.select("iid").logits == test.logits).all()
