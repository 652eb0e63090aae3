"""The training-objective contract and its registry.

An objective decides what the network carries beyond the class logits (extra outputs,
confidence heads), how training is staged, the loss of each stage, and which external
confidences it yields at inference. Objectives are registered by exact name.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from silentscope._suggest import unknown_name

OBJECTIVES: dict[str, type[Objective]] = {}
MONITORS = ("accuracy", "loss", "dice")


def register_objective(cls: type[Objective]) -> type[Objective]:
    """Class decorator adding an objective to :data:`OBJECTIVES` under ``cls.name``."""
    if cls.name in OBJECTIVES:
        raise ValueError(f"objective {cls.name!r} is already registered")
    OBJECTIVES[cls.name] = cls
    return cls


def make_objective(name: str, **params: Any) -> Objective:
    """Instantiate a registered objective by exact name.

    Examples
    --------
    >>> make_objective("dg", reward=3.0).get_params()["reward"]
    3.0
    """
    if name not in OBJECTIVES:
        raise ValueError(unknown_name("objective", name, sorted(OBJECTIVES)))
    cls = OBJECTIVES[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"objective {name!r} has no parameter(s) {unknown}; its parameters are {sorted(accepted)}"
        )
    return cls(**params)


@dataclass(frozen=True)
class Stage:
    """One phase of training.

    Parameters
    ----------
    name : str
        Shown in progress bars and recorded in the history.
    epochs : int
    modules : tuple of str
        Sub-modules of the network trained in this stage (``backbone``, ``head``,
        ``heads.<name>``); the others are frozen and run in eval mode.
    monitor : {"accuracy", "loss", "dice"}
        Model selection on the validation split: highest accuracy (ties broken by lower
        loss), lowest stage loss, or (segmentation) highest mean foreground Dice (ties
        broken by lower loss).
    """

    name: str
    epochs: int
    modules: tuple[str, ...]
    monitor: str = "accuracy"

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(f"stage monitor must be one of {MONITORS}, got {self.monitor!r}")

    @property
    def trains_backbone(self) -> bool:
        return "backbone" in self.modules


@dataclass
class NetOutput:
    """What one forward pass of a :class:`~silentscope.models.network.SilentNet` produces.

    ``outputs`` holds the classifier head's outputs, (B, C + extra); ``heads`` the raw
    outputs of the confidence heads by name.
    """

    features: torch.Tensor
    outputs: torch.Tensor
    heads: dict[str, torch.Tensor]
    n_classes: int

    @property
    def logits(self) -> torch.Tensor:
        """Class logits (B, C): the extra outputs (e.g. the DG abstention) removed."""
        return self.outputs[:, : self.n_classes]


class Objective:
    """Base class: plain cross-entropy behaviour; subclasses override what differs."""

    name: ClassVar[str] = ""
    #: Names of the external confidences this objective adds to the AuditSet.
    confidence_names: ClassVar[tuple[str, ...]] = ()
    #: Whether the objective trains K independent findings on ``ImageDataset.targets``.
    multi_label: ClassVar[bool] = False

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their values (scikit-learn convention)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def extra_outputs(self) -> int:
        """Outputs of the classifier head beyond the C class logits."""
        return 0

    def build_heads(self, feature_dim: int) -> dict[str, nn.Module]:
        """Confidence heads on the penultimate features, by name."""
        return {}

    def stages(self, epochs: int) -> list[Stage]:
        """The training stages for a budget of ``epochs`` epochs in total."""
        return [Stage("classifier", epochs, ("backbone", "head"))]

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
        """Mean loss of a batch in ``stage``; ``train`` is False on the validation split."""
        return nn.functional.cross_entropy(out.logits, labels)

    def confidences(self, out: NetOutput) -> dict[str, torch.Tensor]:
        """External confidences (higher = more confident), each of shape (B,)."""
        return {}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def split_epochs(
    epochs: int, first: int | None, default_fraction: float, what: str
) -> tuple[int, int]:
    """Split ``epochs`` into a first and a second stage, each of at least one epoch.

    Examples
    --------
    >>> split_epochs(9, None, 1 / 3, "pretrain_epochs")
    (3, 6)
    """
    if epochs < 2:
        raise ValueError(f"this objective trains in two stages and needs epochs >= 2, got {epochs}")
    if first is None:
        first = max(1, round(epochs * default_fraction))
    first = int(first)
    if not 1 <= first <= epochs - 1:
        raise ValueError(f"{what} must be between 1 and epochs - 1 = {epochs - 1}, got {first}")
    return first, epochs - first
