"""Validate before work: every name kind fails fast, once, with the closest valid name."""

from __future__ import annotations

import time

import numpy as np
import pytest
from typer.testing import CliRunner

from silentscope.cli import build_app
from silentscope.preflight import check_names
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from silentscope.study.training_run import corruption_notes

TYPOS = [
    ({"datasets": ["medmnist:pneumonimnist"]}, "MedMNIST dataset", "pneumoniamnist"),
    ({"datasets": ["synthtic"]}, "dataset", "synthetic"),
    ({"corruptions": ["gausian_noise"]}, "corruption", "gaussian_noise"),
    ({"objectives": ["confidnett"]}, "objective", "confidnet"),
    ({"csfs": ["MSRR"]}, "CSF", "MSR"),
]


@pytest.mark.parametrize(("names", "kind", "closest"), TYPOS)
def test_a_typo_in_each_name_kind_gets_one_sentence_with_the_closest_name(names, kind, closest):
    with pytest.raises(ValueError) as error:
        check_names(**names)
    message = str(error.value)
    assert f"unknown {kind} " in message
    assert f"did you mean {closest!r}?" in message
    assert message.count("unknown") == 1
    assert "," not in message.split("?")[0]  # no list of every valid name


def test_an_invalid_severity_is_refused_up_front():
    with pytest.raises(ValueError, match=r"severities must be integers 1-5, got \[6\]"):
        check_names(severities=[1, 6])


def test_several_typos_are_named_once_each_in_one_message():
    with pytest.raises(ValueError) as error:
        check_names(corruptions=["gausian_noise", "gausian_noise", "pixelat"], objectives=["dgg"])
    message = str(error.value)
    assert message.count("'gausian_noise'") == 1
    assert "did you mean 'pixelate'" in message and "did you mean 'dg'" in message


def test_train_with_a_misspelt_corruption_fails_before_loading_data_or_writing(tmp_path):
    out = tmp_path / "run"
    started = time.perf_counter()
    result = CliRunner().invoke(
        build_app(["train"]),
        ["train", "--dataset", "synthetic", "--data-option", "n_samples=200", "--epochs", "1",
         "--corruption", "gausian_noise", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "did you mean 'gaussian_noise'" in result.output
    assert result.output.count("unknown corruption") == 1
    assert not out.exists()  # no model.pt, history.csv or checkpoints: nothing was trained
    assert time.perf_counter() - started < 10  # no training (the machine is shared: loose)


def test_a_study_with_a_typo_fails_once_before_any_run_folder(tmp_path):
    spec = parse_study(
        {
            "name": "typo",
            "datasets": [{"name": "synthetic", "corruptions": ["gausian_noise"]}],
            "objectives": ["ce", "dg"],
            "seeds": [0, 1],
            "train": {"epochs": 1},
        }
    )
    with pytest.raises(ValueError) as error:
        run_study(spec, tmp_path / "study", live=False)
    assert str(error.value).count("unknown corruption") == 1
    assert "did you mean 'gaussian_noise'" in str(error.value)
    assert not (tmp_path / "study").exists()


def test_a_study_with_a_misspelt_dataset_fails_once_not_per_run(tmp_path):
    spec = parse_study(
        {"name": "typo", "datasets": [{"name": "synthtic"}], "objectives": ["ce", "dg"]}
    )
    with pytest.raises(ValueError, match="did you mean 'synthetic'") as error:
        run_study(spec, tmp_path / "study", live=False)
    assert str(error.value).count("unknown dataset") == 1


def test_correct_names_pass():
    check_names(
        datasets=["synthetic", "medmnist:dermamnist"],
        corruptions=["default", "gaussian_noise"],
        severities=[1, 5],
        objectives=["ce", "bce"],
        csfs=["MSR", "ext:DG"],
    )


def _white_medmnist(folder):
    """A MedMNIST-layout file of all-white images: brightening them changes nothing."""
    folder.mkdir()
    arrays = {}
    for split, n in (("train", 12), ("val", 12), ("test", 12)):
        arrays[f"{split}_images"] = np.full((n, 28, 28), 255, np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
    path = folder / "pneumoniamnist.npz"
    np.savez(path, **arrays)
    return path


def test_a_study_refuses_a_corruption_that_changes_nothing_before_any_run(tmp_path):
    path = _white_medmnist(tmp_path / "data")
    spec = parse_study(
        {"name": "white", "datasets": [{"name": str(path), "label": "white",
         "corruptions": ["brightness_up"]}], "train": {"epochs": 1}}
    )  # fmt: skip
    with pytest.raises(ValueError, match="brightness_up at 28x28 px .* not a shift"):
        run_study(spec, tmp_path / "study", live=False)
    assert not (tmp_path / "study").exists()


def test_a_study_warns_before_training_about_default_sets_it_leaves_out(tmp_path):
    path = _white_medmnist(tmp_path / "data")
    spec = parse_study(
        {"name": "white", "datasets": [{"name": str(path), "label": "white",
         "severities": [5]}], "train": {"epochs": 1}, "evaluation": {"bootstrap": 0}}
    )  # fmt: skip
    notes = corruption_notes(spec)
    assert any(n.startswith("white: brightness_up at 28x28 px") for n in notes)
    assert all("(left out)" in n for n in notes if "brightness_up" in n)


def test_a_study_run_records_the_corruption_check_in_the_store_and_run_record(tmp_path):
    import json

    from silentscope.audit.store import load_audit
    from tests.support.studies import tiny_study

    spec = parse_study(tiny_study(seeds=[0], ensembles=[]))
    run_study(spec, tmp_path / "study", live=False)
    folder = tmp_path / "study" / "runs" / spec.runs()[0].run_id
    check = load_audit(folder / "audit").provenance["corruption_check"]
    assert check["corruptions"] == ["gaussian_noise"]
    assert check["checked_change"]["gaussian_noise"]["3"] > 0.5
    record = json.loads((folder / "run.json").read_text())
    assert record["details"]["corruption_check"] == check


def test_objective_names_are_checked_without_torch_and_match_the_registry():
    import subprocess
    import sys

    from silentscope.models.objectives import OBJECTIVES
    from silentscope.preflight import BUILTIN_OBJECTIVES, registered_objectives

    assert sorted(BUILTIN_OBJECTIVES) == sorted(OBJECTIVES)
    assert registered_objectives() == tuple(OBJECTIVES)  # the live registry once it is loaded
    code = (
        "import sys\n"
        "from silentscope.preflight import check_names\n"
        "try:\n"
        "    check_names(datasets=['synthetic'], corruptions=['gausian_noise'], objectives=['confidnett'])\n"
        "except ValueError as error:\n"
        "    print(error)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        "did you mean 'confidnet'" in out.stdout and "did you mean 'gaussian_noise'" in out.stdout
    )
    assert out.stdout.strip().endswith("False"), out.stdout
