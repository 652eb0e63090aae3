"""Forest plots as embeddable image bytes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from silentscope.subgroups import analyze_subgroups, forest_plot
from tests.support.planted import synthetic_audit


def test_ranked_groups_plot_as_png_with_one_row_per_tested_group():
    result = analyze_subgroups(synthetic_audit(800), per_class=True)
    png = forest_plot(result.groups)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] > 400
    taller = Image.open(io.BytesIO(forest_plot(pd.concat([result.groups] * 3, ignore_index=True))))
    assert taller.size[1] > image.size[1]  # more rows, taller figure


def test_svg_lists_the_labels_and_the_multivariable_table_plots_too():
    result = analyze_subgroups(synthetic_audit(800))
    svg = forest_plot(result.groups, format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "risky = yes" in svg
    terms = forest_plot(
        result.multivariable,
        estimate="adjusted_or",
        low="adjusted_or_low",
        high="adjusted_or_high",
        format="svg",
    ).decode()
    assert "risky=yes" in terms or "risky=no" in terms


def test_same_table_gives_the_same_bytes():
    table = analyze_subgroups(synthetic_audit(400)).groups
    assert forest_plot(table) == forest_plot(table)


def test_untested_rows_are_counted_not_drawn_and_errors_are_clear():
    table = pd.DataFrame({"attribute": ["a", "a"], "group": ["x", "y"], "n": [3, 50],
                          "odds_ratio": [np.nan, 2.0], "or_low": [np.nan, 1.2], "or_high": [np.nan, 3.1]})  # fmt: skip
    assert "1 untested rows not shown" in forest_plot(table, format="svg").decode()
    with pytest.raises(ValueError, match="format must be one of png, svg"):
        forest_plot(table, format="pdf")
    with pytest.raises(ValueError, match="lacks column"):
        forest_plot(table, estimate="adjusted_or")
    with pytest.raises(ValueError, match="no row has an estimate"):
        forest_plot(table.iloc[:1])


def test_result_plots_its_own_tables():
    result = analyze_subgroups(synthetic_audit(800))
    assert result.forest_plot()[:4] == b"\x89PNG"
    assert "risky=" in result.forest_plot("multivariable", format="svg").decode()
    with pytest.raises(ValueError, match="'groups' or 'multivariable'"):
        result.forest_plot("attributes")
