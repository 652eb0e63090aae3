"""The AuditSet data contract, the audit store and importers."""

from silentscope.audit.auditset import OPTIONAL_INPUTS, AuditSet, require, softmax
from silentscope.audit.test_sets import IID, VALIDATION, TestSetName, parse_test_set
from silentscope.audit.validation import AuditSetError

__all__ = [
    "AuditSet",
    "AuditSetError",
    "IID",
    "OPTIONAL_INPUTS",
    "TestSetName",
    "VALIDATION",
    "parse_test_set",
    "require",
    "softmax",
]
