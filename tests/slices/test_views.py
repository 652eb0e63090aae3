"""Per-modality views: the slicer on each modality alone and on the joint representation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.slices import MultiViewSlicer, discover_slices, modality_views
from silentscope.slices.mixture import ErrorAwareMixture


def _one_view_failure(n=600, seed=0):
    """Errors concentrate in a group visible in block B only; block A is wide noise."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) < 60
    block_a = rng.normal(size=(n, 12)) * 3
    block_b = rng.normal(size=(n, 2)) + np.where(group, 4.0, 0.0)[:, None]
    X = np.hstack([block_a, block_b])
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(group, 0.7, 0.05)
    proba = np.eye(2)[np.where(wrong, 1 - y, y)] * 0.8 + 0.1
    return X, y, proba, group


def test_a_failure_seen_in_one_modality_gets_its_own_slice_from_that_view():
    X, y, proba, group = _one_view_failure()
    views = {"a": slice(0, 12), "b": slice(12, 14), "joint": slice(None)}
    slicer = ErrorAwareMixture(6, variance_floor=0.3, init_params="errors")
    pooled = MultiViewSlicer(slicer, views, n_seeds=3).fit(X, y, proba)
    members = pooled.predict_membership(X, y)
    assert members.shape == (len(X), 18)
    # each view partitions the samples (or leaves undecided ones out): one slice at most
    for name in views:
        assert members[:, pooled.slice_view_ == name].sum(axis=1).max() <= 1
    # the label term may split the group by label: credit the best of the group and its parts
    truths = np.column_stack([group, group & (y == 0), group & (y == 1)])
    jaccard = np.array(
        [(members & t[:, None]).sum(0) / (members | t[:, None]).sum(0) for t in truths.T]
    ).max(axis=0)
    assert jaccard[pooled.slice_view_ == "b"].max() > 0.6  # block B alone finds it
    assert jaccard[pooled.slice_view_ == "a"].max() < 0.3  # block A alone cannot see it
    assert pooled.stability_.seeds.shape == (18, 3)
    assert pooled.slice_scores(X, y).shape == pooled.predict_proba(X, y).shape == (len(X), 18)


def test_each_view_gets_the_weights_of_its_own_columns():
    X, y, proba, _ = _one_view_failure(n=200)
    weights = np.r_[np.full(12, 0.5), np.full(2, 3.0)]
    views = {"a": slice(0, 12), "b": [12, 13]}
    pooled = MultiViewSlicer(ErrorAwareMixture(3), views, n_seeds=1, feature_weights=weights)
    pooled.fit(X, y, proba)
    assert pooled.consensus_["a"].fits_[0].feature_weights_.tolist() == [0.5] * 12
    assert pooled.consensus_["b"].fits_[0].feature_weights_.tolist() == [3.0, 3.0]


@pytest.mark.parametrize(
    ("views", "message"),
    [
        ({}, "non-empty mapping"),
        ({"a": [0, 99]}, "column indices below 14"),
        ({"a": []}, "non-empty"),
    ],
)
def test_bad_views_are_refused_with_the_fix(views, message):
    X, y, proba, _ = _one_view_failure(n=100)
    with pytest.raises(ValueError, match=message):
        MultiViewSlicer(ErrorAwareMixture(2), views, n_seeds=1).fit(X, y, proba)


def test_modality_views_add_the_joint_view_only_for_several_modalities():
    assert list(modality_views({"image": slice(0, 4), "text": slice(4, 6)})) == [
        "image",
        "text",
        "joint",
    ]
    assert modality_views({"image": slice(0, 4)}) == {"image": slice(None)}


def test_discovery_names_the_views_and_can_fit_the_joint_representation_only(odir_planted):
    audit, planted = odir_planted
    # the fixture's ODIR keywords restate the label: kept to exercise the text view
    pooled = discover_slices(audit, n_seeds=3, min_support=15, keep_label_derived=True)
    own = ["image", "text", "metadata", "joint"]
    assert pooled.settings["views"] == own + [f"{v} (any class)" for v in own]
    assert pooled.n_slices >= 1
    found = {v.strip() for views in pooled.slices["views"] for v in views.split(",")}
    assert found <= set(pooled.settings["views"])
    top = np.isin(
        audit.sample_id, pooled.membership.loc[pooled.membership["rank"] == 1, "sample_id"]
    )
    assert planted[top].mean() > 0.6  # the planted group (women over 65 with a disease)
    joint = discover_slices(
        audit, n_seeds=3, min_support=15, per_modality=False, keep_label_derived=True
    )
    assert joint.settings["views"] == ["joint", "joint (any class)"]
    assert set(joint.candidates["views"]) <= {"joint", "joint (any class)"}
    plain = discover_slices(
        audit, n_seeds=3, min_support=15, per_modality=False, class_blind=False,
        keep_label_derived=True,
    )  # fmt: skip
    assert plain.settings["views"] == ["joint"]
    assert set(plain.candidates["views"]) == {"joint"}


