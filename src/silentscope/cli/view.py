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
    prepare_only: Annotated[
        bool,
        typer.Option(
            "--prepare-only",
            help="Compute and cache the embedding and confidences, then exit (e.g. right after "
            "the audit), so that the first view draws the final map at once.",
        ),
    ] = False,
) -> None:
    """Explore the classifier's latent space: failures, confidence, shifts and slices.

    The first run computes one joint embedding of every test set and every CSF's
    confidences, and caches both in the store; the page answers at once, draws the first
    two principal components within seconds and swaps in the embedding when it is ready
    (--prepare-only computes it ahead). Above --max-drawn samples the map draws a
    stratified sample (and says so); lasso, filters and statistics use every sample.

    Example: silentscope view audit_store            (serves on 127.0.0.1, opens the browser)

    Example: silentscope view audit_store --export viewer.html

    Example: silentscope view audit_store --prepare-only   (at audit time; nothing served)
    """
    with user_errors():
        if max_drawn < 1:
            raise ValueError(f"--max-drawn must be a positive number of points, got {max_drawn}")
        if export is None and not prepare_only:
            from silentscope.audit.store import read_manifest

            read_manifest(store)  # a path that is no store fails before anything is served
            return _serve(
                store, host, port, no_browser, method, recompute, image_root, seed, max_drawn
            )
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from silentscope.viewer.data import load_viewer_data
        from silentscope.viewer.prepare import prepare_store

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
        if prepare_only:
            info = prepared["embedding"]
            console.print(
                f"[green]prepared[/] {store}: {info.get('method')} layout of "
                f"{info.get('n_samples', '?')} samples and {len(prepared['confidences'])} "
                "confidences cached"
            )
            return
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


def _serve(store, host, port, no_browser, method, recompute, image_root, seed, max_drawn) -> None:
    """Serve at once; the store is opened (and prepared) in the background."""
    from silentscope.viewer.server import LOOPBACK_HOSTS, serve
    from silentscope.viewer.startup import Preparation, open_for_viewing

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

    # The server listens and the page loads while the store is read and, on a store
    # never viewed, prepared (the page shows the progress, draws a provisional layout
    # and swaps in the embedding when ready); a store that fails to load stops it with
    # its error.
    preparation = Preparation()

    def load():
        return open_for_viewing(
            store,
            image_root=image_root,
            method=method,
            random_state=seed,
            recompute=recompute,
            preparation=preparation,
        )

    serve(
        load,
        host=host,
        port=port,
        open_browser=not no_browser,
        on_ready=ready,
        max_drawn=max_drawn,
        preparation=preparation,
    )


def register(app: typer.Typer) -> None:
    app.command("view")(view)
