"""Training objectives: each reduces its loss, formulas match the papers, names are exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from silentscope.models import Trainer, make_objective
from silentscope.models.network import SilentNet
from silentscope.models.objectives import NetOutput, Stage


@pytest.mark.parametrize(
    ("objective", "epochs"), [("ce", 3), ("dg", 5), ("confidnet", 6), ("devries", 3)]
)
def test_each_objective_reduces_its_training_loss(pneumonia, tiny, objective, epochs):
    trainer = Trainer(objective=objective, epochs=epochs, lr=3e-3, patience=0, **tiny).fit(
        pneumonia
    )
    history = trainer.history_
    assert trainer.finished_
    for stage, rows in history.groupby("stage", sort=False):
        if len(rows) >= 2:
            assert rows["train_loss"].iloc[-1] < rows["train_loss"].iloc[0], (stage, rows)
    assert np.isfinite(history["val_loss"]).all()
    audit = trainer.audit(pneumonia, device="cpu", n_threads=1)
    expected = {"ce": set(), "dg": {"dg"}, "confidnet": {"confidnet"}, "devries": {"devries"}}[
        objective
    ]
    assert set(audit.confidences) == expected
    for name, values in audit.confidences.items():
        assert values.std() > 0
        if name != "confidnet":  # ConfidNet's confidence is the logit of its TCP estimate
            assert ((values >= 0) & (values <= 1)).all()


def test_objectives_are_found_by_exact_name_only():
    with pytest.raises(ValueError, match="unknown objective 'CE'; did you mean 'ce'"):
        make_objective("CE")
    with pytest.raises(
        ValueError, match="unknown objective 'xyz'; valid names: bce, ce, confidnet"
    ):
        make_objective("xyz")
    with pytest.raises(ValueError, match="has no parameter"):
        make_objective("dg", rewrd=3)
    assert make_objective("dg", reward=3.0).reward == 3.0


def _output(outputs, n_classes, heads=None):
    return NetOutput(torch.zeros(len(outputs), 4), torch.tensor(outputs), heads or {}, n_classes)


def test_deep_gamblers_loss_is_the_gamblers_log_return():
    dg = make_objective("dg", reward=2.0)
    out = _output([[2.0, 0.0, 1.0], [0.0, 1.0, -1.0]], n_classes=2)
    labels = torch.tensor([0, 0])
    stage = dg.stages(3)[1]
    p = torch.softmax(out.outputs, 1)
    expected = -torch.log(p[torch.arange(2), labels] + p[:, 2] / 2.0).mean()
    loss = dg.loss(stage, out, labels, net=None, train=True)
    assert torch.allclose(loss, expected)
    # Pre-training ignores the abstention output: plain cross-entropy on the class logits.
    pre = dg.loss(dg.stages(3)[0], out, labels, net=None, train=True)
    assert torch.allclose(pre, torch.nn.functional.cross_entropy(out.outputs[:, :2], labels))
    assert torch.allclose(dg.confidences(out)["dg"], 1 - p[:, 2])


def test_deep_gamblers_rejects_a_reward_that_pays_nothing():
    with pytest.raises(ValueError, match="reward must be > 1"):
        make_objective("dg", reward=1.0).stages(4)


def test_devries_lambda_follows_the_budget():
    net = SilentNet(n_classes=2, in_channels=1, objective="devries", width=4)
    objective = net.objective
    branch = net.heads["devries"]
    stage = objective.stages(2)[0]
    labels = torch.tensor([0, 1, 0, 1])
    low = _output(
        [[0.0, 0.0]] * 4, 2, {"devries": torch.full((4,), -6.0)}
    )  # c ~ 0: -log c >> budget
    objective.loss(stage, low, labels, net, train=True, generator=torch.Generator().manual_seed(0))
    assert float(branch.lmbda) == pytest.approx(0.1 / 0.99)
    high = _output(
        [[0.0, 0.0]] * 4, 2, {"devries": torch.full((4,), 8.0)}
    )  # c ~ 1: -log c < budget
    objective.loss(stage, high, labels, net, train=True, generator=torch.Generator().manual_seed(0))
    assert float(branch.lmbda) == pytest.approx(0.1 / 0.99 / 1.01)
    # Validation leaves lambda alone and uses no hints.
    objective.loss(stage, low, labels, net, train=False)
    assert float(branch.lmbda) == pytest.approx(0.1 / 0.99 / 1.01)


def test_devries_hints_lower_the_task_loss_of_a_wrong_prediction():
    net = SilentNet(n_classes=2, in_channels=1, objective="devries", width=4)
    objective, stage = net.objective, net.objective.stages(2)[0]
    labels = torch.ones(64, dtype=torch.long)
    wrong = [[4.0, -4.0]] * 64
    unsure = _output(wrong, 2, {"devries": torch.full((64,), -3.0)})
    sure = _output(wrong, 2, {"devries": torch.full((64,), 6.0)})
    net.heads["devries"].lmbda.fill_(0.0)  # compare the task terms only
    g = torch.Generator().manual_seed(1)
    assert objective.loss(stage, unsure, labels, net, train=True, generator=g) < objective.loss(
        stage, sure, labels, net, train=True, generator=torch.Generator().manual_seed(1)
    )


def test_confidnet_regresses_tcp_and_keeps_the_classifier_frozen(pneumonia, tiny, tmp_path):
    params = {**tiny, "objective": "confidnet", "epochs": 4, "patience": 0}
    partial = Trainer(**params).fit(pneumonia, checkpoint_dir=tmp_path, stop_after=3)
    assert not partial.finished_  # stage 1 (2 epochs) done, 1 of 2 ConfidNet epochs
    full = Trainer(**params).fit(pneumonia, checkpoint_dir=tmp_path, resume=True)
    assert full.finished_
    a, b = partial.network_.state_dict(), full.network_.state_dict()
    frozen = [k for k in a if k.startswith(("backbone.", "head."))]
    assert frozen and all(torch.equal(a[k], b[k]) for k in frozen)
    assert not all(torch.equal(a[k], b[k]) for k in a if k.startswith("heads.confidnet"))
    # The ConfidNet loss is the MSE between sigmoid(output) and the true-class probability.
    objective = full.network_.objective
    out = _output([[1.0, 0.0]], 2, {"confidnet": torch.tensor([0.0])})
    tcp = torch.softmax(torch.tensor([1.0, 0.0]), 0)[1]
    loss = objective.loss(
        Stage("confidnet", 1, ("heads.confidnet",), "loss"),
        out,
        torch.tensor([1]),
        None,
        train=True,
    )
    assert float(loss) == pytest.approx(float((0.5 - tcp) ** 2))


def test_confidnet_confidence_does_not_saturate_into_ties():
    # sigmoid(20) and sigmoid(30) are both exactly 1.0 in float32; their logits are not.
    objective = make_objective("confidnet")
    out = _output([[1.0, 0.0], [1.0, 0.0]], 2, {"confidnet": torch.tensor([20.0, 30.0])})
    assert torch.sigmoid(torch.tensor([20.0, 30.0])).unique().numel() == 1
    confidence = objective.confidences(out)["confidnet"]
    assert confidence[1] > confidence[0]


def test_objective_parameters_are_validated():
    with pytest.raises(ValueError, match="pretrain_epochs must be between 1 and epochs - 1"):
        make_objective("dg", pretrain_epochs=5).stages(5)
    with pytest.raises(ValueError, match="needs epochs >= 2"):
        make_objective("confidnet").stages(1)
    with pytest.raises(ValueError, match="budget and lmbda must be > 0"):
        SilentNet(n_classes=2, in_channels=1, objective="devries", objective_params={"budget": 0})
