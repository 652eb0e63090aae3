"""``silentscope data ...``: look at a dataset before auditing a model on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from silentscope.cli._common import console, user_errors
from silentscope.cli._tables import print_table

if TYPE_CHECKING:
    from silentscope.data.dataset import ImageDataset

data_app = typer.Typer(
    help="Inspect datasets: counts, metadata, duplicates, previews.", no_args_is_help=True
)

NAME_ARGUMENT = typer.Argument(
    ...,
    help="Dataset name (synthetic, odir, medmnist:<flag>, folder) or a path (folder, table, .npz).",
)
ROOT_OPTION = typer.Option(
    None, "--root", help="Folder of the dataset's files (odir, folder, medmnist)."
)
SIZE_OPTION = typer.Option(
    None, "--size", help="Image size in pixels (resize on load, or the MedMNIST size)."
)
SEED_OPTION = typer.Option(None, "--seed", help="Seed (synthetic data, drawn splits).")
JSON_OPTION = typer.Option(None, "--json", help="Also write the summary as JSON.")
OUT_OPTION = typer.Option(..., "--out", "-o", help="PNG file to write.")
OPTION_OPTION = typer.Option(
    None, "--option", "-O", help="Other loader option as key=value (YAML value), repeatable."
)


def _options(
    root: Path | None, size: int | None, seed: int | None, extra: list[str] | None
) -> dict[str, Any]:
    import yaml

    from silentscope.data.errors import DatasetError

    options: dict[str, Any] = {}
    if root is not None:
        options["root"] = root
    if size is not None:
        options["size"] = size
    if seed is not None:
        options["seed"] = seed
    for item in extra or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DatasetError(f"--option takes key=value, got {item!r}")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _load(name: str, root, size, seed, extra) -> ImageDataset:
    from silentscope.data.registry import load_dataset

    with console.status(f"loading {name}"):
        return load_dataset(name, **_options(root, size, seed, extra))


def _print_summary(summary: dict[str, Any]) -> None:
    shape = summary["image_shape"]
    console.print(
        f"[bold]{summary['name']}[/]: {summary['n_samples']} images, modality {summary['modality']}, "
        f"image shape {'x'.join(map(str, shape)) if shape else 'n/a'}"
    )
    counts = Table(title="images per class and split")
    splits = [c for c in next(iter(summary["counts"].values()))]
    counts.add_column("class")
    for split in splits:
        counts.add_column(split, justify="right")
    for name, row in summary["counts"].items():
        counts.add_row(
            name, *(str(row[s]) for s in splits), style="bold" if name == "total" else None
        )
    print_table(counts)
    if summary["metadata"]:
        meta = Table(title="metadata columns")
        for column in ("column", "role", "dtype", "missing", "summary"):
            meta.add_column(column, overflow="fold")
        for entry in summary["metadata"]:
            meta.add_row(
                entry["column"], entry.get("role", ""), entry["dtype"], str(entry["missing"]),
                entry["summary"],
            )  # fmt: skip
        print_table(meta)
        for entry in summary["metadata"]:
            if entry.get("role", "").endswith("(not analysed)"):
                console.print(f"{entry['column']}: {entry['role_reason']}", highlight=False)
    if summary.get("example_text"):
        console.print(f"[bold]report text[/], e.g.: {summary['example_text']}")
    if "duplicates" in summary:
        dup = summary["duplicates"]
        colour = "red" if dup["n_label_conflicts"] or dup["n_cross_split"] else "green"
        pairs = ", ".join(f"{k}: {v}" for k, v in dup["cross_split_pairs"].items()) or "none"
        console.print(
            f"[bold {colour}]duplicates[/] ({dup['method']} hash): {dup['n_groups']} groups of identical images "
            f"({dup['n_duplicate_samples']} images), {dup['n_label_conflicts']} with conflicting labels, "
            f"{dup['n_cross_split']} shared between splits ({pairs})"
        )
        for example in summary.get("duplicate_examples", []):
            console.print(
                f"  e.g. labels {example['labels']} in {example['splits']}: {', '.join(example['sample_ids'])}"
            )


@data_app.command("info")
def info(
    name: str = NAME_ARGUMENT,
    root: Path | None = ROOT_OPTION,
    size: int | None = SIZE_OPTION,
    seed: int | None = SEED_OPTION,
    option: list[str] | None = OPTION_OPTION,
    duplicates: str = typer.Option(
        "auto",
        help="Duplicate check: auto (file bytes, or pixels for arrays), bytes, pixels or none.",
    ),
    json_out: Path | None = JSON_OPTION,
) -> None:
    """Counts per split and class, metadata columns, report text, duplicates and leakage.

    Example: silentscope data info medmnist:pneumoniamnist --root ../shared/data/medmnist
    """
    from silentscope.data.duplicates import HASH_METHODS
    from silentscope.data.errors import DatasetError
    from silentscope.data.summary import summarize

    with user_errors():
        if duplicates not in (*HASH_METHODS, "none"):
            raise DatasetError(
                f"--duplicates must be one of {', '.join((*HASH_METHODS, 'none'))}, got {duplicates!r}"
            )
        dataset = _load(name, root, size, seed, option)
        with console.status("summarising (hashing images for duplicates)"):
            summary = summarize(dataset, duplicates=duplicates != "none", method=duplicates)
        _print_summary(summary)
        if json_out is not None:
            json_out.write_text(json.dumps(summary, indent=2, default=str))
            console.print(f"[green]wrote[/] {json_out}")


@data_app.command("preview")
def preview(
    name: str = NAME_ARGUMENT,
    out: Path = OUT_OPTION,
    root: Path | None = ROOT_OPTION,
    size: int | None = SIZE_OPTION,
    seed: int | None = SEED_OPTION,
    option: list[str] | None = OPTION_OPTION,
    per_row: int = typer.Option(8, help="Examples per row."),
    cell: int = typer.Option(96, help="Pixels per example in the grid."),
) -> None:
    """A PNG grid of examples: one row per class, ground-truth slice and site.

    Example: silentscope data preview synthetic --out grid.png
    """
    from silentscope.data.errors import DatasetError
    from silentscope.data.preview import save_preview

    with user_errors():
        if per_row < 1 or cell < 8:
            raise DatasetError("--per-row must be at least 1 and --cell at least 8 pixels")
        dataset = _load(name, root, size, seed, option)
        path = save_preview(
            dataset, out, per_row=per_row, cell=cell, seed=0 if seed is None else seed
        )
        console.print(f"[green]wrote[/] {path}")


@data_app.command("list")
def list_datasets() -> None:
    """The dataset names that info and preview accept (besides paths).

    Example: silentscope data list
    """
    from silentscope.data.registry import available_datasets

    for name in available_datasets():
        console.print(name)


def register(app: typer.Typer) -> None:
    """Add ``silentscope data`` to the application."""
    app.add_typer(data_app, name="data")
