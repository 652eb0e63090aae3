"""Same inputs, same answer: the demo's slices are what ``silentscope slices`` finds on its store."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit.store import read_artifact, save_audit
from silentscope.cli import app
from silentscope.slices import discover_slices
from silentscope.study.demo import demo_slices
from tests.support.small_slice import small_slice_audit

COLUMNS = ["rank", "size", "error_rate", "n_confirm", "errors_confirm", "metadata"]


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "audit"
    save_audit(small_slice_audit(), path)
    return path


def test_the_command_finds_the_demos_slices_on_its_store(store):
    demo = demo_slices(store).slices[COLUMNS]
    result = CliRunner().invoke(app, ["slices", str(store), "-t", "iid"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(read_artifact(store, "slices")[COLUMNS], demo)
    assert "other settings" not in result.output


def test_repeat_reuses_the_saved_settings_and_a_plain_run_says_they_differ(store):
    first = discover_slices(small_slice_audit(), test_sets=["iid"], min_support=5)
    assert first.n_slices == 1  # found only because min_support is 5
    first.save(store)
    runner = CliRunner()
    plain = runner.invoke(app, ["slices", str(store), "--no-save"], env={"COLUMNS": "80"})
    assert plain.exit_code == 0, plain.output
    assert "min_support 5 (now 10)" in plain.output and "--repeat" in plain.output
    assert "no slice confirmed" in plain.output
    again = runner.invoke(app, ["slices", str(store), "--repeat"], env={"COLUMNS": "80"})
    assert again.exit_code == 0, again.output
    assert "min_support 5" in again.output and "other settings" not in again.output
    pd.testing.assert_frame_equal(read_artifact(store, "slices")[COLUMNS], first.slices[COLUMNS])
    assert read_artifact(store, "slices_settings")["min_support"] == 5


def test_repeat_without_saved_slices_is_refused(store):
    result = CliRunner().invoke(app, ["slices", str(store), "--repeat"])
    assert result.exit_code == 2 and "holds no saved slices" in result.output
