"""Helpers shared by CLI modules: one console, and user errors as one clear sentence."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected errors (bad input, missing files) into one red line and exit code 2.

    Tracebacks are kept for bugs: only ValueError, FileNotFoundError and KeyError subclasses
    that carry a user-facing message are caught.
    """
    try:
        yield
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as error:
        err_console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from None
