"""ConfidNet (Corbiere et al., NeurIPS 2019): regress the true-class probability."""

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


class ConfidNetHead(nn.Module):
    """An MLP on the penultimate features: ``n_layers`` hidden ReLU layers, one output."""

    def __init__(self, feature_dim: int, hidden: int = 400, n_layers: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        width = feature_dim
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features).squeeze(1)


@register_objective
class ConfidNet(Objective):
    """ConfidNet: after training the classifier with cross-entropy, an MLP on the frozen
    encoder's features learns the true-class probability (TCP) of the classifier.

    Stage 1 trains the classifier; stage 2 freezes encoder and head (eval mode, so
    dropout is off and batch-norm statistics stay fixed) and minimises

    .. math:: L = \\frac{1}{B} \\sum_i \\left(\\sigma(g(f_i)) - p(y_i \\mid x_i)\\right)^2

    where :math:`g` is the MLP, :math:`f_i` the features and :math:`p(y_i|x_i)` the
    classifier's softmax probability of the true class. The confidence ``confidnet`` is
    :math:`g(f)`, the logit of the TCP estimate (same ranking as :math:`\\sigma(g(f))`,
    without float32 saturation). Model selection in stage 2 uses the validation MSE. The
    optional third stage of Corbiere et al. (fine-tuning the encoder jointly) is omitted.

    Parameters
    ----------
    confidnet_epochs : int, optional
        Epochs of stage 2; half of the epochs when None.
    hidden : int, default 400
        Hidden width (Corbiere et al. use 400).
    n_layers : int, default 4
        Hidden layers (Corbiere et al. use 5 dense layers in all, i.e. 4 hidden).

    Examples
    --------
    >>> [(s.name, s.epochs, s.monitor) for s in ConfidNet().stages(10)]
    [('classifier', 5, 'accuracy'), ('confidnet', 5, 'loss')]
    """

    name = "confidnet"
    confidence_names = ("confidnet",)

    def __init__(self, confidnet_epochs: int | None = None, hidden: int = 400, n_layers: int = 4):
        self.confidnet_epochs = confidnet_epochs
        self.hidden = hidden
        self.n_layers = n_layers

    def build_heads(self, feature_dim: int) -> dict[str, nn.Module]:
        if int(self.hidden) < 1 or int(self.n_layers) < 0:
            raise ValueError(
                f"ConfidNet needs hidden >= 1 and n_layers >= 0, got {self.hidden} and {self.n_layers}"
            )
        return {"confidnet": ConfidNetHead(feature_dim, int(self.hidden), int(self.n_layers))}

    def stages(self, epochs: int) -> list[Stage]:
        second = None if self.confidnet_epochs is None else epochs - int(self.confidnet_epochs)
        classifier, confidnet = split_epochs(epochs, second, 1 / 2, "epochs - confidnet_epochs")
        return [
            Stage("classifier", classifier, ("backbone", "head")),
            Stage("confidnet", confidnet, ("heads.confidnet",), monitor="loss"),
        ]

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
        if stage.name == "classifier":
            return nn.functional.cross_entropy(out.logits, labels)
        with torch.no_grad():
            tcp = torch.softmax(out.logits, dim=1).gather(1, labels[:, None]).squeeze(1)
        return nn.functional.mse_loss(torch.sigmoid(out.heads["confidnet"]), tcp)

    def confidences(self, out: NetOutput) -> dict[str, torch.Tensor]:
        # The head's logit, not its sigmoid: the ranking is the same, but where the
        # classifier is nearly always right on its training data (TCP ~ 1, e.g. 98% on
        # PneumoniaMNIST) the sigmoid rounds to exactly 1.0 in float32 for every sample and
        # all confidences tie; the logit keeps them apart.
        return {"confidnet": out.heads["confidnet"]}
