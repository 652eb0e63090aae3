"""Every table the CLI prints reads at 80 columns (nothing cut to "…") and stays one table at 200."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from silentscope.audit.store import save_audit
from silentscope.cli import app
from silentscope.cli._tables import print_table
from tests.support.small_slice import small_slice_audit
from tests.support.synthetic import make_synthetic_audit


def readable(output: str, width: int) -> None:
    lines = output.splitlines()
    assert "…" not in output, output
    assert max(len(line) for line in lines) <= width, output


def test_a_wide_table_is_split_at_80_columns_with_its_key_repeated():
    table = Table("CSF", *(f"cor/gaussian_noise/{i}" for i in range(6)), title="AURC")
    table.add_row("MSR", *(f"{100 + i}.5 [90.1, 120.3]" for i in range(6)))
    for width, parts in ((80, 2), (250, 1)):
        out = Console(file=StringIO(), width=width)
        print_table(table, out=out)
        text = out.file.getvalue()
        readable(text, width)
        assert text.count("MSR") == parts
        assert text.count("AURC") == 1  # the title once, over the first part
        assert all(f"{100 + i}.5" in text for i in range(6))


@pytest.fixture(scope="module")
def sliced(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "sliced"
    save_audit(small_slice_audit(n_small=36), path)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "audit"
    save_audit(make_synthetic_audit(seed=3, mc=False), path)
    return path


#: command -> (arguments, tables it prints, text that must read whole at 200 columns)
COMMANDS = {
    "shifts list": (["shifts", "list"], 1, ["name", "levels (severity 1-5)", "modalities"]),
    "csfs": (["csfs", "{store}"], 1, ["description", "requires", "status"]),
    "info": (["info", "{store}"], 2, ["test set"]),
    "evaluate": (
        [
            "evaluate",
            "{store}",
            "--csf",
            "MSR",
            "--csf",
            "PE",
            "--csf",
            "MLS",
            "--bootstrap",
            "20",
            "--out",
            "{out}",
        ],
        2,
        ["cor/gaussian_noise/1", "man/easy", "cor = mean over 3 corruption test sets"],
    ),  # fmt: skip
    "data info": (["data", "info", "synthetic", "--option", "n_samples=200"], 2, ["class"]),
    "slices": (
        ["slices", "{sliced}", "--min-support", "10", "--seeds", "2", "--no-save"],
        1,
        ["error (95% CI)", "metadata: age"],
    ),  # fmt: skip
    "subgroups": (["subgroups", "{sliced}"], 2, ["error rate [95% CI]", "independent"]),
    "predictor": (["predictor", "{sliced}", "--n-bootstrap", "50"], 1, ["AUROC_f [95% CI]"]),
}


def table_lines(output: str) -> str:
    """The lines of tables (text printed around them may be left to the terminal to wrap)."""
    return "\n".join(line for line in output.splitlines() if line[:1] in "┏┃┡│└")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_cli_tables_read_at_80_and_200_columns(name, store, sliced, tmp_path):
    arguments, n_tables, whole = COMMANDS[name]
    arguments = [a.format(store=store, sliced=sliced, out=tmp_path / "out") for a in arguments]
    for width in (80, 200):
        result = CliRunner().invoke(app, arguments, env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        readable(table_lines(result.output), width)
        if width == 200:  # nothing split, and the headers and captions read whole
            assert result.output.count("┏") == n_tables, result.output
            assert all(text in result.output for text in whole), result.output


def test_study_results_table_reads_at_80_and_200_columns(tmp_path):
    from silentscope.study.runner import run_study
    from silentscope.study.spec import parse_study
    from tests.support.studies import store_study

    run_study(parse_study(store_study(tmp_path, n_stores=3)), tmp_path / "study", live=False)
    for width, parts in ((80, 2), (200, 1)):
        result = CliRunner().invoke(
            app, ["study", "results", str(tmp_path / "study")], env={"COLUMNS": str(width)}
        )
        assert result.exit_code == 0, result.output
        readable(table_lines(result.output), width)
        assert result.output.count("┏") == parts, result.output
        assert "cor = mean over" in result.output


def test_every_cli_table_goes_through_print_table():
    import silentscope.cli as cli

    folder = Path(cli.__file__).parent
    for module in sorted(folder.glob("*.py")):
        if module.name == "_tables.py":
            continue
        source = module.read_text()
        made, printed = source.count(" Table("), source.count("print_table(")
        assert made <= printed, f"{module.name}: {made} tables, {printed} print_table calls"
