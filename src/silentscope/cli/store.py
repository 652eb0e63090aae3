"""``silentscope info`` and ``silentscope store verify|rehash``: what a store holds, and its integrity."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, user_errors
from silentscope.cli._tables import print_table


def info(
    store: Path = typer.Argument(..., help="Audit store folder."),
    role: list[str] | None = typer.Option(
        None,
        "--role",
        help="Declare a metadata column's role first, recorded in the store: COLUMN=ROLE "
        "(identifier, index, file, ground_truth, label_derived, clinical, acquisition, attribute).",
    ),
    no_verify: NoVerify = False,
) -> None:
    """Summarise an audit store: samples and accuracy per test set, and which analyses it allows.

    Example: silentscope info audit_store --role site_code=acquisition
    """
    from silentscope.audit.capabilities import analysis_availability
    from silentscope.audit.health import model_health, stored_health
    from silentscope.audit.store import list_artifacts, load_audit, set_metadata_roles
    from silentscope.audit.validation import quoted
    from silentscope.metrics import balanced_accuracy

    with user_errors():
        if role:
            pairs = [item.partition("=") for item in role]
            for item, (name, _, value) in zip(role, pairs, strict=True):
                if not name or not value:
                    raise ValueError(
                        f"--role {item!r} is not valid; write COLUMN=ROLE, e.g. age=clinical"
                    )
            set_metadata_roles(store, {name: value for name, _, value in pairs})
        audit = load_audit(store, verify=not no_verify)
    console.print(
        f"[bold]{store}[/]  {audit.n_samples} samples, {audit.n_classes} classes: {quoted(audit.class_names)}",
        highlight=False,
    )
    # the verdict the store records (else the same rule now): info is the first thing a
    # user reads, so a degenerate classifier and imbalanced classes are said here too
    health = stored_health(audit.provenance) or model_health(audit)
    balanced = health.imbalanced
    table = Table(title="test sets")
    columns = ("test set", "kind", "samples", "accuracy", "balanced accuracy", "errors")
    for column in columns if balanced else [c for c in columns if c != "balanced accuracy"]:
        table.add_column(column, justify="left" if column in ("test set", "kind") else "right")
    for row in audit.summary().itertuples():
        cells = [row.test_set, row.kind, str(row.n), f"{row.accuracy:.3f}"]
        if balanced:
            mask = audit.test_set == row.test_set
            known = mask & (audit.label >= 0)  # new-class samples (label -1) have no recall
            cells.append(
                f"{balanced_accuracy(audit.predictions[known], audit.label[known]):.3f}"
                if known.any()
                else "-"
            )
        table.add_row(*cells, str(row.errors))
    print_table(table)
    if balanced:
        console.print(
            f"classes are imbalanced (largest {health.majority_rate:.0%} vs smallest "
            f"{health.minority_rate:.1%} on {health.split}): read balanced accuracy beside accuracy"
        )
    if health.degenerate:
        console.print(f"[bold red]degenerate classifier:[/] {health.reason}", highlight=False)
    inputs = sorted(audit.available_inputs())
    console.print(f"inputs: {', '.join(inputs)}")
    if audit.outputs == "probabilities":
        what = "a deep ensemble's mean " if "ensemble" in audit.provenance else ""
        console.print(
            f"outputs: {what}probabilities (the logits are their logarithms, so CSFs that need "
            "the classifier's logits are unavailable)"
        )
    if audit.confidences:
        console.print(f"external confidences: {', '.join(sorted(audit.confidences))}")
    if audit.metadata is not None:
        # each column's role decides which analyses may use it (silentscope.audit.roles)
        roles = Table(title="metadata columns and their roles")
        for column in ("column", "role", "used by analyses", "why"):
            roles.add_column(column)
        for name, role in audit.metadata_roles.items():
            used = "yes" if role.analysable else "[yellow]no[/]"
            roles.add_row(name, f"{role.role} ({role.source})", used, role.reason)
        print_table(roles)
    analyses = Table(title="analyses")
    analyses.add_column("analysis")
    analyses.add_column("command")
    analyses.add_column("status")
    for analysis, reason in analysis_availability(audit):
        status = "[green]available[/]" if reason is None else f"[yellow]{reason}[/]"
        analyses.add_row(analysis.name, f"silentscope {analysis.command}", status)
    print_table(analyses)
    artifacts = list_artifacts(store)
    if artifacts:
        console.print(f"artifacts: {', '.join(artifacts)}")


store_app = typer.Typer(help="Check and maintain an audit store.", no_args_is_help=True)


@store_app.command("verify")
def verify(store: Path = typer.Argument(..., help="Audit store folder.")) -> None:
    """Check every file of a store against its recorded hash now (no cache), then load it.

    Example: silentscope store verify audit_store
    """
    from silentscope.audit.integrity import verify_store

    with user_errors():
        checked = verify_store(store)
    console.print(
        f"[green]ok[/] {store}: {len(checked)} files match their hashes: {', '.join(checked)}"
    )


@store_app.command("rehash")
def rehash(store: Path = typer.Argument(..., help="Audit store folder.")) -> None:
    """Record the hashes a store written by an older silentscope lacks.

    Only missing hashes are added; a file that no longer matches its recorded hash is
    refused. Run it on a store you know is as it was written.

    Example: silentscope store rehash audit_store
    """
    from silentscope.audit.integrity import rehash_store

    with user_errors():
        added = rehash_store(store)
    if added:
        console.print(f"[green]recorded[/] hashes in {store}: {', '.join(added)}")
    else:
        console.print(f"{store} already records every hash; nothing changed")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
    app.command("info")(info)
