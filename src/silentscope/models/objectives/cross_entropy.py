"""Cross-entropy training: the baseline classifier (MSR, MCD and feature CSFs apply to it)."""

from __future__ import annotations

from silentscope.models.objectives.base import Objective, register_objective


@register_objective
class CrossEntropy(Objective):
    """Plain cross-entropy on the class logits.

    With ``dropout > 0`` in the network the same model serves MC-dropout inference (MCD
    in FD-Shifts, Jaeger et al. 2023): no separate objective is needed.

    Examples
    --------
    >>> CrossEntropy().stages(5)
    [Stage(name='classifier', epochs=5, modules=('backbone', 'head'), monitor='accuracy')]
    """

    name = "ce"

    def __init__(self) -> None:
        pass
