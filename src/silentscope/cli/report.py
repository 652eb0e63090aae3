"""``silentscope report`` and ``silentscope demo``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from silentscope.cli._common import console, user_errors


def report(
    sources: list[Path] = typer.Argument(
        ..., help="Study folder(s), run folder or audit store; several are combined."
    ),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    include_degenerate: bool = typer.Option(
        False,
        "--include-degenerate",
        help="Let degenerate classifiers (marked †) compete for best marks and ranks.",
    ),
    image_root: Path | None = typer.Option(
        None,
        "--image-root",
        help="The only folder images are read from (default: the folder holding each source).",
    ),
) -> None:
    """Write a self-contained HTML report (no network needed to view it).

    Example: silentscope report studies/derma --out derma_report.html
    Example: silentscope report studies/pneumonia studies/derma studies/odir --out all.html
    """
    from silentscope.report.build import build_report

    with user_errors():
        path = build_report(
            sources,
            out,
            command=" ".join(["silentscope", *sys.argv[1:]]),
            include_degenerate=include_degenerate,
            image_root=image_root,
        )
    console.print(f"[green]report[/] {path.resolve()}")


def demo(
    out: Path = typer.Option(
        Path("silentscope-demo"), "--out", "-o", help="Folder for the demo study and report."
    ),
    medmnist: str | None = typer.Option(
        None, help="Run on this MedMNIST dataset (e.g. dermamnist) instead."
    ),
    root: Path | None = typer.Option(
        None, help="Folder holding the MedMNIST .npz files (with --medmnist)."
    ),
    seeds: int = typer.Option(1, help="Seeds per objective."),
    restart: bool = typer.Option(False, "--restart", help="Discard an earlier demo run in --out."),
    task: str = typer.Option(
        "classification",
        help="classification, or segmentation (U-Nets on the embedded MNI152 brain volumes).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Segmentation only: the smallest demo that runs every step."
    ),
) -> None:
    """Train with several objectives on the embedded synthetic dataset, audit, evaluate and report.

    No network needed. Example: silentscope demo --out demo
    Example: silentscope demo --medmnist pneumoniamnist --root ../shared/data/medmnist
    Example: silentscope demo --task segmentation --out seg-demo
    """
    if task != "classification":
        from silentscope.cli._segmentation_demo import run_segmentation_demo

        with user_errors():
            if task != "segmentation":
                raise ValueError(f"--task must be classification or segmentation, got {task!r}")
            if medmnist or root:
                raise ValueError(
                    "--medmnist and --root apply to the classification demo; drop them"
                )
            run_segmentation_demo(out, seeds, restart, quick)
        return
    with user_errors():
        if quick:
            raise ValueError("--quick applies to --task segmentation only; drop it")
    from silentscope.report.build import build_report
    from silentscope.study.demo import demo_study, run_demo

    from .study import _print_summary

    with user_errors():
        start = time.perf_counter()
        spec = demo_study(medmnist=medmnist, root=root, n_seeds=seeds)
        console.print(
            f"[bold]silentscope demo[/]: {len(spec.runs())} runs ({', '.join(spec.objectives)}) on "
            f"{spec.datasets[0].name}, shifts included; writing to {out}"
        )
        outcome = run_demo(spec, out, restart=restart, console=console)
        _print_summary(out)
        _demo_slices(spec, out)
        # The gallery shows MedMNIST images: they are read from the MedMNIST folder only.
        from silentscope.data.medmnist import default_root

        path = build_report(
            out,
            out / "report.html",
            command="silentscope demo " + " ".join(sys.argv[2:]),
            image_root=(root or default_root()) if medmnist else None,
        )
        elapsed = time.perf_counter() - start
    console.print(f"[green]report[/] {path.resolve()}")
    console.print(f"[green]tables[/] {(out / 'results').resolve()}   ({elapsed:.0f} s in all)")
    if outcome.failed:
        console.print(f"[red]{len(outcome.failed)} run(s) failed[/]; see {out / 'failed'}")
        raise typer.Exit(code=1)


def _demo_slices(spec, out: Path) -> None:
    """Where, systematically, the first cross-entropy run fails in distribution (saved for the report)."""
    from silentscope.study.demo import demo_slice_store, demo_slices

    found = demo_slice_store(spec, out)
    if found is None:
        return
    run_id, store = found
    with console.status("slice discovery on the iid test set"):
        report = demo_slices(store)
    console.print(f"[bold]where {run_id} fails (iid, confirmed on held-out samples)[/]")
    console.print("\n".join(report.summary_lines()))
    console.print(f"[dim]the same slices again: silentscope slices {store} -t iid[/]")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("demo")(demo)
