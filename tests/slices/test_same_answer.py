"""Same inputs, same answer: the demo's slices are what ``silentscope slices`` finds on its store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.store import read_artifact, save_audit
from silentscope.cli import app
from silentscope.slices import discover_slices
from silentscope.study.demo import demo_slices

COLUMNS = ["rank", "size", "error_rate", "n_confirm", "errors_confirm", "metadata"]


def small_slice_audit(n=500, n_small=36, seed=0) -> AuditSet:
    """Errors in 36 old patients: about 18 per split, so min_support 10 confirms them and 20 cannot."""
    rng = np.random.default_rng(seed)
    small = np.arange(n) < n_small
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(small, 0.85, 0.08)
    logits = np.eye(2)[np.where(wrong, 1 - label, label)] * 3
    age = np.where(small, 85, 40) + rng.integers(0, 10, n)
    metadata = pd.DataFrame({"age": age, "site": rng.choice(["x", "y", "z"], n)})
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label, logits=logits,
        class_names=["a", "b"], metadata=metadata,
    )  # fmt: skip


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
    first = discover_slices(small_slice_audit(), test_sets=["iid"], min_support=10)
    assert first.n_slices == 1  # found only because min_support is 10
    first.save(store)
    runner = CliRunner()
    plain = runner.invoke(app, ["slices", str(store), "--no-save"], env={"COLUMNS": "80"})
    assert plain.exit_code == 0, plain.output
    assert "min_support 10 (now 20)" in plain.output and "--repeat" in plain.output
    assert "no slice confirmed" in plain.output
    again = runner.invoke(app, ["slices", str(store), "--repeat"], env={"COLUMNS": "80"})
    assert again.exit_code == 0, again.output
    assert "min_support 10" in again.output and "other settings" not in again.output
    pd.testing.assert_frame_equal(read_artifact(store, "slices")[COLUMNS], first.slices[COLUMNS])
    assert read_artifact(store, "slices_settings")["min_support"] == 10


def test_repeat_without_saved_slices_is_refused(store):
    result = CliRunner().invoke(app, ["slices", str(store), "--repeat"])
    assert result.exit_code == 2 and "holds no saved slices" in result.output
