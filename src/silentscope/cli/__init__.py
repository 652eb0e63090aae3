"""The ``silentscope`` command line: a thin layer over the Python API.

Each topic lives in its own module here and adds its commands with ``register(app)``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="silentscope",
    help="Audit medical image classifiers for silent failures: confident wrong predictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per topic; each defines ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES = (
    "store",
    "data",
    "train",
    "slices",
    "subgroups",
    "shifts",
    "evaluate",
    "view",
    "study",
    "report",
)

for _module in _COMMAND_MODULES:
    importlib.import_module(f"silentscope.cli.{_module}").register(app)


def main() -> None:
    """Entry point of the ``silentscope`` console script."""
    app()
