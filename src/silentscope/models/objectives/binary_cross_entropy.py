"""Binary cross-entropy on K independent sigmoid outputs: the multi-label objective."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from silentscope.models.objectives.base import (
    NetOutput,
    Objective,
    Stage,
    register_objective,
)


@register_objective
class BinaryCrossEntropy(Objective):
    """Multi-label training: one sigmoid output per finding, binary cross-entropy with logits.

    For logits :math:`z_{ik}` and 0/1 targets :math:`y_{ik}` of K findings,

    .. math:: L = -\\frac{1}{BK} \\sum_{i,k} \\left[ w_k\\, y_{ik} \\log \\sigma(z_{ik})
              + (1 - y_{ik}) \\log (1 - \\sigma(z_{ik})) \\right]

    with positive weights :math:`w_k` (1 unless ``pos_weight`` says otherwise; PyTorch's
    ``BCEWithLogitsLoss``). Model selection uses the lowest validation loss (mean BCE).
    Dropout before the head is kept, so MC dropout works as for single-label networks.

    Parameters
    ----------
    pos_weight : None, "balanced" or sequence of float, default None
        ``"balanced"`` sets :math:`w_k = n^-_k / n^+_k` from the training prevalence
        (resolved by :meth:`for_targets` when training starts); a sequence gives one
        weight per finding.

    Examples
    --------
    >>> objective = BinaryCrossEntropy(pos_weight="balanced")
    >>> objective.for_targets(np.array([[1, 0], [0, 0], [0, 1], [0, 1]])).pos_weight
    [3.0, 1.0]
    >>> objective.stages(3)[0].monitor
    'loss'
    """

    name = "bce"
    multi_label = True

    def __init__(self, pos_weight: str | Sequence[float] | None = None):
        self.pos_weight = pos_weight

    def stages(self, epochs: int) -> list[Stage]:
        return [Stage("classifier", epochs, ("backbone", "head"), monitor="loss")]

    def for_targets(self, targets: np.ndarray, names: Sequence[str] | None = None):
        """This objective with ``pos_weight`` checked against (and resolved from) training targets.

        Parameters
        ----------
        targets : array of 0/1, shape (N, K)
            The training split's targets.
        names : sequence of str, optional
            Finding names, used in error messages.

        Returns
        -------
        BinaryCrossEntropy
            A new objective whose ``pos_weight`` is None or a list of K floats.
        """
        targets = np.asarray(targets)
        k = targets.shape[1]
        names = list(names) if names is not None else [str(i) for i in range(k)]
        weight = self.pos_weight
        if weight is None:
            return BinaryCrossEntropy(None)
        if isinstance(weight, str):
            if weight != "balanced":
                raise ValueError(
                    f"pos_weight must be None, 'balanced' or {k} numbers, got {weight!r}"
                )
            positives = targets.sum(axis=0).astype(float)
            empty = np.flatnonzero(positives == 0)
            if len(empty):
                raise ValueError(
                    f"finding {names[empty[0]]!r} has no positive training image, so "
                    "pos_weight='balanced' is undefined; pass pos_weight=None or explicit weights"
                )
            return BinaryCrossEntropy([float(w) for w in (len(targets) - positives) / positives])
        values = [float(w) for w in weight]
        if len(values) != k or not all(np.isfinite(w) and w > 0 for w in values):
            raise ValueError(
                f"pos_weight needs {k} positive numbers (one per finding), got {list(weight)}"
            )
        return BinaryCrossEntropy(values)

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
        logits = out.logits
        weight = self.pos_weight
        if isinstance(weight, str):
            raise ValueError(
                "pos_weight='balanced' must be resolved from the training targets first "
                "(Trainer does this; call for_targets(targets) otherwise)"
            )
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=logits.dtype, device=logits.device)
        return nn.functional.binary_cross_entropy_with_logits(
            logits, labels.to(logits.dtype), pos_weight=weight
        )
