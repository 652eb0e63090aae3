"""``silentscope csfs``: every registered confidence scoring function, and which a store allows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, user_errors
from silentscope.cli._tables import print_table


def csfs_command(
    store: Annotated[
        Path | None, typer.Argument(help="Optional audit store: also say which CSFs it allows.")
    ] = None,
    no_verify: NoVerify = False,
) -> None:
    """List every registered confidence scoring function with the inputs it requires.

    Example: silentscope csfs audit_store
    """
    from silentscope.audit.store import load_audit
    from silentscope.confidence import describe_csfs, get_csf

    with user_errors():
        audit = load_audit(store, verify=not no_verify) if store is not None else None
        table = Table(title="confidence scoring functions (higher = more confident)")
        for column in (
            "name",
            "description",
            "requires",
            "fitted",
            *(("status",) if audit else ()),
        ):
            table.add_column(column)
        reasons = {}
        for row in describe_csfs().itertuples():
            cells = [row.name, row.display_name, row.requires, "yes" if row.fitted else "no"]
            if audit is not None:
                if row.name.startswith("ext:"):
                    declared = ", ".join(f"ext:{key}" for key in audit.confidences)
                    cells.append(declared or "[yellow]none declared[/]")
                else:
                    csf = get_csf(row.name)
                    reason = csf.unavailable_reason(audit)
                    if reason is None:
                        cells.append("[green]available[/]")
                    else:
                        cells.append(f"[yellow]missing {', '.join(csf.missing_inputs(audit))}[/]")
                        reasons[row.name] = reason
            table.add_row(*cells)
    print_table(table)
    for name, reason in reasons.items():
        console.print(f"  [bold]{name}[/]: {reason}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("csfs")(csfs_command)
