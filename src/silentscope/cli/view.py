"""``silentscope view STORE``: the silent-failure viewer in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from silentscope.cli._common import console, err_console, user_errors


def view(
    store: Annotated[Path, typer.Argument(help="Audit store folder.")],
    host: Annotated[
        str, typer.Option(help="Interface to listen on; anything but loopback exposes the data.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write a self-contained HTML page instead of serving."),
    ] = None,
    max_points: Annotated[
        int, typer.Option(help="With --export: at most this many samples (a seeded subsample).")
    ] = 50_000,
    max_images: Annotated[
        int, typer.Option(help="With --export: at most this many thumbnails.")
    ] = 300,
    method: Annotated[
        str, typer.Option(help="Embedding layout if none is cached: umap or pca.")
    ] = "umap",
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Recompute the cached embedding and confidences.")
    ] = False,
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Folder that relative image references start from (default: the store's parent)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the embedding and of subsamples.")] = 0,
    max_drawn: Annotated[
        int,
        typer.Option(
            help="Draw at most this many points (a stratified sample); lasso, filters and "
            "statistics always use every sample. Raise it where WebGL runs on a GPU."
        ),
    ] = 50_000,
) -> None:
    """Explore the classifier's latent space: failures, confidence, shifts and slices.

    The first run computes one joint embedding of every test set and every CSF's
    confidences, and caches both in the store. Above --max-drawn samples the map draws a
    stratified sample (and says so); lasso, filters and statistics use every sample.

    Example: silentscope view audit_store            (serves on 127.0.0.1, opens the browser)

    Example: silentscope view audit_store --export viewer.html
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from silentscope.viewer.data import load_viewer_data
    from silentscope.viewer.prepare import prepare_store

    with user_errors():
        if max_drawn < 1:
            raise ValueError(f"--max-drawn must be a positive number of points, got {max_drawn}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("preparing the viewer", total=1.0)

            def report(stage: str, fraction: float) -> None:
                progress.update(task, description=stage, completed=fraction)

            prepared = prepare_store(
                store, method=method, recompute=recompute, random_state=seed, progress=report
            )
        for name, reason in prepared["unavailable"].items():
            err_console.print(f"[dim]confidence {name} not shown: {reason}[/]", highlight=False)
        if export is not None:
            from silentscope.viewer.export import export_html

            data = load_viewer_data(store, image_root=image_root)
            path = export_html(
                data, export, max_points=max_points, max_images=max_images, random_state=seed
            )
            shown = min(max_points, data.n_samples)
            note = (
                f" (a subsample of {shown:,} of {data.n_samples:,} samples)"
                if shown < data.n_samples
                else ""
            )
            console.print(f"[green]wrote[/] {path}{note}")
            return
        from silentscope.viewer.server import LOOPBACK_HOSTS, serve

        if host not in LOOPBACK_HOSTS and not host.startswith("127."):
            err_console.print(
                f"[bold yellow]warning:[/] serving on {host} exposes this store's predictions, metadata, "
                "reports and images to every machine that can reach it; there is no login.",
                highlight=False,
            )

        def ready(url: str) -> None:
            console.print(
                f"silentscope viewer for [bold]{store}[/] at [link={url}]{url}[/]  (Ctrl+C to stop)"
            )

        # The server listens and the page loads while the store is read (a second for a
        # million samples); a store that fails to load stops it with its error.
        serve(
            lambda: load_viewer_data(store, image_root=image_root),
            host=host,
            port=port,
            open_browser=not no_browser,
            on_ready=ready,
            max_drawn=max_drawn,
        )


def register(app: typer.Typer) -> None:
    app.command("view")(view)
