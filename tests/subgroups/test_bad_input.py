"""Bad input: clear messages, and the analysis goes on with what is valid, listing the rest."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet, AuditSetError
from silentscope.subgroups import analyze_subgroups
from tests.support.planted import synthetic_audit


def skipped_reasons(result) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for item in result.skipped:
        reasons[item.what] = "; ".join(filter(None, [reasons.get(item.what), item.reason]))
    return reasons


def test_an_auditset_without_metadata_is_refused_with_the_fix():
    audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
                     logits=np.eye(2) * 3, class_names=["no", "yes"])  # fmt: skip
    with pytest.raises(AuditSetError, match="subgroup analysis needs metadata"):
        analyze_subgroups(audit)


def test_untestable_columns_are_skipped_and_the_rest_is_analysed():
    n = 600
    audit = synthetic_audit(
        n,
        site=["one"] * n,
        empty=[np.nan] * n,
        record=[f"r{i}" for i in range(n)],
        ward=[f"w{i % 25}" for i in range(n)],
    )
    result = analyze_subgroups(audit)
    reasons = skipped_reasons(result)
    assert "single value" in reasons["attribute site"]
    assert "all values are missing" in reasons["attribute empty"]
    assert "max_levels" in reasons["attribute ward"]
    assert "names samples" in reasons["attribute record"]
    assert set(result.attributes["attribute"]) == {"risky", "noise"}
    assert result.groups.query("attribute == 'risky' and group == 'yes'")["significant"].all()


def test_tiny_groups_are_shown_but_not_tested():
    n = 600
    rare = np.where(np.arange(n) % 100 == 0, "rare", "common")  # 3 iid samples are "rare"
    result = analyze_subgroups(synthetic_audit(n, kind=rare), ["kind", "risky"], min_group_size=10)
    rare_row = result.groups.query("attribute == 'kind' and group == 'rare'").iloc[0]
    assert rare_row["n"] == 3 and np.isnan(rare_row["p_value"]) and not rare_row["significant"]
    assert "min_group_size" in rare_row["note"]
    reason = skipped_reasons(result)["kind in iid, class all"]
    assert "smaller than min_group_size=10 not tested: rare (n=3)" in reason
    assert "attribute not tested" in reason
    # a single testable group remains: the attribute itself cannot be tested
    assert "kind" not in set(result.attributes["attribute"])
    assert "risky" in set(result.attributes["attribute"])


def test_a_perfectly_separated_group_gets_an_exact_test_and_the_model_says_what_it_left_out():
    audit = synthetic_audit(900, seed=1)
    correct = audit.correct
    # a group of 15 iid samples that are all correctly classified: too few expected errors
    # for the chi-square approximation, so Fisher's exact test is used
    iid_correct = np.flatnonzero((audit.test_set == "iid") & correct)[:15]
    vip = np.full(audit.n_samples, "standard", dtype=object)
    vip[iid_correct] = "vip"
    audit.metadata["vip"] = vip
    result = analyze_subgroups(audit, ["vip", "risky"])
    row = result.groups.query("attribute == 'vip' and group == 'vip'").iloc[0]
    assert row["errors"] == 0 and row["test"] == "fisher"
    assert np.isfinite(row["odds_ratio"]) and row["odds_ratio"] < 1
    assert "no errors in this group" in row["note"]
    left_out = [
        r for w, r in skipped_reasons(result).items() if w.startswith("multivariable model")
    ]
    assert left_out and "vip=vip (no errors" in left_out[0]
    assert result.attributes.set_index("attribute").loc["risky", "independent"]


def test_a_scope_without_errors_is_skipped_with_its_reason():
    audit = synthetic_audit(400)
    perfect = np.where(audit.label == 1, audit.predictions, audit.label)  # class 1 always right
    fixed = AuditSet(sample_id=audit.sample_id, test_set=audit.test_set, label=perfect,
                     logits=audit.logits, class_names=audit.class_names, metadata=audit.metadata)  # fmt: skip
    result = analyze_subgroups(fixed, per_class=True)
    reasons = skipped_reasons(result)
    assert "no errors among its" in reasons["scope iid, class pos"]
    assert set(result.groups["class"]) == {"all", "neg"}


def test_nothing_testable_gives_an_empty_result_that_says_why():
    audit = synthetic_audit(200, site=["one"] * 200)
    result = analyze_subgroups(audit, ["site"])
    assert result.groups.empty and result.attributes.empty
    assert skipped_reasons(result)["subgroup analysis"] == "no testable attribute"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"numeric": "linear"}, "numeric must be one of bins, continuous"),
        ({"test_sets": ["cor/blur/3"]}, r"test set\(s\) \['cor/blur/3'\] not in this AuditSet"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\)"),
        ({"min_group_size": 0}, "min_group_size must be at least 1"),
        ({"cluster": "patient"}, "cluster column 'patient' not in the metadata"),
        ({"attributes": ["age"]}, r"attribute\(s\) \['age'\] not in the metadata"),
    ],
)
def test_invalid_arguments_are_one_clear_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        analyze_subgroups(synthetic_audit(100), **kwargs)


def test_a_cluster_column_with_missing_ids_is_refused():
    audit = synthetic_audit(100, patient=[*range(99), None])  # missing in iid
    with pytest.raises(ValueError, match="cluster column 'patient' has missing values"):
        analyze_subgroups(audit, cluster="patient")


def test_without_iid_every_evaluation_set_is_the_primary_scope():
    audit = synthetic_audit(300)
    shifted = AuditSet(sample_id=audit.sample_id, label=audit.label, logits=audit.logits,
                       test_set=np.where(audit.test_set == "val", "val", "acq/site_b"),
                       class_names=audit.class_names, metadata=audit.metadata)  # fmt: skip
    result = analyze_subgroups(shifted)
    assert set(result.groups["test_set"]) == {"acq/site_b"}
    assert result.settings["test_sets"] == ["acq/site_b"]
    assert pd.api.types.is_bool_dtype(result.groups["significant"])


def test_a_patient_column_with_several_images_each_asks_for_clustering():
    # two images per patient_id: the samples are not independent; the result says so and
    # names the option, unless the analysis is clustered on it
    n = 400
    audit = synthetic_audit(n, patient_id=[f"P{i // 2}" for i in range(n)])
    reasons = skipped_reasons(analyze_subgroups(audit))
    assert re.search(
        r"(\d+) of \1 patient_id values hold several images \(up to 2\)", reasons["clustering"]
    )
    assert "--cluster patient_id" in reasons["clustering"]
    clustered = skipped_reasons(analyze_subgroups(audit, cluster="patient_id"))
    assert "clustering" not in clustered
    one_each = synthetic_audit(n, patient_id=[f"P{i}" for i in range(n)])
    assert "clustering" not in skipped_reasons(analyze_subgroups(one_each))
