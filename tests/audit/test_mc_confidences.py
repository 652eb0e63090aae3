"""The optional ``mc_confidences`` field: (N, M) external confidences of MC-dropout passes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from silentscope.audit import AuditSet, AuditSetError
from silentscope.audit.store import MANIFEST, load_audit, save_audit


def _audit(**extra) -> AuditSet:
    rng = np.random.default_rng(0)
    n = 6
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=["iid"] * 3 + ["ood/svhn"] * 3,
        label=[0, 1, 0, 1, 0, 1],
        logits=rng.normal(size=(n, 2)),
        class_names=["a", "b"],
        **extra,
    )


def test_round_trip_and_subset(tmp_path):
    mc = np.arange(24, dtype=np.float64).reshape(6, 4) / 24
    odd = np.linspace(0, 1, 12).reshape(6, 2)
    audit = _audit(
        confidences={"external": mc.mean(axis=1)},
        mc_confidences={"external": mc, "name/with:odd chars": odd},
    )
    store = save_audit(audit, tmp_path / "store")
    manifest = json.loads((store / MANIFEST).read_text())
    assert sorted(manifest["mc_confidences"]) == ["external", "name/with:odd chars"]
    loaded = load_audit(store, verify=True)
    np.testing.assert_array_equal(loaded.mc_confidences["external"], mc)
    np.testing.assert_array_equal(loaded.mc_confidences["name/with:odd chars"], odd)
    ood = loaded.select("ood/svhn")
    np.testing.assert_array_equal(ood.mc_confidences["external"], mc[3:])


def test_store_without_the_field_loads_empty(tmp_path):
    loaded = load_audit(save_audit(_audit(), tmp_path / "store"))
    assert loaded.mc_confidences == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.zeros(6), r"must have shape \(N, M\)"),
        (np.zeros((6, 0)), r"must have shape \(N, M\)"),
        (np.zeros((5, 3)), "mc_confidences 'x'"),
        (np.where(np.eye(6, 3) > 0, np.nan, 0.5), "NaN"),
        (np.full((6, 2), "a"), "numeric"),
    ],
)
def test_invalid_arrays_name_the_field(values, message):
    with pytest.raises(AuditSetError, match=message):
        _audit(mc_confidences={"x": values})
