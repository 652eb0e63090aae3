"""Fixtures of the slice tests: a planted-failure AuditSet on real ODIR rows (tests.support.planted)."""

from __future__ import annotations

import pytest

from tests.support.planted import odir_audit


@pytest.fixture(scope="session")
def odir_planted(odir_dir):
    return odir_audit(odir_dir)
