"""``silentscope study run|results``: the failure-detection study from one command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from silentscope.cli._common import console, err_console, user_errors
from silentscope.cli._tables import print_table

study_app = typer.Typer(
    help="Run failure-detection studies and collect their results.", no_args_is_help=True
)


@study_app.command("run")
def run(
    study_file: Path | None = typer.Argument(
        None, help="Study YAML file (or use the flags below)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Study folder (default: studies/<name>)."
    ),
    dataset: list[str] = typer.Option(
        [], "--dataset", help="Dataset name, without a YAML file (repeatable)."
    ),
    objective: list[str] = typer.Option([], "--objective", help="Training objective (repeatable)."),
    seed: list[int] = typer.Option([], "--seed", help="Seed (repeatable)."),
    epochs: int | None = typer.Option(None, help="Training epochs."),
    bootstrap: int | None = typer.Option(None, help="Bootstrap resamples for the CIs."),
    executor: str | None = typer.Option(None, help="local or ray."),
    address: str | None = typer.Option(None, help="Ray cluster address (with --executor ray)."),
    workers: int | None = typer.Option(None, help="Parallel runs (local) or CPUs (local Ray)."),
    restart: bool = typer.Option(False, "--restart", help="Discard finished runs and start again."),
) -> None:
    """Run every unfinished run of a study; an interrupted study resumes where it stopped.

    Example: silentscope study run study.yaml --out studies/derma
    Example: silentscope study run --dataset medmnist:pneumoniamnist --objective ce --objective dg --seed 0 --seed 1
    """
    from silentscope.study.results import failed_runs, write_results
    from silentscope.study.runner import run_study
    from silentscope.study.spec import load_study, parse_study

    with user_errors():
        if study_file is not None:
            spec = load_study(study_file)
        elif dataset:
            spec = parse_study(
                {"name": "study", "datasets": [{"name": d} for d in dataset]}, source="the flags"
            )
        else:
            raise ValueError("give a study YAML file or at least one --dataset")
        updates = {}
        if objective:
            updates["objectives"] = objective
        if seed:
            updates["seeds"] = seed
        if epochs is not None:
            updates["train"] = spec.train.model_copy(update={"epochs": epochs})
        if bootstrap is not None:
            updates["evaluation"] = spec.evaluation.model_copy(update={"bootstrap": bootstrap})
        executor_updates = {
            k: v for k, v in (("kind", executor), ("address", address), ("workers", workers)) if v
        }
        if executor_updates:
            updates["executor"] = spec.executor.model_copy(update=executor_updates)
        if updates:
            spec = parse_study({**spec.model_dump(), **{k: _dump(v) for k, v in updates.items()}})
        study_dir = out or Path("studies") / spec.name
        outcome = run_study(spec, study_dir, restart=restart, console=console)
        failures = failed_runs(study_dir)
        if len(outcome.done):
            written = write_results(study_dir)
            console.print(f"[green]results[/] in {study_dir / 'results'} ({len(written)} files)")
            _print_summary(study_dir)
            if spec.task == "segmentation":  # Dice per test set; CSFs with CIs over volumes
                from silentscope.cli._segmentation_views import print_segmentation_tables

                print_segmentation_tables(study_dir)
        for busy in outcome.busy:
            console.print(
                f"[yellow]{busy.run_id} was not run here: it is {busy.error}[/]; "
                "run the study again once that process has finished",
                highlight=False,
            )
        if failures:
            console.print(
                f"[red]{len(failures)} run(s) failed[/] (details in {study_dir / 'failed'}):"
            )
            for run_id, error in failures.items():
                console.print(f"  {run_id}: {error}")
        if failures or outcome.busy:
            raise typer.Exit(code=1)


def _dump(value):
    return value.model_dump() if hasattr(value, "model_dump") else value


@study_app.command("results")
def results(
    study_dirs: list[Path] = typer.Argument(..., help="Study folder(s); several are combined."),
    metric: str = typer.Option("aurc", help="Metric of the summary table."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: <study>/results; needed for several)."
    ),
    include_degenerate: bool = typer.Option(
        False,
        "--include-degenerate",
        help="Average degenerate classifiers' seeds (marked †) into their cells and let them "
        "compete for best marks and ranks; by default they are left out of every mean.",
    ),
    resamples: int = typer.Option(
        1000, help="Joint bootstrap resamples (test samples and seeds) of the ranking; 0: none."
    ),
    latex: bool = typer.Option(
        False, "--latex", help="Also print the paper-style LaTeX table of --metric."
    ),
    markdown: bool = typer.Option(
        False,
        "--markdown",
        help="Print, instead of the terminal tables, the Markdown of --metric for docs: "
        "accuracy, mean ± std table, rank intervals, comparison with MSR, every run's caveats "
        "(the files accuracy.md, summary_<metric>.md, caveats.md); other messages go to stderr.",
    ),
) -> None:
    """Collect the results of finished runs into tables (CSV, Parquet, LaTeX, Markdown) and
    each CSF's rank with its bootstrap interval (ranking.json, ranking_<metric>.csv).

    Example: silentscope study results studies/derma --metric augrc
    Example: silentscope study results studies/pneumonia studies/derma --out results/ --latex
    Example: silentscope study results studies/pneumonia --markdown > pneumonia_tables.md
    """
    from silentscope.study.ranking import ranking_lines
    from silentscope.study.results import write_results

    with user_errors():
        metrics = tuple(dict.fromkeys((metric, "aurc", "augrc")))
        written = write_results(study_dirs, metrics, out, include_degenerate, n_resamples=resamples)
        if markdown:  # stdout holds the Markdown only, to redirect into a file
            for name in ("accuracy.md", f"summary_{metric}.md", "caveats.md"):
                path = written["long_csv"].parent / name
                if path.is_file():
                    sys.stdout.write(f"\n<!-- {name} -->\n{path.read_text()}")
        else:
            _print_summary(study_dirs, metric, include_degenerate)
            if "ranking" in written:
                from silentscope.study.ranking import read_ranking

                for line in ranking_lines(read_ranking(written["ranking"], metric)):
                    console.print(line, highlight=False, markup=False)
        if latex and f"latex_{metric}" in written:
            sys.stdout.write(written[f"latex_{metric}"].read_text())
        shown = err_console if markdown else console
        _print_caveat_count(study_dirs, written["caveats"], shown)
        shown.print(f"[green]tables[/] {written['long_csv'].parent.resolve()}")


def _print_caveat_count(study_dirs: list[Path], path: Path, shown) -> None:
    """How many runs carry caveats (every seed's, in caveats.md), so none goes unread."""
    from silentscope.study.caveats import run_caveats

    caveats = run_caveats(study_dirs)
    n = int(caveats["caveats"].map(bool).sum())
    if n:
        shown.print(
            f"[yellow]caveats:[/] {n} of {len(caveats)} runs carry caveats, every seed's in {path}",
            highlight=False,
            soft_wrap=True,
        )


def _print_summary(
    study_dir: Path | list[Path], metric: str = "aurc", include_degenerate: bool = False
) -> None:
    from silentscope.metrics.registry import get_metric
    from silentscope.study.results import (
        best_per_column,
        combined_results,
        degenerate_note,
        format_summary,
        kinds_caption,
        seeds_phrase,
        summary_table,
    )

    long = combined_results(study_dir if isinstance(study_dir, list) else [study_dir])
    if metric not in set(long["metric"]):
        return
    spec = get_metric(metric)
    scale = getattr(spec, "table_scale", 1.0)
    table = summary_table(long, metric, include_degenerate)
    best = best_per_column(table, spec.higher_is_better, include_degenerate)
    formatted = format_summary(table, scale, include_degenerate=include_degenerate)
    unit = f" x{scale:g}" if scale != 1 else ""
    direction = "higher" if spec.higher_is_better else "lower"
    name = getattr(spec, "display_name", metric)
    title = f"{name}{unit} ({direction} is better; {seeds_phrase(table)})"
    view = Table(title=title, caption=kinds_caption(long) or None)
    view.add_column("CSF")
    for column in formatted.columns:
        view.add_column(column, justify="right")
    for csf in formatted.index:
        cells = []
        for column in formatted.columns:
            dataset, kind = column.rsplit(" ", 1)
            value = formatted.loc[csf, column]
            cells.append(f"[bold green]{value}[/]" if best.get((dataset, kind)) == csf else value)
        view.add_row(csf, *cells)
    # the files written hold the whole table; the terminal gets it in as many parts as it needs
    print_table(view)
    note = degenerate_note(long, include_degenerate)
    if note:
        console.print(f"[yellow]{note}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(study_app, name="study")
