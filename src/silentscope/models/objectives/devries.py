"""DeVries & Taylor 2018: a confidence branch trained with hints."""

from __future__ import annotations

import torch
from torch import nn

from silentscope.models.objectives.base import NetOutput, Objective, Stage, register_objective

_EPS = 1e-12


class DeVriesBranch(nn.Module):
    """A linear confidence branch; its loss weight lambda is a buffer so checkpoints keep it."""

    def __init__(self, feature_dim: int, lmbda: float):
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1)
        self.register_buffer("lmbda", torch.tensor(float(lmbda), dtype=torch.float64))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).squeeze(1)


@register_objective
class DeVries(Objective):
    """Learned confidence with hints (DeVries & Taylor, "Learning Confidence for
    Out-of-Distribution Detection in Neural Networks", 2018).

    A branch outputs :math:`c = \\sigma(w^T f + b)`. During training, half of each batch
    (:math:`b_i \\sim \\mathrm{Bernoulli}(1/2)`) is given hints: the prediction is
    interpolated towards the label, :math:`p' = c\\,p + (1 - c)\\,\\mathrm{onehot}(y)`,
    so the network can buy a lower task loss by lowering :math:`c` at the price of

    .. math:: L = -\\log p'_y + \\lambda \\, (-\\log c).

    :math:`\\lambda` adapts to a budget :math:`\\beta`: after each batch it is divided by
    0.99 when :math:`-\\log c > \\beta` and by 1.01 otherwise. The confidence
    ``devries`` is :math:`c`.

    Parameters
    ----------
    budget : float, default 0.3
        :math:`\\beta` (DeVries & Taylor; FD-Shifts default).
    lmbda : float, default 0.1
        Initial :math:`\\lambda`.

    Examples
    --------
    >>> DeVries().stages(4)[0].modules
    ('backbone', 'head', 'heads.devries')
    """

    name = "devries"
    confidence_names = ("devries",)

    def __init__(self, budget: float = 0.3, lmbda: float = 0.1):
        self.budget = budget
        self.lmbda = lmbda

    def build_heads(self, feature_dim: int) -> dict[str, nn.Module]:
        if not float(self.budget) > 0 or not float(self.lmbda) > 0:
            raise ValueError(
                f"DeVries budget and lmbda must be > 0, got {self.budget} and {self.lmbda}"
            )
        return {"devries": DeVriesBranch(feature_dim, float(self.lmbda))}

    def stages(self, epochs: int) -> list[Stage]:
        return [Stage("classifier", epochs, ("backbone", "head", "heads.devries"))]

    def loss(
        self,
        stage: Stage,
        out: NetOutput,
        labels: torch.Tensor,
        net: nn.Module,
        *,
        train: bool,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        probs = torch.softmax(out.logits, dim=1).clamp(_EPS, 1 - _EPS)
        confidence = torch.sigmoid(out.heads["devries"]).clamp(_EPS, 1 - _EPS)
        branch = net.heads["devries"]
        if not train:
            # Validation: no hints, no lambda update; the plain task loss plus the penalty.
            nll = nn.functional.nll_loss(torch.log(probs), labels)
            return nll + float(branch.lmbda) * (-torch.log(confidence)).mean()
        hint = torch.rand(len(labels), generator=generator) < 0.5
        hint = hint.to(confidence.device)
        c = torch.where(hint, confidence, torch.ones_like(confidence))
        onehot = nn.functional.one_hot(labels, probs.shape[1]).to(probs.dtype)
        mixed = c[:, None] * probs + (1 - c[:, None]) * onehot
        confidence_loss = (-torch.log(confidence)).mean()
        total = (
            nn.functional.nll_loss(torch.log(mixed), labels)
            + branch.lmbda.float() * confidence_loss
        )
        with torch.no_grad():  # updated on the device: no host synchronisation per batch
            over_budget = confidence_loss.detach().double() > float(self.budget)
            branch.lmbda.copy_(torch.where(over_budget, branch.lmbda / 0.99, branch.lmbda / 1.01))
        return total

    def confidences(self, out: NetOutput) -> dict[str, torch.Tensor]:
        return {"devries": torch.sigmoid(out.heads["devries"])}
