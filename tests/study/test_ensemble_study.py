"""Deep ensembles over the seeds of a study: a second phase that combines finished runs."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit.store import load_audit
from silentscope.study.results import collect_results, summary_table
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import tiny_study


def test_ensemble_run_combines_the_seeds(tmp_path):
    spec = parse_study(tiny_study())
    assert [r.run_id for r in spec.runs()] == [
        "synthetic__ce__seed0",
        "synthetic__ce__seed1",
        "synthetic__de__seeds0-1",
    ]
    outcome = run_study(spec, tmp_path / "study", live=False)
    assert [o.status for o in outcome.outcomes] == ["done"] * 3
    runs = tmp_path / "study" / "runs"
    ensemble = load_audit(runs / "synthetic__de__seeds0-1" / "audit")
    members = [load_audit(runs / f"synthetic__ce__seed{s}" / "audit") for s in (0, 1)]
    assert ensemble.mc_logits.shape[2] == 2  # the members' logits, not dropout samples
    # On the uncorrupted sets (corruptions are drawn with each run's seed) the ensemble's
    # probabilities are the mean of its members'.
    clean = np.isin(ensemble.test_set, ["val", "iid"])
    assert clean.sum() > 50
    for member in members:
        np.testing.assert_array_equal(member.sample_id[clean], ensemble.sample_id[clean])
    np.testing.assert_allclose(
        ensemble.probabilities[clean],
        (members[0].probabilities[clean] + members[1].probabilities[clean]) / 2,
        atol=1e-5,
    )
    table = summary_table(collect_results(tmp_path / "study"))
    assert {"MSR", "MCD-MI", "MSR (de)", "DE-MI"} <= set(table.index)
    # the ensemble's logits are log-probabilities: its energy was 0 for every sample (a
    # constant score whose "AURC" ranked float noise); it is now not computed, and says why
    assert ensemble.outputs == "probabilities"
    assert not {"energy (de)", "MLS (de)"} & set(table.index)
    from silentscope.confidence import compute_confidences

    _, unavailable = compute_confidences(ensemble, ["energy", "MSR"])
    assert "deep ensemble's stored logits" in unavailable["energy"]
    from silentscope.audit.capabilities import analysis_availability

    reasons = [reason for _, reason in analysis_availability(ensemble) if reason]
    assert any("a deep ensemble's log mean-softmax" in reason for reason in reasons)


def test_ensemble_fails_clearly_without_its_members(tmp_path):
    raw = tiny_study(objectives=["ce"], csfs=["MSR"])
    raw["train"] = {"epochs": 1, "mc_samples": 0, "options": {"width": 4, "backbone": "nope"}}
    outcome = run_study(parse_study(raw), tmp_path / "study", live=False)
    statuses = {o.run_id: (o.status, o.error) for o in outcome.outcomes}
    status, error = statuses["synthetic__de__seeds0-1"]
    assert status == "failed"
    assert "needs the finished runs synthetic__ce__seed0, synthetic__ce__seed1" in error


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ensembles": ["dg"]}, "'dg' is not among the objectives"),
        ({"seeds": [0]}, "need at least 2 seeds"),
    ],
)
def test_ensemble_spec_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        parse_study(tiny_study(**changes))


def test_a_multi_label_study_evaluates_every_finding_as_its_own_dataset(tmp_path):
    from tests.support.datasets import chest_npz

    chest_npz(tmp_path / "chestmnist.npz")
    raw = tiny_study(
        datasets=[{"name": "medmnist:chestmnist", "label": "chest", "options": {"root": str(tmp_path)}}],
        objectives=["bce"], seeds=[0], ensembles=[], csfs=["MSR"],
    )  # fmt: skip
    outcome = run_study(parse_study(raw), tmp_path / "study", live=False)
    assert [o.status for o in outcome.outcomes] == ["done"], outcome.outcomes
    run = tmp_path / "study" / "runs" / "chest__bce__seed0"
    cardiomegaly = load_audit(run / "audit" / "cardiomegaly")
    assert cardiomegaly.provenance["multi_label"]["finding"] == "cardiomegaly"
    long = collect_results(tmp_path / "study")
    assert "chest/cardiomegaly" in set(long["dataset"]) and long["dataset"].nunique() == 14
    table = summary_table(long)
    assert "MSR (bce)" in table.index and any("chest/hernia" in str(c) for c in table.columns)
    with pytest.raises(ValueError, match="remove bce from ensembles"):
        parse_study(tiny_study(objectives=["bce"], ensembles=["bce"]))
