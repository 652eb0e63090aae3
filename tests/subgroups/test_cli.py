"""``silentscope subgroups STORE``: a thin layer that saves its tables in the store."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.store import list_artifacts, read_artifact, save_audit
from silentscope.cli import app
from silentscope.cli.subgroups import parse_bins
from tests.support.planted import simulate_audit

runner = CliRunner()


@pytest.fixture()
def odir_store(odir_metadata, tmp_path):
    return save_audit(simulate_audit(odir_metadata, 0, n_patients=1200), tmp_path / "store")


def test_subgroups_command_finds_the_planted_group_and_saves_artifacts(odir_store, tmp_path):
    plot = tmp_path / "forest.svg"
    result = runner.invoke(
        app,
        ["subgroups", str(odir_store), "-a", "age", "-a", "scanner", "-a", "sex",
         "--bins", "age=40,65", "--per-class", "--plot", str(plot)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "age = >=65" in result.output
    groups = read_artifact(odir_store, "subgroups")
    assert (groups.iloc[0]["attribute"], groups.iloc[0]["group"]) == ("age", ">=65")
    assert not groups.query("attribute == 'scanner'")["significant"].any()
    assert {
        "subgroups_attributes",
        "subgroups_multivariable",
        "subgroups_skipped",
        "subgroups_settings",
    } <= set(list_artifacts(odir_store))
    assert read_artifact(odir_store, "subgroups_settings")["per_class"] is True
    assert plot.read_text().lstrip().startswith("<?xml")


def test_bad_input_ends_in_one_clear_line(odir_store, tmp_path):
    result = runner.invoke(app, ["subgroups", str(odir_store), "--bins", "age=old"])
    assert result.exit_code == 2 and "age=40,65 (cut points) or age=q4" in result.output
    bare = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
                    logits=np.eye(2) * 3, class_names=["no", "yes"])  # fmt: skip
    store = save_audit(bare, tmp_path / "bare")
    result = runner.invoke(app, ["subgroups", str(store)])
    assert result.exit_code == 2 and "subgroup analysis needs metadata" in result.output
    assert "Traceback" not in result.output


def test_parse_bins_reads_cut_points_and_quantiles():
    assert parse_bins(["age=18,40,65", "bmi=q5"]) == {"age": [18.0, 40.0, 65.0], "bmi": 5}
    with pytest.raises(ValueError, match="is not valid"):
        parse_bins(["age"])
