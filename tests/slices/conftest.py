"""Fixtures of the slice tests: a planted-failure AuditSet on real ODIR rows (tests.support.planted)."""

from __future__ import annotations

import pytest

from tests.support.planted import odir_audit


@pytest.fixture(scope="session")
def odir_planted(odir_dir):
    return odir_audit(odir_dir)


@pytest.fixture(scope="session")
def odir_null_report(odir_dir):
    """discover_slices on ODIR rows whose errors depend on nothing: (audit, report)."""
    from silentscope.slices import discover_slices

    audit, _ = odir_audit(odir_dir, n=800, seed=1, slice_error=0.06, base_error=0.06)
    report = discover_slices(
        audit, ("metadata", "text"), slicer_params={"n_components": 6}, n_seeds=1,
        keep_label_derived=True,
    )  # fmt: skip
    return audit, report
