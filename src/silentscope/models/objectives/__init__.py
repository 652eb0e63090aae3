"""Training objectives, registered by exact name: ``ce``, ``dg``, ``confidnet``, ``devries``,
and the multi-label ``bce``."""

from silentscope.models.objectives.base import (
    OBJECTIVES,
    NetOutput,
    Objective,
    Stage,
    make_objective,
    register_objective,
)
from silentscope.models.objectives.binary_cross_entropy import BinaryCrossEntropy
from silentscope.models.objectives.confidnet import ConfidNet
from silentscope.models.objectives.cross_entropy import CrossEntropy
from silentscope.models.objectives.deep_gamblers import DeepGamblers
from silentscope.models.objectives.devries import DeVries

__all__ = [
    "OBJECTIVES",
    "BinaryCrossEntropy",
    "ConfidNet",
    "CrossEntropy",
    "DeVries",
    "DeepGamblers",
    "NetOutput",
    "Objective",
    "Stage",
    "make_objective",
    "register_objective",
]
