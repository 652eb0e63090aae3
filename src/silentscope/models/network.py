"""The networks: SilentNet (backbone, dropout before the classifier head, the objective's
confidence heads) and EnsembleNet (the mean of several SilentNets).

Training lives apart (:mod:`~silentscope.models.training`, :mod:`~silentscope.models.ensemble`);
checkpoints and inference import the networks from here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from silentscope.models.backbones import auto_backbone, build_backbone
from silentscope.models.objectives import NetOutput, Objective, make_objective

CHECKPOINT_FORMAT = "silentscope.model"
CHECKPOINT_VERSION = 1
ENSEMBLE_FORMAT = "silentscope.ensemble"


def _check_format(checkpoint: dict[str, Any], expected: str, kind: str) -> None:
    if checkpoint.get("format") != expected:
        raise ValueError(
            f"not a silentscope {kind} checkpoint (format {checkpoint.get('format')!r})"
        )


class SilentNet(nn.Module):
    """An image classifier built for failure-detection studies.

    ``images (B, C, H, W) in [0, 1] -> normalise -> backbone -> features (B, D) -> dropout
    -> linear head -> (B, n_classes + extra)``, plus confidence heads on the features.
    Dropout sits only before the head, so MC-dropout samples need the encoder once: the
    features are repeated M times and only dropout and head run per sample (see
    :meth:`mc_logits`). ``forward`` returns the class logits only, so the network is an
    ordinary classifier for any other tool.

    With a multi-label objective (``objective="bce"``) the head has one output per finding
    (``n_classes`` = K >= 1), read as K independent sigmoid logits rather than a softmax;
    ``multi_label`` is then True and the checkpoint records the objective, so loading
    restores it.

    Parameters
    ----------
    n_classes : int
        Classes (>= 2), or findings (>= 1) for a multi-label objective.
    in_channels : int
        1 for grey, 3 for RGB.
    objective : str or Objective, default "ce"
        Training objective; decides extra outputs and confidence heads.
    backbone : str, default "auto"
        A registered backbone name (see :data:`silentscope.models.backbones.BACKBONES`).
    width : int, optional
        Backbone width; the backbone's default when None.
    image_size : int, default 28
        Side length the network is trained at; inference resizes other sizes to it.
    dropout : float, default 0.3
        Dropout probability before the head (0 disables MC dropout).
    mean, std : sequence of float, optional
        Per-channel input normalisation (of images scaled to [0, 1]); 0.5 when None.
    objective_params : dict, optional
        Parameters of the objective when it is given by name.

    Examples
    --------
    >>> net = SilentNet(n_classes=3, in_channels=1, objective="dg", width=4)
    >>> net(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 3])
    >>> net.eval().mc_logits(net.features(torch.rand(2, 1, 28, 28)), 5).shape
    torch.Size([2, 3, 5])
    >>> multi = SilentNet(n_classes=14, in_channels=1, objective="bce", width=4)
    >>> multi.multi_label, multi(torch.rand(2, 1, 28, 28)).shape
    (True, torch.Size([2, 14]))
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int,
        objective: str | Objective = "ce",
        backbone: str = "auto",
        width: int | None = None,
        image_size: int = 28,
        dropout: float = 0.3,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        objective_params: dict[str, Any] | None = None,
    ):
        super().__init__()
        if int(in_channels) not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (RGB), got {in_channels}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if isinstance(objective, str):
            objective = make_objective(objective, **(objective_params or {}))
        if objective.multi_label and int(n_classes) < 1:
            raise ValueError(f"a multi-label network needs at least 1 finding, got {n_classes}")
        if not objective.multi_label and int(n_classes) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got n_classes={n_classes}")
        backbone = auto_backbone(image_size) if backbone == "auto" else backbone
        mean = [0.5] * int(in_channels) if mean is None else [float(m) for m in mean]
        std = [0.5] * int(in_channels) if std is None else [float(s) for s in std]
        if len(mean) != int(in_channels) or len(std) != int(in_channels) or min(std) <= 0:
            raise ValueError(
                f"mean and std need {in_channels} values each, std > 0; got {mean} and {std}"
            )
        self.objective = objective
        self.n_classes = int(n_classes)
        self.config: dict[str, Any] = {
            "n_classes": int(n_classes),
            "in_channels": int(in_channels),
            "objective": objective.name,
            "objective_params": objective.get_params(),
            "backbone": backbone,
            "width": None if width is None else int(width),
            "image_size": int(image_size),
            "dropout": float(dropout),
            "mean": mean,
            "std": std,
        }
        # channels-last activations: oneDNN's faster convolution layout on CPU (about 20-30%
        # per step here); the result is independent of the layout up to rounding.
        self.backbone = build_backbone(backbone, int(in_channels), width, int(image_size)).to(
            memory_format=torch.channels_last
        )
        dim = self.backbone.out_features
        self.dropout = nn.Dropout(float(dropout))
        self.head = nn.Linear(dim, self.n_classes + objective.extra_outputs())
        self.heads = nn.ModuleDict(objective.build_heads(dim))
        self.register_buffer("input_mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("input_std", torch.tensor(std).view(1, -1, 1, 1))

    @property
    def multi_label(self) -> bool:
        """Whether the outputs are K independent sigmoid logits (a multi-label objective)."""
        return bool(self.objective.multi_label)

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    @property
    def image_size(self) -> int:
        return self.config["image_size"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, D) of images in [0, 1]."""
        x = (x - self.input_mean) / self.input_std
        return self.backbone(x.contiguous(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_classes); per-finding sigmoid logits when multi-label."""
        return self.head(self.dropout(self.features(x)))[:, : self.n_classes]

    def forward_all(self, x: torch.Tensor) -> NetOutput:
        """Features, head outputs and confidence-head outputs of one pass."""
        features = self.features(x)
        outputs = self.head(self.dropout(features))
        heads = {name: head(features) for name, head in self.heads.items()}
        return NetOutput(features=features, outputs=outputs, heads=heads, n_classes=self.n_classes)

    def mc_logits(self, features: torch.Tensor, n_samples: int) -> torch.Tensor:
        """MC-dropout class logits (B, n_classes, M) from features, in one batched pass.

        The features are repeated M times along the batch and dropout is applied in
        training mode (independent masks per copy), whatever the module's mode.
        """
        if self.dropout.p == 0:
            raise ValueError(
                "this network has dropout=0, so MC dropout gives M identical samples; "
                "train with dropout > 0 or set mc_samples=0"
            )
        b = features.shape[0]
        repeated = features.repeat(int(n_samples), 1)
        dropped = nn.functional.dropout(repeated, self.dropout.p, training=True)
        logits = self.head(dropped)[:, : self.n_classes]
        return logits.view(int(n_samples), b, self.n_classes).permute(1, 2, 0)

    def set_trainable(self, modules: tuple[str, ...]) -> list[nn.Parameter]:
        """Put ``modules`` in training mode with gradients and freeze the rest (eval mode).

        ``head`` includes the dropout before it. Returns the trainable parameters.
        """
        names = set(modules) | ({"dropout"} if "head" in modules else set())
        self.eval()
        self.requires_grad_(False)
        params: list[nn.Parameter] = []
        for name in sorted(names):
            try:
                module = self.get_submodule(name)
            except AttributeError:
                raise ValueError(f"the network has no sub-module {name!r} to train") from None
            module.train()
            module.requires_grad_(True)
            params += list(module.parameters())
        return params

    def external_confidences(self, out: NetOutput) -> dict[str, torch.Tensor]:
        """The objective's external confidences (higher = more confident)."""
        return self.objective.confidences(out)

    def to_checkpoint(self, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
        """A dict of plain values and tensors: loadable with ``torch.load(weights_only=True)``."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "provenance": provenance or {},
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> SilentNet:
        """Rebuild a network saved with :meth:`to_checkpoint`."""
        _check_format(checkpoint, CHECKPOINT_FORMAT, "model")
        config = dict(checkpoint["config"])
        objective = config.pop("objective")
        net = cls(objective=objective, **config)
        net.load_state_dict(checkpoint["state_dict"])
        return net.eval()


class EnsembleNet(nn.Module):
    """K networks whose prediction is the mean of their softmax outputs.

    ``forward`` returns :math:`\\log \\frac{1}{K}\\sum_k \\mathrm{softmax}(z_k)`, a valid
    logit vector whose softmax is the ensemble's mean probability. In an AuditSet the
    ensemble is stored as:

    - ``logits``: that log mean-softmax, so MSR, PE and every logit-based CSF score the
      ensemble prediction (DE-MSR, DE-PE of FD-Shifts);
    - ``mc_logits``: the K members' logits (N, C, K), so the MC-sample CSFs (expected
      entropy, mutual information, sample variance) become their ensemble versions;
    - ``features``: the first member's penultimate features;
    - external confidences: the members' mean (for DG, ConfidNet or DeVries members).

    Examples
    --------
    >>> members = [SilentNet(n_classes=2, in_channels=1, width=4) for _ in range(3)]
    >>> ensemble = EnsembleNet(members).eval()
    >>> probs = ensemble(torch.rand(2, 1, 28, 28)).exp()
    >>> torch.allclose(probs.sum(1), torch.ones(2))
    True
    """

    def __init__(self, members: list[SilentNet]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        classes = {m.n_classes for m in members}
        if len(classes) != 1:
            raise ValueError(
                f"ensemble members disagree on the number of classes: {sorted(classes)}"
            )
        self.members = nn.ModuleList(members)
        self.n_classes = members[0].n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members], dim=2)
        return torch.logsumexp(log_probs, dim=2) - np.log(len(self.members))

    def to_checkpoint(self, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
        """The members' checkpoints in one dict, loadable with ``torch.load(weights_only=True)``."""
        return {
            "format": ENSEMBLE_FORMAT,
            "version": 1,
            "members": [m.to_checkpoint() for m in self.members],
            "provenance": provenance or {},
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> EnsembleNet:
        """Rebuild an ensemble saved with :meth:`to_checkpoint`."""
        _check_format(checkpoint, ENSEMBLE_FORMAT, "ensemble")
        return cls([SilentNet.from_checkpoint(m) for m in checkpoint["members"]]).eval()


def ensemble_from_models(models: list[SilentNet]) -> EnsembleNet:
    """An ensemble of already trained networks (e.g. loaded checkpoints)."""
    return EnsembleNet([copy.deepcopy(m).eval() for m in models])
