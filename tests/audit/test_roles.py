"""Metadata roles: one rule for which columns analyses may explain failures by (issue 13, case 3 and 10)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.capabilities import analysis_availability
from silentscope.audit.roles import label_association, resolve_roles
from silentscope.audit.store import load_audit, save_audit
from silentscope.cli import app
from silentscope.predictor.features import metadata_features
from silentscope.slices import discover_slices
from silentscope.subgroups import analyze_subgroups


def _audit(n=400, seed=0, *, test_set=None, sample_id=None, text=None, **metadata):
    """A binary AuditSet whose errors concentrate where ``risky == 'yes'`` (if given)."""
    # offset: callers draw their columns with default_rng(seed), which must not equal the label
    rng = np.random.default_rng(seed + 1000)
    label = rng.integers(0, 2, n)
    risky = np.asarray(metadata.get("risky", np.array(["no"] * n)))
    wrong = rng.random(n) < np.where(risky == "yes", 0.4, 0.08)
    logits = np.eye(2)[np.where(wrong, 1 - label, label)] * rng.gamma(3.0, 0.6, (n, 1))
    return AuditSet(
        sample_id=sample_id if sample_id is not None else [f"s{i}" for i in range(n)],
        test_set=test_set if test_set is not None else ["iid"] * n,
        label=label,
        logits=logits,
        class_names=["neg", "pos"],
        metadata=pd.DataFrame(metadata) if metadata else None,
        text=text,
        features=rng.normal(size=(n, 8)),
    )


def _row_index_audit():
    # the layout the MedMNIST adapter gives: a row index restarting per split / test set
    n = 300
    return _audit(
        n,
        test_set=np.where(np.arange(n) < 100, "val", "iid"),
        source_index=np.r_[np.arange(100), np.arange(200)],
    )


# ------------------------------------------------------------------ case 3: a row index
def test_row_index_is_recognised_once_and_no_analysis_uses_it():
    audit = _row_index_audit()
    role = audit.metadata_roles["source_index"]
    assert role.role == "index" and not role.analysable
    # subgroups: not testable, with the reason (before: slices used it, subgroups rejected it)
    result = analyze_subgroups(audit)
    reasons = {s.what: s.reason for s in result.skipped}
    assert "row index" in reasons["attribute source_index"]
    assert "no testable attribute" in reasons["subgroup analysis"]
    # slices: the metadata modality is dropped with a note, never explained by the index
    report = discover_slices(audit, n_seeds=1, min_support=10)
    assert "metadata" not in report.settings["modalities"]
    assert any("source_index" in note and "row index" in note for note in report.notes)
    assert not report.slices["metadata"].str.contains("source_index").any()
    # predictor: named on purpose, still left out with the reason
    frame, skipped = metadata_features(audit, ["source_index"])
    assert frame.empty and "row index" in skipped[0].reason


def test_info_says_what_subgroup_analysis_can_really_do(tmp_path):
    audit = _row_index_audit()
    reasons = {a.command: r for a, r in analysis_availability(audit)}
    assert reasons["subgroups"] == "no testable attribute (source_index is a row index)"
    save_audit(audit, tmp_path / "store")
    result = CliRunner().invoke(app, ["info", str(tmp_path / "store")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "no testable attribute (source_index is a row index)" in result.output
    assert "index (inferred)" in result.output  # recorded in the store, read back as is


def test_medmnist_adapter_declares_its_row_index(tmp_path):
    from silentscope.data.medmnist import load_medmnist

    rng = np.random.default_rng(0)
    arrays = {
        f"{s}_{k}": (
            rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
            if k == "images"
            else rng.integers(0, 2, (n, 1), dtype=np.uint8)
        )
        for s, n in (("train", 6), ("val", 2), ("test", 3))
        for k in ("images", "labels")
    }
    np.savez(tmp_path / "breastmnist.npz", **arrays)
    declared = load_medmnist("breastmnist", tmp_path).info["metadata_roles"]
    assert declared["source_index"]["role"] == "index"


def test_roles_are_recorded_in_the_store_and_a_user_override_survives_loading(tmp_path):
    n = 200
    audit = _audit(n, code=[f"c{i % 150}" for i in range(n)], sex=["F", "M"] * (n // 2))
    assert audit.metadata_roles["code"].role == "identifier"  # 150 values in 200 samples
    audit = audit.with_metadata_roles({"code": "clinical"})
    store = save_audit(audit, tmp_path / "store")
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["metadata_roles"]["code"]["role"] == "clinical"
    assert manifest["metadata_roles"]["sex"] == {
        "role": "clinical",
        "source": "inferred",
        "reason": "is a clinical attribute (inferred)",
    }
    loaded = load_audit(store)
    assert loaded.metadata_roles["code"].role == "clinical"
    assert loaded.metadata_roles["code"].source == "declared"
    with pytest.raises(Exception, match="do not have|does not have"):
        audit.with_metadata_roles({"cdoe": "clinical"})


@pytest.mark.parametrize(
    ("name", "values", "role"),
    [
        ("patient_id", [f"P{i // 2}" for i in range(60)], "identifier"),
        ("accession", list(range(1000, 1060)), "identifier"),
        ("image", [f"img/{i}.png" for i in range(60)], "file"),
        ("ref", [f"{i}_left_63_Female_N.jpg" for i in range(60)], "file"),
        ("row", list(range(60)), "index"),
        ("gt_slice", [True, False] * 30, "ground_truth"),
        ("age", list(np.arange(60) % 50 + 30), "clinical"),
        ("site", ["a", "b", "c"] * 20, "acquisition"),
        ("grade", [1, 2, 3] * 20, "attribute"),
    ],
)
def test_roles_are_inferred_by_clear_rules(name, values, role):
    assert resolve_roles(pd.DataFrame({name: values}))[name].role == role


# ------------------------------------------------------------------ label-derived inputs
def test_a_column_that_restates_the_label_is_named_and_left_out_unless_kept():
    n = 400
    rng = np.random.default_rng(3)
    risky = rng.choice(["no", "yes"], n)
    audit = _audit(n, risky=risky)
    code = np.where(audit.label == 1, "D", "N")
    audit = _audit(n, risky=risky, code=code)
    assert label_association(code, audit.label) == 1.0
    role = audit.metadata_roles["code"]
    assert role.role == "label_derived" and "balanced accuracy 1.00" in role.reason
    assert audit.metadata_roles["risky"].analysable
    result = analyze_subgroups(audit)
    reasons = {s.what: s.reason for s in result.skipped}
    assert "keep_label_derived=True" in reasons["attribute code"]
    assert "code" not in set(result.attributes["attribute"])
    kept = analyze_subgroups(audit, keep_label_derived=True)
    assert "code" in set(kept.attributes["attribute"])
    frame, skipped = metadata_features(audit, ["code", "risky"])
    assert list(frame.columns) == ["meta.risky"] and "label" in skipped[0].reason
    frame, _ = metadata_features(audit, ["code"], keep_label_derived=True)
    assert list(frame.columns) == ["meta.code"]


def test_report_text_that_restates_the_label_is_left_out_of_slices_unless_kept():
    n = 400
    probe = _audit(n, seed=5)
    text = np.where(probe.label == 1, "proliferative retinopathy", "normal fundus")
    audit = _audit(n, seed=5, text=text, age=np.arange(n) % 60 + 20)
    report = discover_slices(audit, n_seeds=1, min_support=10)
    assert "text" not in report.settings["modalities"]
    assert any("report text left out" in note for note in report.notes)
    assert (report.slices["top_terms"] == "").all()
    kept = discover_slices(audit, n_seeds=1, min_support=10, keep_label_derived=True)
    assert "text" in kept.settings["modalities"]


# ------------------------------------------------------------------ no confounded scopes
def _two_shift_sets(n=600, seed=0):
    """No iid set: acq/left (left eyes only) and sub/age=70+ (both eyes); errors in right eyes."""
    rng = np.random.default_rng(seed)
    in_old = np.arange(n) >= n // 2
    eye = np.where(in_old, rng.choice(["left", "right"], n), "left")
    risky = np.where(eye == "right", "yes", "no")
    return _audit(
        n,
        seed=seed,
        test_set=np.where(in_old, "sub/age=70+", "acq/left"),
        eye=eye,
        sex=rng.choice(["F", "M"], n),
        risky=risky,
    )


def test_shift_sets_are_not_pooled_into_one_scope_unless_asked():
    audit = _two_shift_sets()
    result = analyze_subgroups(audit, ["eye", "sex"])
    assert set(result.attributes["test_set"]) == {"acq/left", "sub/age=70+"}
    # "eye = right" exists only in the 70+ set: it is compared within that set only
    eye_rows = result.groups.query("attribute == 'eye' and group == 'right'")
    assert set(eye_rows["test_set"]) == {"sub/age=70+"}
    pooled = analyze_subgroups(audit, ["eye", "sex"], pool=True)
    assert set(pooled.attributes["test_set"]) == {"acq/left+sub/age=70+"}
    assert pooled.settings["pool"] is True


def test_corrupted_copies_of_one_image_count_once_when_pooled():
    n = 300
    base = _audit(n, seed=2, risky=np.random.default_rng(99).choice(["no", "yes"], n))
    copies = 4
    sets = ["iid"] + [f"cor/gaussian_noise/{s}" for s in range(1, copies + 1)]
    ids = np.concatenate(
        [base.sample_id if s == "iid" else np.char.add(f"{s}:", base.sample_id) for s in sets]
    )
    pooled_audit = AuditSet(
        sample_id=ids,
        test_set=np.repeat(sets, n),
        label=np.tile(base.label, len(sets)),
        logits=np.tile(base.logits, (len(sets), 1)),
        class_names=base.class_names,
        metadata=pd.concat([base.metadata] * len(sets), ignore_index=True),
    )
    single = analyze_subgroups(base, ["risky"]).attributes.iloc[0]["p_value"]
    pooled = analyze_subgroups(pooled_audit, ["risky"], test_sets=sets, pool=True)
    p_pooled = pooled.attributes.iloc[0]["p_value"]
    assert "count once" in pooled.settings["copies"]
    # five identical copies must not make the evidence five times stronger
    assert np.log10(p_pooled) > 2 * np.log10(single)


def test_numeric_bins_are_the_same_whatever_the_scope_and_are_recorded():
    n = 600
    rng = np.random.default_rng(4)
    audit = _audit(
        n,
        test_set=np.where(np.arange(n) < 200, "val", np.where(np.arange(n) < 450, "iid", "acq/b")),
        age=rng.integers(20, 90, n),
    )
    first = analyze_subgroups(audit, ["age"])
    second = analyze_subgroups(audit, ["age"], per_test_set=True)
    assert first.settings["bins"] == second.settings["bins"]
    levels = lambda r: sorted(set(r.groups.query("test_set == 'iid'")["group"]))  # noqa: E731
    assert levels(first) == levels(second)
    assert len(first.settings["bins"]["age"]) == 3


# ------------------------------------------------------------------ real ODIR data
def test_odir_roles_label_code_and_keywords_are_label_derived(odir_dir):
    meta = pd.read_csv(odir_dir / "metadata.csv").drop_duplicates("md5").head(1500)
    label = (meta["label_code"] != "N").to_numpy().astype(int)
    n = len(meta)
    audit = AuditSet(
        sample_id=meta["file"].to_numpy(),
        test_set=["iid"] * n,
        label=label,
        logits=np.eye(2)[label] * 3,
        class_names=["normal", "abnormal"],
        metadata=meta[["file", "patient_id", "eye", "age", "sex", "label_code"]],
        text=meta["keywords"].to_numpy(),
    )
    roles = {c: r.role for c, r in audit.metadata_roles.items()}
    assert roles == {
        "file": "file",
        "patient_id": "identifier",
        "eye": "acquisition",
        "age": "clinical",
        "sex": "clinical",
        "label_code": "label_derived",
    }
    from silentscope.audit.roles import text_label_derived

    assert "restates the label" in text_label_derived(audit)


def test_odir_adapter_declares_roles(tmp_path):
    from PIL import Image

    from silentscope.data.odir import load_odir

    (tmp_path / "images").mkdir()
    rows = []
    for pid in range(10):
        for eye, code in (("left", "N"), ("right", "D")):
            file = f"{pid}_{eye}.jpg"
            Image.fromarray(np.full((16, 16, 3), pid * 20, np.uint8)).save(
                tmp_path / "images" / file
            )
            rows.append(dict(file=file, patient_id=pid, eye=eye, age=50 + pid, sex="Female",
                             label_code=code, keywords="normal fundus" if code == "N" else "dr"))  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    roles = load_odir(tmp_path, size=16).info["metadata_roles"]
    assert roles["patient_id"]["role"] == "identifier"
    assert roles["label_code"]["role"] == "label_derived"


def test_a_shift_set_holding_one_level_of_an_attribute_is_skipped_in_interactions():
    # ODIR's acq/left set holds every left eye, iid none: no eye level is estimable in both
    # sets, and --per-test-set crashed with "max() arg is an empty sequence"
    n = 600
    rng = np.random.default_rng(6)
    in_shift = np.arange(n) >= 400
    audit = _audit(
        n,
        seed=6,
        test_set=np.where(in_shift, "acq/left", "iid"),
        eye=np.where(in_shift, "left", "right"),
        risky=rng.choice(["no", "yes"], n),
    )
    result = analyze_subgroups(audit, ["eye", "risky"], per_test_set=True)
    reasons = {s.what: s.reason for s in result.skipped}
    assert "fewer than two groups" in reasons["interaction eye x acq/left, class all"]
    assert "risky" in set(result.interactions["attribute"])


def test_a_user_declares_a_role_in_an_existing_store_and_every_analysis_follows(tmp_path):
    audit = _row_index_audit()
    store = save_audit(audit, tmp_path / "store")
    runner = CliRunner()
    result = runner.invoke(app, ["info", str(store), "--role", "source_index=attribute"])
    assert result.exit_code == 0, result.output
    loaded = load_audit(store)
    assert loaded.metadata_roles["source_index"].role == "attribute"
    assert "declared by the user" in loaded.metadata_roles["source_index"].reason
    assert analyze_subgroups(loaded).attributes["attribute"].tolist() == ["source_index"]
    bad = runner.invoke(app, ["info", str(store), "--role", "source_index=number"])
    assert bad.exit_code != 0 and "unknown" in bad.output


def test_the_predictor_leaves_a_named_label_derived_column_out_unless_kept():
    from silentscope.predictor import estimate_risk

    n = 400
    rng = np.random.default_rng(8)
    probe = _audit(n, seed=8)
    audit = _audit(
        n,
        seed=8,
        test_set=np.where(np.arange(n) < 200, "val", "iid"),
        code=np.where(probe.label == 1, "D", "N"),
        risky=rng.choice(["no", "yes"], n),
    )
    left_out = estimate_risk(audit, model="logreg", metadata=["code", "risky"])
    assert [s.what for s in left_out.skipped] == ["feature code"]
    assert "keep_label_derived=True" in left_out.skipped[0].reason
    kept = estimate_risk(audit, model="logreg", metadata=["code", "risky"], keep_label_derived=True)
    assert kept.skipped == [] and kept.settings["keep_label_derived"] is True


def test_columns_changed_after_construction_get_roles_when_saved(tmp_path):
    audit = _audit(100, code=["a", "b"] * 50, sex=["F", "M"] * 50)
    audit.metadata = audit.metadata.drop(columns=["code"]).assign(row=np.arange(100))
    loaded = load_audit(save_audit(audit, tmp_path / "store"))
    assert {c: r.role for c, r in loaded.metadata_roles.items()} == {
        "sex": "clinical",
        "row": "index",
    }


def test_info_says_why_slices_cannot_use_metadata_alone():
    n = 60
    audit = AuditSet(
        sample_id=[str(i) for i in range(n)],
        test_set=["iid"] * n,
        label=np.arange(n) % 2,
        logits=np.zeros((n, 2)),
        class_names=["a", "b"],
        metadata=pd.DataFrame({"source_index": range(n)}),
    )
    reasons = {a.command: r for a, r in analysis_availability(audit)}
    assert reasons["slices"] == (
        "needs features or text or metadata; its metadata has no testable attribute "
        "(source_index is a row index)"
    )
