"""A study's evaluation section chooses the MC correctness and ood conventions, and the runs
record them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from silentscope.audit import UNKNOWN_LABEL, AuditSet
from silentscope.audit.store import save_audit
from silentscope.study.results import collect_results
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import store_study, tiny_study


def _ood_store(path):
    rng = np.random.default_rng(0)
    n_iid, n_ood = 60, 20
    label = np.concatenate([rng.integers(0, 2, n_iid), np.full(n_ood, UNKNOWN_LABEL)])
    logits = rng.normal(size=(n_iid + n_ood, 2))
    logits[np.arange(n_iid), label[:n_iid]] += 1.0
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n_iid + n_ood)],
        test_set=["iid"] * n_iid + ["ood/other"] * n_ood,
        label=label,
        logits=logits,
        class_names=["a", "b"],
    )
    save_audit(audit, path)
    return audit, n_iid, n_ood


@pytest.mark.parametrize("convention", ["fdshifts", "all_iid"])
def test_ood_convention_from_the_spec_is_used_and_recorded(tmp_path, convention):
    audit, n_iid, n_ood = _ood_store(tmp_path / "store")
    raw = {
        "name": "ood",
        "datasets": [{"name": "store", "label": "m", "store": str(tmp_path / "store")}],
        "csfs": ["MSR"],
        "evaluation": {"bootstrap": 0, "metrics": ["aurc"], "ood_convention": convention},
    }
    run_study(parse_study(raw), tmp_path / "study", live=False)
    long = collect_results(tmp_path / "study")
    row = long[(long.test_set == "ood/other") & (long.metric == "aurc")].iloc[0]
    correct_iid = int(audit.correct[:n_iid].sum())
    assert row["n"] == (correct_iid if convention == "fdshifts" else n_iid) + n_ood
    record = json.loads((tmp_path / "study" / "runs" / "m__store__seed0" / "run.json").read_text())
    recorded = record["details"]["conventions"]["m"]
    assert recorded["ood_convention"]["convention"] == convention
    assert recorded["mc_correctness"]["convention"] == "deterministic"
    assert "paired" in recorded["resampling"]["definition"]


def test_default_conventions_leave_run_fingerprints_unchanged(tmp_path):
    """Runs of studies written before these keys existed are still resumed."""
    raw = store_study(tmp_path, n_stores=1)
    run = parse_study(raw).runs()[0]
    assert run.study.evaluation.fingerprint_fields() == {
        "bootstrap": 0,
        "confidence_level": 0.95,
        "metrics": None,
    }
    changed = parse_study({**raw, "evaluation": {"ood_convention": "all_iid"}})
    assert changed.runs()[0].fingerprint() != run.fingerprint()
    assert changed.evaluation.fingerprint_fields()["ood_convention"] == "all_iid"


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ({"mc_correctness": "mean"}, "evaluation.mc_correctness"),
        ({"ood_convention": "original"}, "evaluation.ood_convention"),
    ],
)
def test_unknown_conventions_are_refused_naming_the_key(evaluation, message):
    with pytest.raises(ValueError, match=message):
        parse_study({"name": "x", "datasets": [{"name": "synthetic"}], "evaluation": evaluation})


def test_mc_mean_without_mc_dropout_passes_is_refused():
    raw = tiny_study(evaluation={"mc_correctness": "mc_mean"})
    raw["train"] = {**raw.get("train", {}), "mc_samples": 0}
    with pytest.raises(ValueError, match="train.mc_samples is 0"):
        parse_study(raw)


def test_mc_mean_from_the_spec_judges_mc_csfs_against_the_mc_prediction(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    label = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, 2))
    logits[np.arange(n), label] += 0.5
    mc_logits = logits[:, :, None] + rng.normal(size=(n, 2, 8)) * 2.0
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=["iid"] * n,
        label=label,
        logits=logits,
        mc_logits=mc_logits,
        class_names=["a", "b"],
    )
    save_audit(audit, tmp_path / "store")
    raw = {
        "name": "mc",
        "datasets": [{"name": "store", "label": "m", "store": str(tmp_path / "store")}],
        "csfs": ["MSR", "MCD-MSR"],
        "evaluation": {"bootstrap": 0, "metrics": ["aurc"], "mc_correctness": "mc_mean"},
    }
    run_study(parse_study(raw), tmp_path / "study", live=False)
    long = collect_results(tmp_path / "study").set_index("csf")
    softmax = np.exp(mc_logits) / np.exp(mc_logits).sum(axis=1, keepdims=True)
    mc_correct = softmax.mean(axis=2).argmax(axis=1) == label  # FD-Shifts' MC prediction
    assert long.loc["MCD-MSR", "n_errors"] == int((~mc_correct).sum())
    assert long.loc["MSR", "n_errors"] == int((~audit.correct).sum())
    assert long.loc["MCD-MSR", "n_errors"] != long.loc["MSR", "n_errors"]
    record = json.loads((tmp_path / "study" / "runs" / "m__store__seed0" / "run.json").read_text())
    recorded = record["details"]["conventions"]["m"]["mc_correctness"]
    assert recorded["convention"] == "mc_mean" and recorded["mc_csfs"] == ["MCD-MSR"]
