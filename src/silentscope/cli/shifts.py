"""``silentscope shifts list`` and ``silentscope shifts preview``: the corruption registry."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from silentscope.cli._common import console, user_errors
from silentscope.cli._tables import print_table

shifts_app = typer.Typer(
    help="Image corruptions: list them and preview them.", no_args_is_help=True
)


@shifts_app.command("list")
def list_command(
    modality: str | None = typer.Option(
        None, help="Show only this modality's default suite, with its severity levels."
    ),
) -> None:
    """List the registered corruptions, their modalities and five severity levels.

    Example: silentscope shifts list --modality xray
    """
    from silentscope.shifts import corruption_names, get_corruption

    with user_errors():
        names = corruption_names(modality)
        table = Table(title=f"corruptions{f' for {modality}' if modality else ''} ({len(names)})")
        table.add_column("name", no_wrap=True)
        table.add_column("family")
        table.add_column("input")
        table.add_column("levels (severity 1-5)", no_wrap=True)
        if modality is None:
            table.add_column("modalities")
        for name in names:
            corruption = get_corruption(name, modality or "generic")
            kinds = "RGB" if corruption.channels == (3,) else "grey/RGB"
            if corruption.volumes:
                kinds += ", 3-D"
            levels = "\n".join(
                f"{key}: {' '.join(f'{v:g}' for v in values)}"
                for key, values in corruption.severity_levels.items()
            )
            where = [] if modality else [", ".join(corruption.modalities)]
            table.add_row(name, corruption.family, kinds, levels, *where)
        print_table(table)


DATASET_OPTION = typer.Option(
    ...,
    "--dataset",
    help="Dataset name (e.g. medmnist:pneumoniamnist) or path (MedMNIST .npz, folder).",
)
OUT_OPTION = typer.Option(..., "--out", "-o", help="PNG file to write.")
CORRUPTION_OPTION = typer.Option(
    None, "--corruption", "-c", help="Corruption name (repeat it); default: the modality's suite."
)
SEVERITY_OPTION = typer.Option(
    None, "--severity", "-s", help="Severities to show (repeat it); default 0-5."
)
MODALITY_OPTION = typer.Option(
    None, help="Suite and severity levels; default: the dataset's modality."
)
ROOT_OPTION = typer.Option(None, help="Folder of the dataset files (for named datasets).")


@shifts_app.command("preview")
def preview_command(
    dataset: str = DATASET_OPTION,
    out: Path = OUT_OPTION,
    corruption: list[str] = CORRUPTION_OPTION,
    severity: list[int] = SEVERITY_OPTION,
    modality: str | None = MODALITY_OPTION,
    root: Path | None = ROOT_OPTION,
    split: str = typer.Option("test", help="Split to take the image from."),
    index: int = typer.Option(0, help="Index of the image within the split."),
    size: int = typer.Option(128, help="Resize the image to this many pixels (0: keep)."),
    seed: int = typer.Option(0, help="Seed of the random draws."),
) -> None:
    """Write a picture grid: one image under each corruption (rows) and severity (columns).

    Example: silentscope shifts preview --dataset medmnist:dermamnist --root data/medmnist --out derma.png
    """
    import cv2
    import numpy as np

    from silentscope.data import load_dataset
    from silentscope.shifts import expand_corruptions
    from silentscope.shifts.preview import preview_grid, save_png
    from silentscope.shifts.severity import severity_range

    with user_errors():
        options = {} if root is None else {"root": root}
        data = load_dataset(dataset, **options).split_of(split)
        if not 0 <= index < len(data):
            raise ValueError(f"--index {index} is outside the {split} split (0..{len(data) - 1})")
        image = data.load_images([index])[0]
        if size < 0:
            raise ValueError(f"--size must be 0 (keep) or a number of pixels, got {size}")
        if size:
            resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
            image = resized.reshape(size, size, image.shape[-1])
        modality = modality or data.modality
        names = expand_corruptions(corruption or "default", modality, image.shape[-1])
        severities = severity or list(range(6))
        for value in severities:
            severity_range(value)
        grid = preview_grid(np.asarray(image), names, severities, seed, modality=modality)
        path = save_png(grid, out)
        console.print(
            f"[green]wrote[/] {path}: {len(names)} corruptions x severities "
            f"{', '.join(map(str, severities))} ({modality} levels, {data.name} {split}[{index}])"
        )


def register(app: typer.Typer) -> None:
    """Add the ``shifts`` command group."""
    app.add_typer(shifts_app, name="shifts")
