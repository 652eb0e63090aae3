"""Subgroup analysis on real ODIR-5K metadata with simulated classifier outputs.

The planted risk group (age >= 65) must be found; a pure-noise attribute must never
survive FDR control; a confounder that follows the risk group must be associated but not
independent; class-specific and shift-specific effects must show where they were planted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.subgroups import analyze_subgroups
from tests.support.planted import simulate_audit

AGE_BANDS = {"age": [40, 65]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_group_is_found_and_noise_is_never_reported(odir_metadata, seed):
    audit = simulate_audit(odir_metadata, seed, n_patients=1600)
    result = analyze_subgroups(audit, ["age", "sex", "eye", "scanner"], bins=AGE_BANDS)
    top = result.groups.iloc[0]
    assert (top["attribute"], top["group"]) == ("age", ">=65")
    assert top["significant"] and top["or_low"] > 2
    assert top["error_rate_low"] < 0.30 < top["error_rate_high"]  # the planted rate is covered
    noise = result.groups[result.groups["attribute"] == "scanner"]
    assert not noise["significant"].any()
    attributes = result.attributes.set_index("attribute")
    assert (
        not attributes.loc["scanner", "associated"] and not attributes.loc["scanner", "independent"]
    )
    assert attributes.loc["age", "independent"]


def test_noise_is_not_reported_across_many_seeds_and_scopes(odir_metadata):
    # 8 seeds x (overall + 2 classes) x every scanner test: not one discovery.
    for seed in range(3, 11):
        audit = simulate_audit(odir_metadata, seed, n_patients=800)
        result = analyze_subgroups(audit, ["age", "scanner"], per_class=True)
        noise = pd.concat(
            [
                result.groups.query("attribute == 'scanner'")["significant"],
                result.attributes.query("attribute == 'scanner'")["associated"],
            ]
        )
        assert not noise.any(), seed


def test_a_confounder_is_associated_but_not_an_independent_risk_factor(odir_metadata):
    audit = simulate_audit(odir_metadata, 0)
    result = analyze_subgroups(audit, ["age", "clinic", "sex"], bins=AGE_BANDS)
    attributes = result.attributes.set_index("attribute")
    assert attributes.loc["clinic", "associated"]
    assert not attributes.loc["clinic", "independent"]
    assert attributes.loc["age", "independent"]
    terms = result.multivariable.set_index("term")
    assert terms.loc["age=>=65", "adjusted_or_low"] > 2
    unadjusted = result.groups.set_index(["attribute", "group"]).loc[
        ("clinic", "geriatric"), "odds_ratio"
    ]
    assert unadjusted > 2  # looks like a strong risk factor on its own ...
    clinic_term = [t for t in terms.index if t.startswith("clinic=")][0]
    assert (
        terms.loc[clinic_term, "adjusted_or_low"] < 1 < terms.loc[clinic_term, "adjusted_or_high"]
    )  # ... but is not


def test_a_failure_on_one_class_only_is_found_in_that_class(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, class_specific=1, risk_error=0.45)
    result = analyze_subgroups(audit, ["age", "scanner"], bins=AGE_BANDS, per_class=True)
    old = result.groups.query("attribute == 'age' and group == '>=65'").set_index("class")
    assert old.loc["abnormal", "significant"] and old.loc["abnormal", "or_low"] > 2
    assert not old.loc["normal", "significant"]
    assert set(result.groups["class"]) == {"all", "normal", "abnormal"}


def test_an_effect_that_grows_under_shift_shows_as_an_interaction(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, risk_error=0.2, shifted_risk_error=0.55)
    result = analyze_subgroups(audit, ["age", "scanner"], bins=AGE_BANDS, per_test_set=True)
    interactions = result.interactions.set_index("attribute")
    assert (
        interactions.loc["age", "significant"]
        and interactions.loc["age", "test_set"] == "acq/site_B"
    )
    assert not interactions.loc["scanner", "significant"]
    per_set = result.groups.query("attribute == 'age' and group == '>=65'").set_index("test_set")
    assert per_set.loc["acq/site_B", "odds_ratio"] > per_set.loc["iid", "odds_ratio"]


def test_no_interaction_is_reported_when_the_effect_is_the_same_under_shift(odir_metadata):
    audit = simulate_audit(odir_metadata, 1, risk_error=0.3, shifted_risk_error=0.3)
    result = analyze_subgroups(audit, ["age"], bins=AGE_BANDS, per_test_set=True)
    assert len(result.interactions) == 1 and not result.interactions["significant"].any()


def test_continuous_mode_reports_the_odds_ratio_per_standard_deviation(odir_metadata):
    audit = simulate_audit(odir_metadata, 0)
    result = analyze_subgroups(audit, ["age", "scanner"], numeric="continuous")
    age = result.attributes.set_index("attribute").loc["age"]
    assert age["test"] == "logit_lr" and age["effect_name"].startswith("odds_ratio_per_sd")
    assert age["effect_low"] > 1.3 and age["associated"]
    assert "age (per SD)" in set(result.multivariable["term"])


def test_cluster_robust_tests_account_for_duplicated_patients(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, n_patients=400)
    iid = audit.select("iid")
    # Every image twice, as if two images per eye: naive tests double their confidence.
    rows = np.r_[np.arange(iid.n_samples), np.arange(iid.n_samples)]
    doubled = AuditSet(
        sample_id=np.r_[iid.sample_id, np.char.add(iid.sample_id.astype(str), "_copy")],
        test_set=iid.test_set[rows],
        label=iid.label[rows],
        logits=iid.logits[rows],
        class_names=iid.class_names,
        metadata=iid.metadata.iloc[rows].assign(image_of=rows),
    )
    naive = analyze_subgroups(doubled, ["age"], bins=AGE_BANDS, numeric="continuous")
    robust = analyze_subgroups(
        doubled, ["age"], bins=AGE_BANDS, numeric="continuous", cluster="image_of"
    )
    single = analyze_subgroups(iid, ["age"], bins=AGE_BANDS, numeric="continuous")
    age = [r.attributes.set_index("attribute").loc["age"] for r in (naive, robust, single)]
    width = [np.log(a["effect_high"] / a["effect_low"]) for a in age]
    assert width[0] < 0.8 * width[1]  # the naive interval is too narrow
    assert width[1] == pytest.approx(width[2], rel=0.1)  # clustering recovers the honest width
    assert robust.attributes["test"].iloc[0] == "logit_wald_cluster"


def test_results_are_reproducible_with_the_same_seed(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, n_patients=300)
    first = analyze_subgroups(audit, per_class=True, min_group_size=5, random_state=3)
    second = analyze_subgroups(audit, per_class=True, min_group_size=5, random_state=3)
    pd.testing.assert_frame_equal(first.groups, second.groups)
    pd.testing.assert_frame_equal(first.attributes, second.attributes)


def test_a_group_is_reported_only_when_its_attribute_is(odir_metadata):
    # Seed 2 gives the noise attribute one group with a chance dip (group q <= 0.05) while
    # the attribute as a whole is not associated: hierarchical reporting keeps it out.
    audit = simulate_audit(odir_metadata, 2)
    result = analyze_subgroups(
        audit,
        ["age", "sex", "eye", "scanner", "clinic"],
        bins=AGE_BANDS,
        cluster="patient_id",
        random_state=2,
    )
    scanner = result.groups.query("attribute == 'scanner'")
    assert (scanner["q_value"] <= 0.05).any()
    assert not scanner["significant"].any()
    assert not result.attributes.set_index("attribute").loc["scanner", "associated"]