def test_a_broad_slice_around_a_specific_one_does_not_widen_it():
    from silentscope.slices.discover import _shown_slices

    membership = np.zeros((200, 2), bool)
    membership[:40, 0] = True  # specific, high error: ranked first
    membership[:150, 1] = True  # broad slice containing it
    candidates = pd.DataFrame(
        {"slice": [0, 1], "views": ["metadata", "joint"], "ci_low": [0.4, 0.1],
         "significant": [True, True], "size": [40, 150]}
    )  # fmt: skip
    errors = np.r_[np.arange(40) % 10 < 7, np.arange(160) % 10 < 1]
    rows = np.arange(200)
    shown = _shown_slices(
        candidates, membership, errors, rows[::2], rows[1::2], None, merge_overlap=0.5,
        alpha=0.05, max_slices=10,
    )  # fmt: skip
    assert len(shown) == 1
    record, mask = shown[0]
    assert mask.sum() == 40 and record["size"] == 40
    assert record["merged_from"] == "1" and record["views"] == "metadata, joint"
    assert record["absorbed"] == 1 and record["consolidation"] == "1: overlap"


def test_cli_joint_only_fits_the_fused_representation_alone(tmp_path, odir_planted):
    from typer.testing import CliRunner

    from silentscope.audit.store import read_artifact, save_audit
    from silentscope.cli import app

    audit, _ = odir_planted
    store = tmp_path / "store"
    save_audit(audit, store)
    runner = CliRunner()
    for flags, views in (
        (["--joint-only", "--no-class-blind"], ["joint"]),
        (["--per-modality", "--no-class-blind"], ["text", "metadata", "joint"]),
        (["--joint-only"], ["joint", "joint (any class)"]),
    ):
        result = runner.invoke(
            app,
            [
                "slices",
                str(store),
                "-m",
                "text,metadata",
                "--seeds",
                "1",
                *flags,
                "--keep-label-derived",
            ],  # fmt: skip
        )
        assert result.exit_code == 0, result.output
        assert read_artifact(store, "slices_settings")["views"] == views


def test_bootstrap_stability_is_measured_in_every_view(odir_planted):
    audit, _ = odir_planted
    report = discover_slices(
        audit, ("text", "metadata"), n_seeds=1, n_resamples=2, min_support=15,
        keep_label_derived=True,
    )  # fmt: skip
    stability = report.slicer.stability_
    assert stability.resamples.shape == (report.slicer.n_slices_, 2)
    assert np.isfinite(stability.resample_stability).all()
    shown = report.slices["resample_stability"]
    assert len(shown) >= 1 and shown.between(0, 1).all()


def test_membership_and_scores_in_one_pass_are_the_two_answers_exactly():
    """Discovery asks for both at once (one pass over the samples per view and seed): the
    members and the scores must be what ``predict_membership`` and ``slice_scores`` say,
    with and without the predictions, on samples the slicer was not fitted on."""
    from silentscope.slices import membership_and_scores

    X, y, proba, _ = _one_view_failure()
    views = {"a": slice(0, 12), "b": slice(12, 14), "joint": slice(None)}
    slicer = ErrorAwareMixture(6, variance_floor=0.3, init_params="errors")
    pooled = MultiViewSlicer(slicer, views, n_seeds=3).fit(X[:400], y[:400], proba[:400])
    for arguments in ((X, y), (X, y, proba)):
        members, scores = membership_and_scores(pooled, *arguments)
        np.testing.assert_array_equal(members, pooled.predict_membership(*arguments))
        np.testing.assert_array_equal(scores, pooled.slice_scores(*arguments))
        consensus = pooled.consensus_["b"]
        one_view = membership_and_scores(consensus, X[:, 12:14], *arguments[1:])
        np.testing.assert_array_equal(
            one_view[0], consensus.predict_membership(X[:, 12:14], *arguments[1:])
        )


def test_membership_and_scores_ask_each_view_and_seed_once(monkeypatch):
    """The point of the one pass: 3 views x 3 seeds = 9 computations of responsibilities,
    not 18 (members, then scores, each asking every seed again)."""
    from silentscope.slices import membership_and_scores

    X, y, proba, _ = _one_view_failure(n=300)
    views = {"a": slice(0, 12), "b": slice(12, 14), "joint": slice(None)}
    pooled = MultiViewSlicer(ErrorAwareMixture(4), views, n_seeds=3).fit(X, y, proba)
    calls = []
    original = ErrorAwareMixture._responsibilities

    def counted(self, *arguments):
        calls.append(1)
        return original(self, *arguments)

    monkeypatch.setattr(ErrorAwareMixture, "_responsibilities", counted)
    membership_and_scores(pooled, X, y)
    assert len(calls) == 9
