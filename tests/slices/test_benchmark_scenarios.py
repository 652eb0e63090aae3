"""The slice benchmark's planted scenarios (benchmarks/slice_scenarios.py) plant what they say."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
scen = pytest.importorskip("slice_scenarios")


def _inputs(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(60, 200, (n, 16, 16, 3), dtype=np.uint8)
    meta = pd.DataFrame({"age": rng.integers(20, 90, n), "sex": rng.choice(["Female", "Male"], n)})
    labels = rng.integers(0, 3, n)
    return images, labels, meta


def test_artifacts_change_only_the_marked_images():
    images, _, _ = _inputs(50)
    mask = np.arange(50) < 10
    hazy = scen.add_artifact(images, mask, "haze")
    assert (hazy[~mask] == images[~mask]).all()
    # a haze: less contrast and a pale magenta cast on every marked image
    assert (hazy[mask].std(axis=(1, 2, 3)) < images[mask].std(axis=(1, 2, 3)) / 2).all()
    assert (hazy[mask][..., 1].mean() < hazy[mask][..., 0].mean()).all()
    red = scen.add_artifact(images, mask, "red")
    assert (red[mask][..., 0] == images[mask][..., 0]).all()
    assert (red[mask][..., 1] < images[mask][..., 1]).all()
    with pytest.raises(ValueError, match="unknown artifact"):
        scen.add_artifact(images, mask, "sepia")


def test_image_only_failure_lives_in_the_images_and_spans_classes():
    images, labels, meta = _inputs()
    out, new_labels, causes = scen.plant("image", images, labels, 3, meta, seed=0)
    group = causes["hazy images"]
    assert 0.06 < group.mean() < 0.10
    changed_images = (out != images).any(axis=(1, 2, 3))
    assert (changed_images == group).all()  # the haze marks exactly the group
    flipped = new_labels != labels
    assert not flipped[~group].any()
    assert 0.3 < flipped[group].mean() < 0.6
    # errors against the observed labels fall in several true classes (not one cell)
    assert len(set(new_labels[flipped])) == 3
    # nothing in the metadata marks the group
    assert abs(meta["age"][group].mean() - meta["age"].mean()) < 5


def test_conjunction_needs_both_the_haze_and_the_metadata_value():
    images, labels, meta = _inputs()
    out, new_labels, causes = scen.plant("conjunction", images, labels, 3, meta, seed=1)
    hazy = (out != images).any(axis=(1, 2, 3))
    women = (meta["sex"] == "Female").to_numpy()
    group = causes["hazy women"]
    assert (group == (hazy & women)).all()
    flipped = new_labels != labels
    assert not flipped[hazy & ~women].any() and not flipped[women & ~hazy].any()
    assert flipped[group].mean() > 0.3


def test_diffuse_failure_has_six_small_disjoint_causes_and_null_has_none():
    images, labels, meta = _inputs(4000)
    _, new_labels, causes = scen.plant("diffuse", images, labels, 3, meta, seed=2)
    assert len(causes) == 6
    stacked = np.array(list(causes.values()))
    assert (stacked.sum(axis=0) <= 1).all()
    assert all(0.01 < mask.mean() < 0.05 for mask in causes.values())
    assert not (new_labels != labels)[~stacked.any(axis=0)].any()
    out, null_labels, none = scen.plant("null", images, labels, 3, meta, seed=2)
    assert none == {} and (null_labels == labels).all() and (out == images).all()


def test_fresh_held_out_kinds_plant_grain_alone_and_grain_with_age():
    images, labels, meta = _inputs(3000)
    out, new_labels, causes = scen.plant("grain", images, labels, 3, meta, seed=3)
    grainy = causes["grainy images"]
    assert ((out != images).any(axis=(1, 2, 3)) == grainy).all()
    # grain: noise, not a shift of the mean colour
    assert abs(out[grainy].mean() - images[grainy].mean()) < 5
    assert not (new_labels != labels)[~grainy].any()
    out, new_labels, causes = scen.plant("grain_age", images, labels, 3, meta, seed=3)
    grainy = (out != images).any(axis=(1, 2, 3))
    older = (meta["age"] > 60).to_numpy()
    assert (causes["grainy, over 60"] == (grainy & older)).all()
    flipped = new_labels != labels
    assert not flipped[grainy & ~older].any() and flipped[grainy & older].mean() > 0.3
    fresh = [s for s in scen.scenarios() if s.fresh == 1]
    assert {s.set for s in fresh} == {"held-out (fresh)"} and not any(s.tuning for s in fresh)


def test_second_fresh_kinds_plant_scan_lines_alone_and_with_male_sex():
    images, labels, meta = _inputs(3000)
    out, new_labels, causes = scen.plant("lines", images, labels, 3, meta, seed=4)
    lined = causes["scan-line images"]
    changed = (out != images).any(axis=(1, 2, 3))
    assert (changed == lined).all() and 0.05 < lined.mean() < 0.11
    # only every fourth pixel row is touched
    assert not (out[lined][:, 1::4] != images[lined][:, 1::4]).any()
    assert not (new_labels != labels)[~lined].any()
    out, new_labels, causes = scen.plant("lines_male", images, labels, 3, meta, seed=4)
    lined = (out != images).any(axis=(1, 2, 3))
    male = ~meta["sex"].astype(str).str.lower().str.startswith("f").to_numpy()
    assert (causes["scan-line images of men"] == (lined & male)).all()
    flipped = new_labels != labels
    assert not flipped[lined & ~male].any() and flipped[lined & male].mean() > 0.3
    second = [s for s in scen.scenarios() if s.fresh == 2]
    assert {s.set for s in second} == {"held-out (fresh 2)"} and len(second) == 4


def test_third_fresh_kinds_plant_a_vignette_alone_and_with_younger_age():
    images, labels, meta = _inputs(3000)
    out, new_labels, causes = scen.plant("vignette", images, labels, 3, meta, seed=4)
    dimmed = causes["vignetted images"]
    changed = (out != images).any(axis=(1, 2, 3))
    assert (changed == dimmed).all() and 0.05 < dimmed.mean() < 0.11
    # the corners darken, the centre keeps its brightness
    corner = (
        out[dimmed][:, 0, 0].astype(float).mean() / images[dimmed][:, 0, 0].astype(float).mean()
    )
    centre = (
        out[dimmed][:, 7, 7].astype(float).mean() / images[dimmed][:, 7, 7].astype(float).mean()
    )
    assert corner < 0.4 and centre > 0.9
    assert not (new_labels != labels)[~dimmed].any()
    out, new_labels, causes = scen.plant("vignette_young", images, labels, 3, meta, seed=4)
    dimmed = (out != images).any(axis=(1, 2, 3))
    young = meta["age"].to_numpy(dtype=float) <= 55
    assert (causes["vignetted, age <= 55"] == (dimmed & young)).all()
    flipped = new_labels != labels
    assert not flipped[dimmed & ~young].any() and flipped[dimmed & young].mean() > 0.3
    third = [s for s in scen.scenarios() if s.fresh == 3]
    assert {s.set for s in third} == {"held-out (fresh 3)"} and len(third) == 4


def test_fourth_fresh_kinds_plant_a_glare_alone_and_with_older_age():
    images, labels, meta = _inputs(3000)
    out, new_labels, causes = scen.plant("glare", images, labels, 3, meta, seed=4)
    glared = causes["images with glare"]
    changed = (out != images).any(axis=(1, 2, 3))
    assert (changed == glared).all() and 0.05 < glared.mean() < 0.11
    # a bright spot: the images only brighten, by up to 120 grey levels
    lift = out[glared].astype(int) - images[glared].astype(int)
    assert lift.min() >= 0 and lift.max() > 50
    assert not (new_labels != labels)[~glared].any()
    out, new_labels, causes = scen.plant("glare_old", images, labels, 3, meta, seed=4)
    glared = (out != images).any(axis=(1, 2, 3))
    older = meta["age"].to_numpy(dtype=float) > 65
    assert (causes["glare, over 65"] == (glared & older)).all()
    flipped = new_labels != labels
    assert not flipped[glared & ~older].any() and flipped[glared & older].mean() > 0.3
    fourth = [s for s in scen.scenarios() if s.fresh == 4]
    assert {s.set for s in fourth} == {"held-out (fresh 4)"} and len(fourth) == 4


def test_cache_is_never_inside_the_repository(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="inside the repository"):
        scen.cache_dir(BENCHMARKS / "cache")
    monkeypatch.setenv("SILENTSCOPE_CACHE", str(tmp_path))
    assert scen.cache_dir(None).parent == tmp_path.resolve()


def test_declared_split_holds_out_the_new_kinds_on_odir():
    found = scen.scenarios()
    assert len({s.name for s in found}) == len(found)
    held = {s.name for s in found if not s.tuning and not s.fresh}
    assert held == {f"odir/{k}/{size}" for k in scen.KINDS for size in ("small", "large")}
    fresh = {s.name for s in found if s.fresh == 1}
    assert fresh == {f"odir/{k}/{size}" for k in scen.FRESH_KINDS for size in ("small", "large")}
    second = {s.name for s in found if s.fresh == 2}
    assert second == {f"odir/{k}/{size}" for k in scen.FRESH2_KINDS for size in ("small", "large")}
    third = {s.name for s in found if s.fresh == 3}
    assert third == {f"odir/{k}/{size}" for k in scen.FRESH3_KINDS for size in ("small", "large")}
    fourth = {s.name for s in found if s.fresh == 4}
    assert fourth == {f"odir/{k}/{size}" for k in scen.FRESH4_KINDS for size in ("small", "large")}
    for dataset in ("odir", "synthetic"):  # every new kind at two sizes on both datasets
        for kind in scen.KINDS:
            sizes = {s.size for s in found if s.dataset == dataset and s.kind == kind}
            assert sizes == {"small", "large"}


def test_quick_benchmark_prints_every_method(tmp_path, capsys):
    """The smoke test trains two tiny networks and scores every method on them."""
    import slices

    assert slices.main(["--quick", "--cache", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for method in slices.METHODS:
        assert f"| {method} |" in printed
    assert "synthetic/image/tiny" in printed and "null runs with any" in printed
    assert list(tmp_path.iterdir())  # the audits were cached where asked


def test_null_outputs_keep_the_error_rate_but_lose_every_link():
    from silentscope.audit import AuditSet

    rng = np.random.default_rng(0)
    n = 900
    age = rng.integers(20, 90, n)
    label = rng.integers(0, 3, n)
    # the network fails on the old and on class 2: real causes, which the null must erase
    wrong = (age > 75) | ((label == 2) & (rng.random(n) < 0.5))
    predicted = np.where(wrong, (label + 1) % 3, label)
    logits = np.eye(3)[predicted] * 2.0 + rng.normal(0, 0.1, (n, 3))
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=logits, class_names=["a", "b", "c"], metadata=pd.DataFrame({"age": age}),
    )  # fmt: skip
    null = scen.permuted_outputs(audit, seed=0)
    assert (~null.correct).sum() == (~audit.correct).sum()
    assert np.allclose(
        np.sort(null.probabilities.max(axis=1)), np.sort(audit.probabilities.max(axis=1))
    )
    rate = (~null.correct).mean()
    assert abs((~null.correct[age > 75]).mean() - rate) < 0.1  # errors no longer follow age
    for c in range(3):  # nor the class
        assert abs((~null.correct[label == c]).mean() - rate) < 0.1
