"""What ``silentscope train`` and ``audit-model`` share: data and shift arguments, thresholds,
per-finding stores, and their typer options."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from silentscope.cli._common import console


def parse_pairs(pairs: list[str], what: str) -> dict:
    """KEY=VALUE pairs; values read as JSON where they parse (numbers, true/false), else text."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {pair!r} must look like KEY=VALUE")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def load_data(dataset: str, data_root: Path | None, data_option: list[str]):
    from silentscope.data import load_dataset

    options = parse_pairs(data_option, "--data-option")
    if data_root is not None:
        options["root"] = data_root
    return load_dataset(dataset, **options)


def shift_plan(data, corruption: list[str], severity: list[int], seed: int):
    """The corruption test sets, checked on a few images before any training; notes printed."""
    from silentscope.models.eval_sets import plan_corruption_sets
    from silentscope.shifts.effect import NegligibleShiftWarning

    if severity and not corruption:
        raise ValueError("--severity needs at least one --corruption")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegligibleShiftWarning)  # printed below, once
        plan = plan_corruption_sets(data, corruption or "none", severity or None, seed=seed)
    for note in plan.notes:
        console.print(f"[yellow]warning:[/] {note}", soft_wrap=True, highlight=False)
    return plan


def decision_threshold(text: str) -> float | str:
    """``--threshold``: "val" or a probability in (0, 1)."""
    if text == "val":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise ValueError(f"--threshold must be a probability in (0, 1) or 'val', got {text!r}")
    return value


def print_finding_stores(audits: dict, folder: Path) -> None:
    """Save one audit store per finding under ``folder`` and list them."""
    from silentscope.models.multilabel import save_finding_audits

    stores = save_finding_audits(audits, folder)  # the folder was checked before any work
    console.print(f"[green]wrote[/] one audit store per finding in {folder}:")
    for finding, store in stores.items():
        iid = audits[finding].select("iid")
        console.print(
            f"  {store.name}: {iid.n_samples} test images, accuracy {iid.correct.mean():.3f}"
        )
    console.print(f"next: [bold]silentscope info {next(iter(stores.values()))}[/]")


def option(help_text: str, *names: str):
    """A typer option in one line: its help first, then its flag names (default: derived)."""
    return typer.Option(*names, help=help_text)


DatasetArg = Annotated[
    str, option("Dataset name (e.g. medmnist:pneumoniamnist) or path.", "--dataset", "-d")
]
DataRootArg = Annotated[
    Path | None, option("Folder the dataset adapter reads from (root=).", "--data-root")
]
DataOptionArg = Annotated[
    list[str] | None,
    option("Adapter option KEY=VALUE (repeatable), e.g. size=64.", "--data-option"),
]
CorruptionArg = Annotated[
    list[str] | None,
    option("Corruption test sets (repeatable); 'default' for the modality's suite."),
]
SeverityArg = Annotated[
    list[int] | None, option("Corruption severities 1-5 (repeatable; default all).")
]
ThresholdArg = Annotated[
    str,
    option(
        "Multi-label only: decision threshold of every finding, a probability such as 0.5, "
        "or 'val' (Youden's J on the validation split)."
    ),
]
FeatureDtypeArg = Annotated[str, option("float32 or float16 features.")]
DeviceArg = Annotated[str, option("auto (GPU when present), cpu or cuda.")]
ThreadsArg = Annotated[int | None, option("CPU threads (default: available cores).")]
