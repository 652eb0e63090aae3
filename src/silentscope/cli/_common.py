"""Helpers shared by CLI modules: one console, and user errors as one clear sentence."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

#: ``--no-verify`` of every command that opens a store (``load_audit(store, verify=...)``).
NoVerify = Annotated[
    bool,
    typer.Option(
        "--no-verify",
        help="Skip the content hashes of the store's files (a store you trust); its manifest, "
        "paths and sizes are still checked.",
    ),
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected errors (bad input, missing files) into one red line and exit code 2.

    Tracebacks are kept for bugs: only ValueError, FileNotFoundError and KeyError subclasses
    that carry a user-facing message are caught. A degenerate-model warning of the
    library (:class:`~silentscope.audit.health.DegenerateModelWarning`, or
    :class:`~silentscope.audit.integrity.UnverifiedStoreWarning`) is printed as one
    yellow line where it happens, not as a Python warning with a source line.
    """
    from silentscope.audit.health import DegenerateModelWarning
    from silentscope.audit.integrity import UnverifiedStoreWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, (DegenerateModelWarning, UnverifiedStoreWarning)):
            err_console.print(
                f"[bold yellow]warning:[/] {message}", soft_wrap=True, highlight=False
            )
        else:
            original(message, category, filename, lineno, file, line)

    try:
        with warnings.catch_warnings():
            original = warnings.showwarning
            warnings.showwarning = show
            warnings.simplefilter("always", DegenerateModelWarning)
            yield
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as error:
        err_console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from None


def fmt_value(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, ``-`` where it is missing (NaN or None)."""
    import pandas as pd

    return "-" if pd.isna(value) else f"{value:.{digits}g}"


def fmt_interval(row, estimate: str, low: str, high: str, digits: int = 3) -> str:
    """``estimate [low, high]`` from three fields of a table row."""
    return (
        f"{fmt_value(row[estimate], digits)} "
        f"[{fmt_value(row[low], digits)}, {fmt_value(row[high], digits)}]"
    )


def print_skipped(skipped) -> None:
    """One yellow line per skipped item (anything with ``what`` and ``reason``)."""
    for item in skipped:
        err_console.print(f"[yellow]skipped[/] {item.what}: {item.reason}")
