"""``silentscope demo --task segmentation``: the embedded MNI152 study end to end, and its tables."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from silentscope.cli._common import console
from silentscope.cli._segmentation_views import print_segmentation_tables


def run_segmentation_demo(out: Path, seeds: int, restart: bool, quick: bool) -> None:
    """Train baseline and texture-filter U-Nets, audit, evaluate, print the tables, report."""
    from silentscope.report.build import build_report
    from silentscope.study.demo import run_demo, segmentation_demo_study

    start = time.perf_counter()
    spec = segmentation_demo_study(n_seeds=seeds, quick=quick)
    dataset = spec.datasets[0]
    console.print(
        f"[bold]silentscope demo --task segmentation[/]: {len(spec.runs())} runs "
        f"({', '.join(spec.objectives)}) on {dataset.name} ({dataset.options['size']} voxels a "
        f"side, every volume made from the one MNI152 template anatomy); writing to {out}"
    )
    outcome = run_demo(spec, out, restart=restart, console=console)
    print_segmentation_tables(out)
    path = build_report(
        out, out / "report.html", command="silentscope demo " + " ".join(sys.argv[2:])
    )
    elapsed = time.perf_counter() - start
    console.print(f"[green]report[/] {path.resolve()}")
    console.print(f"[green]tables[/] {(out / 'results').resolve()}   ({elapsed:.0f} s in all)")
    if outcome.failed:
        console.print(f"[red]{len(outcome.failed)} run(s) failed[/]; see {out / 'failed'}")
        raise typer.Exit(code=1)
