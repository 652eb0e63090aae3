"""Opening a store for the viewer without making the page wait for the embedding.

A never-viewed store has no layout yet, and UMAP takes a minute on two cores. So the
server listens at once and answers ``/api/progress`` with what is being prepared; the
store is opened with a provisional layout (its first two principal components, seconds)
that the page draws, and the real layout is computed in the background and swapped in:
``/api/progress`` then reports ``layout: "final"`` with a new ``layout_version`` and the
page fetches the new coordinates. The provisional layout is cached marked as such, so a
viewer stopped early computes the real one next time; ``silentscope view --prepare-only``
(or :func:`~silentscope.viewer.prepare.prepare_store`) computes it ahead, e.g. at audit time.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from silentscope.viewer.data import ViewerData


class Preparation:
    """Where the preparation of the viewer's data stands (thread-safe), for ``/api/progress``.

    Examples
    --------
    >>> state = Preparation()
    >>> state.report("computing confidences", 0.5)
    >>> {k: state.snapshot()[k] for k in ("stage", "fraction", "layout")}
    {'stage': 'computing confidences', 'fraction': 0.5, 'layout': 'none'}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = {
            "stage": "starting",
            "fraction": 0.0,
            "layout": "none",  # none -> provisional -> final (or stays provisional on error)
            "layout_version": 0,
            "error": None,
        }

    def report(self, stage: str, fraction: float) -> None:
        """Record the current stage (the ``progress`` callback of the preparation)."""
        with self._lock:
            self._state.update(stage=str(stage), fraction=float(fraction))

    def update(self, **fields) -> None:
        with self._lock:
            self._state.update(fields)

    def snapshot(self) -> dict:
        """A copy of the state, as ``/api/progress`` answers it."""
        with self._lock:
            return dict(self._state)


def open_for_viewing(
    store: str | os.PathLike,
    image_root: str | os.PathLike | None = None,
    method: str = "umap",
    random_state=0,
    recompute: bool = False,
    preparation: Preparation | None = None,
    background: bool = True,
) -> ViewerData:
    """The store's viewer data at once, with a provisional layout if ``method``'s is not cached.

    Parameters
    ----------
    store, image_root
        As :func:`~silentscope.viewer.data.load_viewer_data`.
    method, random_state, recompute
        As :func:`~silentscope.viewer.prepare.prepare_store`.
    preparation : Preparation, optional
        Receives the progress and the layout's state.
    background : bool, default=True
        Compute the real layout in a background thread (False: before returning).
    """
    # Imported here: the server listens and answers before pyarrow and the store code load.
    from silentscope.viewer.data import load_viewer_data
    from silentscope.viewer.prepare import prepare_store

    state = preparation or Preparation()
    prepare_store(
        store,
        method=method,
        random_state=random_state,
        recompute=recompute,
        progress=state.report,
        provisional=True,
    )
    state.report("reading the store", 1.0)
    data = load_viewer_data(store, image_root=image_root)
    if not data.embedding_info.get("provisional"):
        state.update(stage="ready", fraction=1.0, layout="final")
        return data
    state.update(layout="provisional")
    worker = threading.Thread(
        target=improve_layout,
        args=(data, method, random_state, state),
        name="silentscope-viewer-layout",
        daemon=True,
    )
    worker.start()
    if not background:
        worker.join()
    return data


def improve_layout(data: ViewerData, method: str, random_state, state: Preparation) -> None:
    """Compute and cache ``method``'s layout, then swap it into ``data`` (see the module)."""
    from silentscope.viewer.data import load_viewer_data
    from silentscope.viewer.prepare import prepare_store

    try:
        prepare_store(data.store, method=method, random_state=random_state, progress=state.report)
        fresh = load_viewer_data(data.store, image_root=data.image_root)
    except Exception as error:  # the page keeps the provisional map and says why
        state.update(
            stage="ready",
            error=f"the {method} layout could not be computed ({error}); the map keeps the "
            "first two principal components",
        )
        return
    data.x, data.y = fresh.x, fresh.y
    data.embedding_info = fresh.embedding_info
    data.cache.pop("bounds", None)
    version = state.snapshot()["layout_version"] + 1
    state.update(stage="ready", fraction=1.0, layout="final", layout_version=version)


__all__ = ["Preparation", "improve_layout", "open_for_viewing"]
