"""Split-based shift builders: held-out rows, test-set names, chaining, provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from silentscope.audit.test_sets import parse_test_set
from silentscope.data import DatasetError, make_synthetic
from silentscope.shifts.splits import (
    SplitPlan,
    acquisition_shift,
    base_plan,
    manifestation_shift,
    numeric_bands,
    prevalence_shift,
    subgroup_shift,
)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(1200, 16, seed=2)


def _fitted(plan):
    return np.union1d(plan.train, plan.val)


def test_acquisition_shift_holds_a_site_out_of_training(data):
    plan = acquisition_shift(data, "site", "site_B")
    site = data.metadata["site"].to_numpy()
    assert set(site[_fitted(plan)]) == {"site_A"}
    assert (plan.rows("acq/site_B") == np.flatnonzero(site == "site_B")).all()
    assert set(site[plan.rows("iid")]) == {"site_A"}
    assert plan.names == ("iid", "acq/site_B")
    roles = plan.assignment()
    assert set(roles) == {"train", "val", "iid", "acq/site_B"}


def test_manifestation_shift_removes_the_subtype_from_training(data):
    plan = manifestation_shift(data.metadata, "gt_subtype", "amelanotic_melanoma", split=data.split)
    subtype = data.metadata["gt_subtype"].to_numpy()
    assert "amelanotic_melanoma" not in set(subtype[_fitted(plan)])
    held = plan.rows("man/amelanotic_melanoma")
    assert len(held) == (subtype == "amelanotic_melanoma").sum()
    # Rows that were training rows before are now test rows, never lost.
    base = base_plan(data)
    assert len(plan.train) == len(base.train) - np.isin(base.train, held).sum()


def test_subgroup_shift_with_age_bands_held_out_or_evaluated(data):
    held = subgroup_shift(data, "age", "70+", bands=[40, 70])
    age = data.metadata["age"].to_numpy()
    assert age[_fitted(held)].max() < 70
    assert (age[held.rows("sub/age=70+")] >= 70).all()
    evaluated = subgroup_shift(data, "age", bands=[40, 70])
    assert (evaluated.train == base_plan(data).train).all()
    parts = [evaluated.rows(f"sub/age={band}") for band in ("<40", "40-69", "70+")]
    assert sorted(np.concatenate(parts).tolist()) == evaluated.rows("iid").tolist()
    by_sex = subgroup_shift(data, "sex")
    assert {"sub/sex=female", "sub/sex=male"} <= set(by_sex.names)


def test_prevalence_shift_reaches_the_target_and_is_seeded(data):
    kwargs = dict(class_names=data.class_names, seed=5)
    plan = prevalence_shift(data, data.labels, {"melanoma": 0.6}, **kwargs)
    rows = plan.rows("prev/melanoma=0.60")
    assert abs((data.labels[rows] == 1).mean() - 0.6) < 0.01
    assert set(rows) <= set(plan.rows("iid"))
    again = prevalence_shift(data, data.labels, {"melanoma": 0.6}, **kwargs)
    other = prevalence_shift(
        data, data.labels, {"melanoma": 0.6}, class_names=data.class_names, seed=6
    )
    assert (again.rows("prev/melanoma=0.60") == rows).all()
    assert not np.array_equal(other.rows("prev/melanoma=0.60"), rows)
    balanced = prevalence_shift(data, data.labels, [1 / 3] * 3, n=60, **kwargs)
    assert np.bincount(data.labels[balanced.rows(balanced.names[-1])]).tolist() == [20, 20, 20]
    step = plan.params["steps"][-1]
    assert step["counts"][1] == (data.labels[rows] == 1).sum()


def test_chained_plan_holds_everything_out_of_one_training_set(data):
    plan = acquisition_shift(data, "site", "site_B")
    plan = manifestation_shift(data, "gt_subtype", "amelanotic_melanoma", base=plan)
    plan = subgroup_shift(data, "sex", base=plan)
    plan = prevalence_shift(
        data, data.labels, {"melanoma": 0.5}, class_names=data.class_names, base=plan
    )
    meta = data.metadata
    fitted = _fitted(plan)
    assert set(meta["site"].to_numpy()[fitted]) == {"site_A"}
    assert "amelanotic_melanoma" not in set(meta["gt_subtype"].to_numpy()[fitted])
    iid = plan.rows("iid")
    assert set(meta["site"].to_numpy()[iid]) == {"site_A"}
    for name in plan.names:
        parse_test_set(name)
    builders = [step["builder"] for step in plan.params["steps"]]
    assert builders == [
        "base_plan",
        "acquisition_shift",
        "manifestation_shift",
        "subgroup_shift",
        "prevalence_shift",
    ]
    restored = SplitPlan.from_dict(json.loads(plan.to_json()))
    assert (
        restored.names == plan.names
        and (restored.rows("prev/melanoma=0.50") == plan.rows("prev/melanoma=0.50")).all()
    )
    subsets = plan.subsets(data)
    assert len(subsets["acq/site_B"]) == len(plan.rows("acq/site_B"))
    counts = plan.counts_by_label(data.labels, data.class_names)
    assert counts.loc["man/amelanotic_melanoma", "melanoma"] > 0


def test_drawn_split_is_patient_level(data):
    meta = data.metadata
    plan = acquisition_shift(
        meta, "site", "site_B", labels=data.labels, patient_column="patient_id", seed=1
    )
    assert plan.params["steps"][0]["split"] == "drawn"
    assert plan.shared_patients(meta["patient_id"])["iid"] == 0


def test_numeric_bands_label_integers_floats_and_missing():
    assert numeric_bands([17, 18, 64, 65], [18, 65]).tolist() == ["<18", "18-64", "18-64", "65+"]
    assert numeric_bands([0.1, 1.0, 2.5, np.nan], [0.5, 2.0]).tolist() == [
        "<0.5",
        "0.5-2",
        ">=2",
        "missing",
    ]
    with pytest.raises(DatasetError, match="increasing"):
        numeric_bands([1, 2], [5, 3])
    with pytest.raises(DatasetError, match="not a number"):
        numeric_bands([1, "old"], [5])


def test_errors_name_the_problem(data):
    meta = data.metadata
    with pytest.raises(DatasetError, match="no column 'scanner'"):
        acquisition_shift(meta, "scanner", "X", split=data.split)
    with pytest.raises(DatasetError, match="no row has site == 'site_C'"):
        acquisition_shift(meta, "site", "site_C", split=data.split)
    with pytest.raises(DatasetError, match="cannot name a test set"):
        acquisition_shift(
            pd.DataFrame({"site": ["a/b", "c"]}), "site", "a/b", split=["train", "test"]
        )
    with pytest.raises(DatasetError, match="no row is in subgroup age=90\\+"):
        subgroup_shift(meta, "age", "90+", bands=[40, 70], split=data.split)
    with pytest.raises(DatasetError, match="unknown class 'cancer'"):
        prevalence_shift(
            meta, data.labels, {"cancer": 0.5}, class_names=data.class_names, split=data.split
        )
    with pytest.raises(DatasetError, match="use n <="):
        prevalence_shift(
            meta,
            data.labels,
            {"melanoma": 0.5},
            class_names=data.class_names,
            split=data.split,
            n=10**6,
        )
    with pytest.raises(DatasetError, match="shares 1 rows with train/val"):
        SplitPlan(4, [0, 1], [2], {"iid": [1, 3]})
    with pytest.raises(ValueError, match="unknown test-set name"):
        SplitPlan(4, [0], [1], {"test": [2, 3]})
    with pytest.raises(DatasetError, match="already has a test set"):
        acquisition_shift(
            meta, "site", "site_B", base=acquisition_shift(meta, "site", "site_B", split=data.split)
        )


def test_apply_gives_the_trainer_and_evaluator_inputs(data):
    plan = manifestation_shift(
        data, "gt_subtype", "amelanotic_melanoma", base=acquisition_shift(data, "site", "site_B")
    )
    base, shifted = plan.apply(data)
    assert len(base) == len(plan.train) + len(plan.val) + len(plan.rows("iid"))
    assert (base.split == "train").sum() == len(plan.train) and (base.split == "test").sum() == len(
        plan.rows("iid")
    )
    assert set(shifted) == {"acq/site_B", "man/amelanotic_melanoma"}
    assert set(shifted["acq/site_B"].metadata["site"]) == {"site_B"}
    assert (
        shifted["man/amelanotic_melanoma"].sample_ids
        == data.sample_ids[plan.rows("man/amelanotic_melanoma")]
    ).all()
    with pytest.raises(DatasetError, match="indexes"):
        plan.apply(data.subset(np.arange(10)))
