"""Deep Gamblers (Liu et al., NeurIPS 2019): learn to abstain with an extra output."""

from __future__ import annotations

import torch
from torch import nn

from silentscope.models.objectives.base import (
    NetOutput,
    Objective,
    Stage,
    register_objective,
    split_epochs,
)


@register_objective
class DeepGamblers(Objective):
    """Deep Gamblers: C + 1 outputs, the last one an abstention ("reservation") class.

    After ``pretrain_epochs`` of cross-entropy on the C class outputs, the loss is the
    gambler's log-return

    .. math:: L = -\\log\\left(p_y + \\frac{p_{C+1}}{o}\\right)

    with softmax probabilities over all C + 1 outputs and payoff ``reward`` :math:`o`. A
    smaller :math:`o` makes abstaining cheaper. The confidence is
    :math:`1 - p_{C+1}` (named ``dg``), higher = more confident.

    Parameters
    ----------
    reward : float, default 2.2
        The payoff :math:`o > 1`. Liu et al. recommend :math:`1 < o \\le C`; 2.2 is the
        FD-Shifts default (Jaeger et al. 2023), which they tuned over {2.2, 3, 6, 10, 15}.
    pretrain_epochs : int, optional
        Cross-entropy epochs before the gambler loss; one third of the epochs when None.

    Examples
    --------
    >>> [(s.name, s.epochs) for s in DeepGamblers().stages(9)]
    [('pretrain', 3), ('gambler', 6)]
    """

    name = "dg"
    confidence_names = ("dg",)

    def __init__(self, reward: float = 2.2, pretrain_epochs: int | None = None):
        self.reward = reward
        self.pretrain_epochs = pretrain_epochs

    def extra_outputs(self) -> int:
        return 1

    def stages(self, epochs: int) -> list[Stage]:
        if not float(self.reward) > 1.0:
            raise ValueError(
                f"DeepGamblers reward must be > 1 (payoff of a correct bet), got {self.reward}"
            )
        pretrain, gamble = split_epochs(epochs, self.pretrain_epochs, 1 / 3, "pretrain_epochs")
        modules = ("backbone", "head")
        return [Stage("pretrain", pretrain, modules), Stage("gambler", gamble, modules)]

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
        if stage.name == "pretrain":
            return nn.functional.cross_entropy(out.logits, labels)
        probs = torch.softmax(out.outputs, dim=1)
        p_true = probs.gather(1, labels[:, None]).squeeze(1)
        p_abstain = probs[:, -1]
        # The clamp keeps log finite when a sample is both wrong and never abstained on.
        return -torch.log((p_true + p_abstain / float(self.reward)).clamp_min(1e-12)).mean()

    def confidences(self, out: NetOutput) -> dict[str, torch.Tensor]:
        return {"dg": 1.0 - torch.softmax(out.outputs, dim=1)[:, -1]}
