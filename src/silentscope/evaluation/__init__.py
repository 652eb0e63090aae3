"""The evaluation table: every CSF x every test set x every metric, with bootstrap CIs.

Examples
--------
>>> import numpy as np
>>> from silentscope.audit import AuditSet
>>> rng = np.random.default_rng(0)
>>> logits = rng.normal(size=(100, 2)) * 2
>>> labels = np.where(rng.random(100) < 0.85, logits.argmax(1), 1 - logits.argmax(1))
>>> audit = AuditSet(sample_id=[str(i) for i in range(100)], test_set=["iid"] * 100,
...                  label=labels, logits=logits, class_names=["no", "yes"])
>>> result = evaluate(audit, csfs=["MSR"], metrics=["aurc"], n_bootstrap=50)
>>> list(result.wide("aurc").columns), result.wide("aurc").columns.name
(['iid'], 'AURC (x1000)')
"""

from silentscope.evaluation.evaluate import (
    DEFAULT_CLASSIFICATION_METRICS,
    DEFAULT_FD_METRICS,
    evaluate,
)
from silentscope.evaluation.groups import (
    EvaluationGroup,
    evaluation_groups,
    pooled_name,
    select_test_sets,
)
from silentscope.evaluation.kinds import KIND_MEAN_DEFINITION, is_test_set, kind_caption, kind_means
from silentscope.evaluation.result import EvaluationResult, metric_label, read_evaluation
from silentscope.evaluation.saving import parse_formats, save_evaluation
from silentscope.evaluation.tuned_threshold import TunedThresholdResult, tuned_threshold_table

__all__ = [
    "DEFAULT_CLASSIFICATION_METRICS",
    "DEFAULT_FD_METRICS",
    "KIND_MEAN_DEFINITION",
    "EvaluationGroup",
    "EvaluationResult",
    "TunedThresholdResult",
    "evaluate",
    "evaluation_groups",
    "is_test_set",
    "kind_caption",
    "kind_means",
    "metric_label",
    "parse_formats",
    "pooled_name",
    "read_evaluation",
    "save_evaluation",
    "select_test_sets",
    "tuned_threshold_table",
]
