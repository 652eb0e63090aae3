"""Backbones, training objectives (CE/MCD, DeepGamblers, ConfidNet, DeVries, multi-label
BCE), deep ensembles, and inference that turns any classifier into an AuditSet (one per
finding for multi-label classifiers).

Imports run one way inside the package: the networks (:mod:`~silentscope.models.network`:
SilentNet, EnsembleNet) need no training or inference code; checkpoints and inference import
the networks; training (:mod:`~silentscope.models.training`, :mod:`~silentscope.models.ensemble`)
imports all of them and :func:`audit_model`.
"""

from silentscope.models.audit_model import audit_model
from silentscope.models.backbones import BACKBONES, ResNet18, SmallCNN, build_backbone
from silentscope.models.checkpoint import load_model, save_model
from silentscope.models.ensemble import DeepEnsemble
from silentscope.models.eval_sets import TestSet, corruption_test_sets
from silentscope.models.multilabel import audit_multilabel
from silentscope.models.network import EnsembleNet, SilentNet
from silentscope.models.objectives import (
    OBJECTIVES,
    BinaryCrossEntropy,
    ConfidNet,
    CrossEntropy,
    DeepGamblers,
    DeVries,
    make_objective,
)
from silentscope.models.training import Trainer

__all__ = [
    "BACKBONES",
    "OBJECTIVES",
    "BinaryCrossEntropy",
    "ConfidNet",
    "CrossEntropy",
    "DeVries",
    "DeepEnsemble",
    "DeepGamblers",
    "EnsembleNet",
    "ResNet18",
    "SilentNet",
    "SmallCNN",
    "TestSet",
    "Trainer",
    "audit_model",
    "audit_multilabel",
    "build_backbone",
    "corruption_test_sets",
    "load_model",
    "make_objective",
    "save_model",
]
