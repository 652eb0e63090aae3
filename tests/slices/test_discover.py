"""discover_slices end to end on real ODIR rows with a planted failure, and the CLI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.store import read_artifact, save_audit
from silentscope.cli import app
from silentscope.slices import discover_slices, simulate_logits


@pytest.fixture(scope="module")
def report(odir_planted):
    audit, _ = odir_planted
    # ODIR's keywords restate the normal/abnormal label; kept here on purpose so that the
    # explanation by report terms is exercised (the default leaves them out: tests/audit/test_roles.py)
    return discover_slices(audit, n_seeds=3, min_support=15, keep_label_derived=True)


def test_planted_slice_is_found_confirmed_and_explained(odir_planted, report):
    audit, planted = odir_planted
    planted_errors = planted & ~audit.correct
    assert report.n_slices >= 1
    top = report.slices.iloc[0]
    members = np.isin(
        audit.sample_id, report.membership.loc[report.membership["rank"] == 1, "sample_id"]
    )
    assert (
        members & planted_errors
    ).sum() / planted_errors.sum() > 0.6  # most planted errors inside
    assert (
        planted[members].mean() > 4 * planted.mean()
    )  # and the slice is enriched for the planted group
    assert top["q_value"] <= 0.05 and top["ci_low"] > top["complement_error_rate"]
    assert top["stability"] > 0.4
    assert "sex = Female" in top["metadata"]
    assert top["top_terms"]  # ODIR keywords of the diseases in the slice
    assert set(top["confident_errors"].split(",")) <= set(audit.sample_id[~audit.correct])
    # every candidate is accounted for, with held-out statistics
    assert report.candidates["q_value"].notna().sum() >= 1
    assert {"building the representation", "fitting the slicer with every seed"} <= set(
        report.timings
    )
    assert "#1: error" in str(report) and report.to_markdown().startswith("| rank")
    # the slices found are not all there is: the note says what a further one needed
    distinct = report.candidates["p_value"].notna() & (report.candidates["duplicate_of"] < 0)
    tested, confirmed = distinct.sum(), report.candidates.loc[distinct, "significant"].sum()
    assert report.settings["reach"]["level"] == pytest.approx(0.05 * (confirmed + 1) / tested)
    (note,) = [n for n in report.notes if n.startswith("smaller or milder failures")]
    size, rate = report.settings["reach"]["rates"][0]
    assert f"a further slice needs a held-out error rate of at least {rate:.0%} with {size}" in note


def test_identical_candidates_are_one_hypothesis_in_the_fdr(report):
    """Two views (or seeds) that chose the same members test one hypothesis, counted once."""
    from silentscope.metrics.statistics import benjamini_hochberg

    candidates, members = report.candidates, report.candidate_membership
    copies = candidates[candidates["duplicate_of"] >= 0]
    assert len(copies) >= 1  # the views of this audit do agree on some candidates
    by_slice = candidates.set_index("slice")
    for row in copies.itertuples():
        assert (members[:, row.slice] == members[:, row.duplicate_of]).all()
        assert row.q_value == by_slice.loc[row.duplicate_of, "q_value"]
    distinct = candidates[candidates["p_value"].notna() & (candidates["duplicate_of"] < 0)]
    keys = {members[:, k].tobytes() for k in distinct["slice"]}
    assert len(keys) == len(distinct)  # no two distinct ones share their members
    expected = benjamini_hochberg(distinct["p_value"].to_numpy())
    np.testing.assert_allclose(distinct["q_value"].to_numpy(), expected)


def test_no_planted_failure_means_no_confirmed_slice(odir_null_report):
    _, report = odir_null_report
    assert report.n_slices == 0
    assert str(report).startswith("no slice confirmed")


def test_single_modalities_and_baselines_run(odir_planted):
    audit = odir_planted[0].subset(np.arange(600))
    for modality in ("image", "text", "metadata"):
        result = discover_slices(
            audit, (modality,), slicer_params={"n_components": 6}, n_seeds=1,
            keep_label_derived=True,  # the fixture's keywords restate the label
        )  # fmt: skip
        assert result.settings["modalities"] == [modality]
    spot = discover_slices(audit, slicer="spotlight", slicer_params={"n_slices": 3}, n_seeds=1)
    assert spot.settings["slicer"] == "spotlight"


def test_inputs_are_checked(odir_planted):
    audit, _ = odir_planted
    with pytest.raises(ValueError, match="confirm_fraction"):
        discover_slices(audit, confirm_fraction=1.0)
    with pytest.raises(ValueError, match="not in this AuditSet"):
        discover_slices(audit, test_sets=["acq/site_B"])
    few = audit.subset(np.arange(200))
    perfect = replace(few, logits=simulate_logits(few.label, 2, 0.0))
    with pytest.raises(ValueError, match="at least 4 errors"):
        discover_slices(perfect)


def test_cli_prints_and_saves_slices(tmp_path, odir_planted):
    audit, _ = odir_planted
    store = tmp_path / "store"
    save_audit(audit, store)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "slices",
            str(store),
            "-m",
            "metadata,text",
            "--components",
            "8",
            "--seeds",
            "2",
            "--min-support",
            "15",
            "--keep-label-derived",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Slices where the classifier fails" in result.output
    saved = read_artifact(store, "slices")
    assert len(saved) >= 1 and {"error_rate", "ci_low", "stability", "top_terms"} <= set(
        saved.columns
    )
    assert read_artifact(store, "slices_settings")["modalities"] == ["metadata", "text"]
    bad = runner.invoke(app, ["slices", str(store), "--slicer", "domino"])
    assert bad.exit_code == 2 and "unknown slicer" in bad.output


def test_overlapping_slices_are_merged_in_rank_order():
    from silentscope.slices.discover import _merge

    membership = np.zeros((100, 3), bool)
    membership[:40, 0] = True  # rank 1
    membership[30:50, 1] = True  # half inside slice 0: merged into it
    membership[60:90, 2] = True  # disjoint: kept
    assert _merge([0, 1, 2], membership, 0.5) == [(0, [1]), (2, [])]
    assert _merge([0, 1, 2], membership, 0.6) == [(0, []), (1, []), (2, [])]


def test_image_references_of_examples_are_reported(odir_planted):
    audit, _ = odir_planted
    with_images = audit.subset(np.arange(audit.n_samples))
    with_images.image_ref = np.char.add("images/", audit.sample_id.astype(str))
    report = discover_slices(with_images, ("metadata",), n_seeds=1, min_support=15)
    assert report.n_slices >= 1
    first = report.slices.iloc[0]
    assert (
        first["confident_error_images"].split(",")[0]
        == "images/" + first["confident_errors"].split(",")[0]
    )


def test_report_shows_saved_slices_with_example_images(tmp_path, odir_planted, odir_dir):
    from silentscope.report.build import build_report

    audit, _ = odir_planted
    with_images = audit.subset(np.arange(audit.n_samples))
    with_images.image_ref = np.char.add(f"{odir_dir / 'images'}/", audit.sample_id.astype(str))
    store = tmp_path / "store"
    save_audit(with_images, store)
    result = CliRunner().invoke(
        app, ["slices", str(store), "-m", "metadata", "--seeds", "3", "--min-support", "15"]
    )
    assert result.exit_code == 0, result.output
    # the images live outside the store's folder: shown only under an image root that holds them
    page = build_report(store, tmp_path / "report.html", image_root=odir_dir).read_text()
    section = page.split("Slices: where the classifier fails systematically", 1)[1]
    assert "most confidently wrong" in section
    assert section.count("src='data:image") >= 2  # thumbnails of real ODIR images
    page = build_report(store, tmp_path / "report.html").read_text()
    assert page.split("Slices: where", 1)[1].count("src='data:image") == 0


def test_slicer_fitted_on_a_subsample_still_assigns_and_confirms_all(odir_planted, monkeypatch):
    import silentscope.slices.discover as discover_module

    audit, planted = odir_planted
    monkeypatch.setattr(discover_module, "SLICER_FIT_ROWS", 300)
    report = discover_slices(audit, ("metadata",), n_seeds=2, min_support=15)
    assert report.n_slices >= 1
    top = report.slices.iloc[0]
    # ranked and confirmed on the full halves, though the mixture saw 300 samples
    assert top["n_fit"] + top["n_confirm"] == top["size"]
    members = np.isin(
        audit.sample_id, report.membership.loc[report.membership["rank"] == 1, "sample_id"]
    )
    assert (members & planted).sum() / members.sum() > 0.5


def test_a_slice_that_is_one_pooled_test_set_says_so():
    # Pooled test sets (asked for: the default is the iid set alone): a shifted set with a
    # high error rate is then found as a "slice" whose metadata (site = D) reads like a
    # discovered subgroup; its test-set make-up must be named with it.
    rng = np.random.default_rng(0)
    n_iid, n_acq = 300, 150
    n = n_iid + n_acq
    shifted = np.arange(n) >= n_iid
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(shifted, 0.5, 0.05)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.where(shifted, "acq/site_D", "iid"),
        label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3,
        class_names=["benign", "malignant"],
        metadata=pd.DataFrame(
            {
                "site": np.where(shifted, "D", rng.choice(["A", "B"], n)),
                "age": rng.integers(20, 90, n),
            }
        ),
    )
    default = discover_slices(audit, n_seeds=2, min_support=10)
    assert default.settings["test_sets"] == ["iid"]
    assert default.settings["scope"].startswith("test set iid only (default")
    report = discover_slices(audit, test_sets=["iid", "acq/site_D"], n_seeds=2, min_support=10)
    assert "pooled" in report.settings["scope"] and "pooled" in report.notes[0]
    top = report.slices.iloc[0]
    assert "site = D" in top["metadata"]
    assert top["test_sets"].startswith("test set = acq/site_D: 100% of slice")
    assert "test set = acq/site_D" in str(report)
    # one test set: nothing to say
    alone = discover_slices(audit, test_sets=["acq/site_D"], n_seeds=2, min_support=10)
    assert (alone.slices["test_sets"] == "").all()
