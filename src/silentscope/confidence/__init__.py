"""Confidence scoring functions (CSFs): one registered object per CSF, found by exact name.

Every CSF outputs *higher = more confident*, declares the AuditSet inputs it needs and,
if it learns anything, learns it only from the validation split or the training features.

Examples
--------
>>> import numpy as np
>>> from silentscope.audit import AuditSet
>>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
...                  logits=np.array([[2.0, 0.0], [1.0, 0.0]]), class_names=["no", "yes"])
>>> get_csf("PE").fit(audit).score(audit).round(3).tolist()
[-0.365, -0.582]
"""

from silentscope.confidence.base import (
    CSF_INPUTS,
    ConfidenceScorer,
    CSFUnavailableError,
    register_csf,
)
from silentscope.confidence.external import EXTERNAL_PREFIX, ExternalConfidence
from silentscope.confidence.external_mc import (
    MC_EXTERNAL_PREFIX,
    WAIC_EXTERNAL_PREFIX,
    MCExternalConfidence,
    MCExternalWAIC,
)
from silentscope.confidence.knn import KNN
from silentscope.confidence.mahalanobis import Mahalanobis
from silentscope.confidence.mc_dropout import (
    MCDropoutEE,
    MCDropoutMI,
    MCDropoutMSR,
    MCDropoutPE,
    MCDropoutSV,
    MCDropoutWAIC,
)
from silentscope.confidence.react import ReAct
from silentscope.confidence.registry import (
    available_csfs,
    compute_confidences,
    describe_csfs,
    fit_score_csfs,
    get_csf,
    registered_csfs,
    resolve_csfs,
)
from silentscope.confidence.softmax import MLS, MSR, PE, Energy
from silentscope.confidence.temperature import TemperatureScaledMSR
from silentscope.confidence.vim import ViM

__all__ = [
    "CSF_INPUTS",
    "CSFUnavailableError",
    "ConfidenceScorer",
    "EXTERNAL_PREFIX",
    "Energy",
    "ExternalConfidence",
    "KNN",
    "MCDropoutEE",
    "MCDropoutMI",
    "MCDropoutMSR",
    "MCDropoutPE",
    "MCDropoutSV",
    "MCDropoutWAIC",
    "MCExternalConfidence",
    "MCExternalWAIC",
    "MC_EXTERNAL_PREFIX",
    "WAIC_EXTERNAL_PREFIX",
    "MLS",
    "MSR",
    "Mahalanobis",
    "PE",
    "ReAct",
    "TemperatureScaledMSR",
    "ViM",
    "available_csfs",
    "compute_confidences",
    "describe_csfs",
    "fit_score_csfs",
    "get_csf",
    "register_csf",
    "registered_csfs",
    "resolve_csfs",
]
