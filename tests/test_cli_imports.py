"""The command line starts fast: its modules import no heavy library until a command runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from silentscope.cli import _COMMAND_MODULES, get_app

#: Libraries that cost from a tenth of a second (numpy) to seconds (torch) to import.
HEAVY = ("torch", "sklearn", "scipy", "cv2", "matplotlib", "pyarrow", "pandas", "numpy", "PIL")

LIGHT_MODULES = tuple(_COMMAND_MODULES)


def _heavy_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy libraries it left in ``sys.modules``."""
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_probe_detects_a_heavy_import():
    # Guards the tests below against passing because the probe cannot see anything.
    assert _heavy_after("import numpy") == ["numpy"]


def test_package_import_is_light():
    assert _heavy_after("import silentscope.cli") == []


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_command_module_is_light(module):
    code = (
        f"import typer\nimport silentscope.cli.{module} as module\nmodule.register(typer.Typer())"
    )
    assert _heavy_after(code) == []


def test_help_of_the_light_commands_stays_light():
    # Rendering --help goes through typer's rich formatting, which must not pull in more.
    code = (
        "from silentscope.cli import build_app\n"
        f"app = build_app({LIGHT_MODULES!r})\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    )
    assert _heavy_after(code) == []


def test_help_lists_every_command():
    commands = typer.main.get_command(get_app()).commands
    # The top-level commands users are told about; a new module adds to this set.
    expected = {"import", "info", "data", "train", "audit-model", "slices", "subgroups"}
    expected |= {"predictor", "shifts", "evaluate", "csfs", "view", "study", "report", "demo"}
    assert expected <= set(commands)
    done = subprocess.run(
        [sys.executable, "-m", "silentscope", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "120", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    listed = {
        line.strip(" │|").split()[0] for line in done.stdout.splitlines() if line.strip(" │|")
    }
    assert set(commands) <= listed, sorted(set(commands) - listed)


def test_slicer_help_names_every_registered_slicer():
    # The help text is fixed (reading the registry would import scikit-learn at start-up),
    # so it must be kept in step with the registry.
    from silentscope.slices import SLICERS

    result = CliRunner().invoke(get_app(), ["slices", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in SLICERS:
        assert name in result.output


def test_cli_modules_stay_thin():
    # The CLI parses, calls the library and prints: a module that grows past this holds
    # workflow logic that belongs in the library (see ARCHITECTURE.md, "a thin layer").
    from pathlib import Path

    import silentscope.cli

    folder = Path(silentscope.cli.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in folder.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 250} == {}
