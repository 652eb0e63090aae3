"""Which patients does the classifier fail? Statistical subgroup analysis of errors.

``wilson_interval`` and ``benjamini_hochberg`` are re-exported from
:mod:`silentscope.metrics.statistics`, where slice discovery takes them too.
"""

from silentscope.metrics.statistics import benjamini_hochberg, wilson_interval
from silentscope.subgroups.analysis import ALL_CLASSES, SubgroupResult, analyze_subgroups
from silentscope.subgroups.attributes import (
    MISSING,
    Attribute,
    Skipped,
    bin_numeric,
    prepare_attributes,
)
from silentscope.subgroups.forest import forest_plot
from silentscope.subgroups.intervals import odds_ratio_interval

__all__ = [
    "ALL_CLASSES",
    "Attribute",
    "MISSING",
    "Skipped",
    "SubgroupResult",
    "analyze_subgroups",
    "benjamini_hochberg",
    "bin_numeric",
    "forest_plot",
    "odds_ratio_interval",
    "prepare_attributes",
    "wilson_interval",
]
