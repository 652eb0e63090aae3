"""The ``silentscope`` command line: a thin layer over the Python API.

Each topic lives in its own module here and adds its commands with ``register(app)``.

Start-up time is part of the interface: ``silentscope --help`` or ``silentscope view STORE``
must not pay for torch, scikit-learn or the image pipeline. So the command modules keep only
typer, rich and the standard library at module level and import the rest of silentscope inside
their command functions, and the application is built on first use (``app`` or ``main()``), so
importing one command module does not import its siblings.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable

import typer

# One module per topic; each defines ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES = (
    "imports",
    "store",
    "data",
    "train",
    "slices",
    "subgroups",
    "predictor",
    "shifts",
    "evaluate",
    "csfs",
    "selective",
    "view",
    "study",
    "report",
)


def build_app(modules: Iterable[str] = _COMMAND_MODULES) -> typer.Typer:
    """A new ``silentscope`` application with the commands of the given topic modules.

    Parameters
    ----------
    modules : iterable of str, default: every topic
        Names of modules in ``silentscope.cli`` that define ``register(app)``.

    Returns
    -------
    typer.Typer
        The application; call it to run the command line.

    Examples
    --------
    >>> app = build_app(["view"])
    >>> [command.name for command in app.registered_commands]
    ['view']
    """
    app = typer.Typer(
        name="silentscope",
        help="Audit medical image classifiers for silent failures: confident wrong predictions.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in modules:
        importlib.import_module(f"silentscope.cli.{module}").register(app)
    return app


@functools.cache
def get_app() -> typer.Typer:
    """The ``silentscope`` application with every command, built once."""
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    # ``from silentscope.cli import app`` keeps working while a bare import stays cheap.
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``silentscope`` console script."""
    get_app()()
