"""Attributes from metadata: binning, kinds, and what is skipped with which reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.subgroups import MISSING, bin_numeric, prepare_attributes


def test_clinical_cut_points_give_open_ended_bands():
    groups, levels = bin_numeric([10, 18, 39.9, 40, 64, 65, 91], [18, 40, 65])
    assert levels == ("<18", "[18, 40)", "[40, 65)", ">=65")
    assert groups.tolist() == [
        "<18",
        "[18, 40)",
        "[18, 40)",
        "[40, 65)",
        "[40, 65)",
        ">=65",
        ">=65",
    ]


def test_quantile_bins_are_balanced_and_missing_values_get_their_own_group():
    values = np.r_[np.arange(100.0), np.nan, np.nan]
    groups, levels = bin_numeric(values, 4)
    assert levels[-1] == MISSING and len(levels) == 5
    counts = pd.Series(groups).value_counts()
    assert counts[MISSING] == 2
    assert all(counts[level] == 25 for level in levels[:-1])


def test_quantile_bins_merge_where_values_tie():
    groups, levels = bin_numeric([1, 1, 1, 1, 1, 1, 2, 3], 4)
    assert len(levels) < 4 and set(groups) == set(levels)


def test_bad_cut_points_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        bin_numeric([1, 2], [65, 40])


def test_kinds_and_skips_each_come_with_a_reason():
    n = 60
    meta = pd.DataFrame(
        {
            "age": np.linspace(20, 80, n),
            "grade": np.tile([1, 2, 3], n // 3),  # few numeric levels: categorical
            "flag": np.tile([True, False], n // 2),
            "site": ["one"] * n,
            "empty": [np.nan] * n,
            "record": [f"r{i}" for i in range(n)],
            "ward": [f"w{i % 25}" for i in range(n)],
            "patient": np.arange(n),
        }
    )
    found, skipped = prepare_attributes(meta, max_levels=20)
    kinds = {a.name: a.kind for a in found}
    assert kinds == {"age": "numeric", "grade": "categorical", "flag": "categorical"}
    reasons = {s.what: s.reason for s in skipped}
    assert "single value" in reasons["attribute site"]
    assert "all values are missing" in reasons["attribute empty"]
    # identifiers are recognised by the one rule of silentscope.audit.roles
    assert "more than max_levels=20" in reasons["attribute ward"]
    assert "names samples" in reasons["attribute record"]
    assert "identifier" in reasons["attribute patient"]


def test_named_columns_are_used_as_asked_and_unknown_ones_are_an_error():
    meta = pd.DataFrame({"site": [1, 2, 3, 4, 5, 6, 7] * 3, "age": np.arange(21.0)})
    found, _ = prepare_attributes(meta, ["site"], categorical=["site"])
    assert found[0].kind == "categorical" and len(found[0].levels) == 7
    with pytest.raises(ValueError, match=r"attribute\(s\) \['sex'\] not in the metadata"):
        prepare_attributes(meta, ["sex"])


def test_categorical_missing_values_form_a_group_rather_than_being_dropped():
    meta = pd.DataFrame({"sex": ["F", "M", None, "F"]})
    (attribute,), _ = prepare_attributes(meta)
    assert attribute.levels == ("F", "M", MISSING)
    assert attribute.groups.tolist() == ["F", "M", MISSING, "F"]


def test_one_value_with_missing_ones_is_two_groups():
    # 'A' or not recorded: missing values get their own group, as for every other column,
    # instead of the column being skipped as "a single value"
    meta = pd.DataFrame({"site": ["A", None] * 30})
    found, skipped = prepare_attributes(meta)
    assert not skipped
    (site,) = found
    assert site.levels == ("A", "<missing>")
    assert (site.groups == "<missing>").sum() == 30
