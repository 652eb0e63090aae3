from __future__ import annotations

import pytest

from silentscope.audit import AuditSet
from tests.support.audits import make_audit


@pytest.fixture
def audit() -> AuditSet:
    return make_audit()
