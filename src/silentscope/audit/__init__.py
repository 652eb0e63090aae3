"""The AuditSet data contract, the audit store and importers.

The bottom of the package: every layer may import from here, so the rules that several
layers share live here once: :mod:`~silentscope.audit.jsonsafe` (plain values for every
JSON file and answer) and :mod:`~silentscope.audit.columns` (the ``conf.`` and ``meta.``
prefixes of the per-sample table).
"""

from silentscope.audit.shift_change import (
    NEGLIGIBLE_CHANGE,
    is_negligible_shift,
    shift_changes,
)
from silentscope.audit.test_sets import (
    IID,
    UNKNOWN_LABEL,
    VALIDATION,
    TestSetName,
    parse_test_set,
)
from silentscope.audit.validation import AuditSetError

# The AuditSet module (and pandas with it) is imported on first use, so that the light parts
# of this package (test-set names, the store's manifest and artifact list) start fast.
_FROM_AUDITSET = ("OPTIONAL_INPUTS", "AuditSet", "require", "softmax")


def __getattr__(name: str):
    if name in _FROM_AUDITSET:
        from silentscope.audit import auditset

        return getattr(auditset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AuditSet",
    "AuditSetError",
    "IID",
    "NEGLIGIBLE_CHANGE",
    "OPTIONAL_INPUTS",
    "TestSetName",
    "UNKNOWN_LABEL",
    "VALIDATION",
    "is_negligible_shift",
    "parse_test_set",
    "require",
    "shift_changes",
    "softmax",
]
