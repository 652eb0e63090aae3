"""Rank uncertainty and paired comparisons written by `silentscope study results`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.evaluation import evaluate
from silentscope.evaluation.result import health_columns
from silentscope.study.results import write_results
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import store_study


def seeded_run(study: Path, seed: int, n: int = 600) -> None:
    """A finished run folder of objective ce, as the runner writes it, from a small store.

    Besides the logits' CSFs it carries ``ext:copy`` (MSR itself) and ``ext:oracle`` (knows
    which predictions fail, up to noise): one ties with MSR, one beats it clearly.
    """
    rng = np.random.default_rng(seed)
    test_set = rng.choice(["val", "iid", "cor/gaussian_noise/3"], n)
    label = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, 2))
    logits[np.arange(n), label] += 0.8
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["no", "yes"],
    )
    msr = audit.probabilities.max(axis=1)
    audit.confidences["copy"] = msr.copy()
    audit.confidences["oracle"] = audit.correct + rng.normal(0, 0.3, n)
    folder = study / "runs" / f"toy__ce__seed{seed}"
    save_audit(audit, folder / "audit")
    result = evaluate(audit, csfs=["MSR", "PE", "ext:copy", "ext:oracle"], metrics=["aurc"],
                      n_bootstrap=0, random_state=seed)  # fmt: skip
    table = result.table.assign(**health_columns(result))
    table.insert(0, "seed", seed)
    table.insert(0, "objective", "ce")
    table.insert(0, "dataset", "toy")
    table.to_parquet(folder / "evaluation.parquet", index=False)
    record = {"run_id": folder.name, "status": "done", "dataset": "toy", "objective": "ce",
              "seed": seed, "details": {"store": "audit"}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))


def test_one_seed_study_ranks_over_test_samples_only_and_says_so(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=2)), tmp_path / "study", live=False)
    written = write_results(tmp_path / "study", n_resamples=200)
    payload = json.loads(written["ranking"].read_text())["aurc"]
    assert payload["resampled_over"] == "test samples only (one seed)"
    assert any("one seed" in note for note in payload["notes"])
    assert payload["largest_difference_from_evaluation_rows"] < 1e-12
    ranks = pd.read_csv(written["ranking_aurc"])
    columns = ranks[ranks["dataset"] != "all"].groupby(["dataset", "kind"])
    assert columns.ngroups == 6 and (columns.size() == 3).all()  # MSR, PE, MLS per column
    assert (ranks["rank_low"] <= ranks["rank_median"]).all()
    assert (ranks["rank_median"] <= ranks["rank_high"]).all()
    # somebody is best in every resample of a column (ties can make it more than one)
    assert (columns["p_best"].sum() >= 1 - 1e-9).all()
    assert set(ranks.loc[ranks["dataset"] == "all", "csf"]) == {"MSR", "PE", "MLS"}
    # the table's values are the summary's
    summary = pd.read_csv(tmp_path / "study" / "results" / "summary_aurc.csv", index_col=0)
    msr_iid = ranks.query("csf == 'MSR' and dataset == 'model0' and kind == 'iid'")["value"]
    assert float(msr_iid.iloc[0]) == summary.loc["MSR", "model0 iid mean"]


def test_two_seed_study_pairs_csfs_with_msr_over_samples_and_seeds(tmp_path):
    study = tmp_path / "study"
    for seed in (0, 1):
        seeded_run(study, seed)
    written = write_results(study, metrics=("aurc",), n_resamples=300)
    payload = json.loads(written["ranking"].read_text())["aurc"]
    assert payload["resampled_over"] == "test samples and seeds"
    assert not any("one seed" in note for note in payload["notes"])
    pairs = pd.read_csv(written["pairwise_aurc"]).set_index(["kind", "csf"])
    for kind in ("iid", "cor"):
        copy = pairs.loc[(kind, "ext:copy")]
        assert copy["ci_low"] <= 0 <= copy["ci_high"]
        assert copy["verdict"] == "no clear difference"
        oracle = pairs.loc[(kind, "ext:oracle")]
        assert oracle["ci_high"] < 0 and oracle["verdict"] == "better"  # lower AURC is better
    ranks = pd.read_csv(written["ranking_aurc"])
    best = ranks[ranks["best"]].set_index("kind")["csf"]
    assert best["iid"] == best["cor"] == "ext:oracle"
    assert ranks.query("csf == 'ext:oracle' and kind == 'iid'")["p_best"].iloc[0] > 0.95
    # the LaTeX table: one row per CSF, balanced braces, the oracle bold, colours
    latex = written["latex_aurc"].read_text()
    rows = [line for line in latex.splitlines() if line.endswith("\\\\") and "&" in line]
    assert len(rows) == 1 + 4  # header + MSR, PE, ext:copy, ext:oracle
    assert latex.count("{") == latex.count("}")
    assert re.search(r"ext:oracle & \\cellcolor\[rgb\]\{[^}]+\}\\textbf", latex)
    assert "mean $\\pm$ std over 2 seeds" in latex
    assert "one seed" not in latex


def test_one_seed_latex_does_not_claim_a_spread_over_seeds(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=1)), tmp_path / "study", live=False)
    latex = write_results(tmp_path / "study", n_resamples=50)["latex_aurc"].read_text()
    assert "std over seeds" not in latex and "one seed per cell" in latex
    assert "\\pm" not in latex.split("\\midrule")[1]  # no cell shows a spread
