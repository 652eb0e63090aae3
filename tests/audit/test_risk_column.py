"""The optional continuous per-sample risk and the outcomes of the AuditSet contract."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit import AuditSet, AuditSetError
from silentscope.audit.store import load_audit, save_audit


def _audit(**kwargs):
    n = 4
    values = dict(
        sample_id=list("abcd"),
        test_set=["val", "iid", "iid", "cor/rician_noise/2"],
        label=[0] * n,
        logits=np.zeros((n, 3)),
        class_names=["background", "GM", "WM"],
        confidences={"msr@mean": [0.9, 0.8, 0.7, 0.2]},
        risk=[0.0, 0.1, 0.25, 0.9],
        outcomes={"dice_GM": [1.0, 0.9, 0.7, np.nan], "dice_WM": [1.0, 0.9, 0.8, 0.1]},
        provenance={"task": "segmentation"},
    )
    values.update(kwargs)
    return AuditSet(**values)


@pytest.mark.parametrize(
    ("risk", "message"),
    [
        ([0.0, 0.1, np.nan, 0.2], "risk contains NaN at rows 2"),
        ([0.0, 0.1, 1.5, 0.2], r"risk must lie in \[0, 1\] but is 1.5 at rows 2"),
        ([0.0, -0.1, 0.5, 0.2], "at rows 1"),
        ([0.0, 0.1], "risk has 2 rows but the AuditSet has 4 samples"),
        (np.zeros((4, 2)), "risk must be 1-D"),
    ],
)
def test_invalid_risk_is_refused_with_the_rows(risk, message):
    with pytest.raises(AuditSetError, match=message):
        _audit(risk=risk)


def test_outcomes_allow_nan_but_not_infinite():
    with pytest.raises(AuditSetError, match="outcome 'hd95' must be numeric without infinite"):
        _audit(outcomes={"hd95": [1.0, np.inf, 2.0, 3.0]})


def test_correct_and_task_follow_the_risk():
    audit = _audit()
    assert audit.task == "segmentation" and audit.has("risk")
    assert audit.correct.tolist() == [True, False, False, False]
    assert _audit(risk=None).correct.all()  # without risk: from labels and logits, as before
    assert audit.summary()["mean_risk"].round(3).tolist() == [0.0, 0.175, 0.9]


def test_subset_and_frame_keep_risk_and_outcomes():
    sub = _audit().select("iid")
    assert sub.risk.tolist() == [0.1, 0.25]
    assert sub.outcomes["dice_GM"].tolist() == [0.9, 0.7]
    frame = _audit().per_sample_frame()
    assert frame["risk"].tolist() == [0.0, 0.1, 0.25, 0.9]
    assert np.isnan(frame["outcome.dice_GM"].iloc[3])


def test_store_roundtrip(tmp_path):
    audit = _audit()
    loaded = load_audit(save_audit(audit, tmp_path / "store"))
    np.testing.assert_array_equal(loaded.risk, audit.risk)
    np.testing.assert_array_equal(loaded.outcomes["dice_GM"], audit.outcomes["dice_GM"])
    assert loaded.task == "segmentation"
    # a store without risk stays without it
    plain = load_audit(save_audit(_audit(risk=None, outcomes={}), tmp_path / "plain"))
    assert plain.risk is None and plain.outcomes == {}
