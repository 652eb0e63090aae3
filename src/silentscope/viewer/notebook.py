"""The viewer inside a Jupyter notebook, as an `anywidget <https://anywidget.dev>`_ widget.

Two ways in:

- **Embedded** (default): the widget carries the self-contained page of
  :func:`~silentscope.viewer.export.export_page` (a seeded, stratified subsample of at most
  ``max_points`` samples, which the page says) and shows it in an isolated frame. It needs
  no server and works wherever anywidget does (JupyterLab, Notebook 7, VS Code, Colab).
  A lasso selection comes back to Python: :attr:`ViewerWidget.selection` (positions in
  the page), :attr:`ViewerWidget.selected_rows` (store rows) and
  :attr:`ViewerWidget.selected_ids`.
- **Live** (``live=True``): starts the viewer's server on 127.0.0.1 in a background thread
  and frames it: every sample, report terms and saving slices, for a notebook running on
  the same machine as its browser. :meth:`ViewerWidget.close` stops the server.

``anywidget`` is optional: ``pip install anywidget`` (or the ``notebook`` extra).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from silentscope.viewer.data import ViewerData
from silentscope.viewer.export import DEFAULT_MAX_IMAGES, DEFAULT_MAX_POINTS

_ESM = """
export default {
  render({ model, el }) {
    const frame = document.createElement('iframe');
    frame.style.width = '100%';
    frame.style.border = '0';
    frame.style.height = `${model.get('height')}px`;
    // The page runs scripts of its own; an isolated origin keeps it away from the notebook.
    frame.setAttribute('sandbox', 'allow-scripts allow-popups');
    let blobUrl = null;
    const url = model.get('url');
    if (url) {
      frame.removeAttribute('sandbox');
      frame.src = url;
    } else {
      blobUrl = URL.createObjectURL(new Blob([model.get('html')], { type: 'text/html' }));
      frame.src = blobUrl;
    }
    const onMessage = (event) => {
      if (event.source !== frame.contentWindow) return;
      const data = event.data || {};
      if (data.type !== 'silentscope-selection' || !Array.isArray(data.rows)) return;
      model.set('selection', data.rows);
      model.save_changes();
    };
    window.addEventListener('message', onMessage);
    el.append(frame);
    return () => {
      window.removeEventListener('message', onMessage);
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    };
  },
};
"""

_CLASS = None


def _widget_class():
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    try:
        import anywidget
        import traitlets
    except ImportError:
        raise ImportError(
            "the notebook viewer needs anywidget; install it with `pip install anywidget` "
            "or use `silentscope view STORE` in a browser"
        ) from None

    class ViewerWidget(anywidget.AnyWidget):
        """The silentscope viewer in a notebook cell; build it with :func:`widget`."""

        _esm = _ESM
        html = traitlets.Unicode("").tag(sync=True)
        url = traitlets.Unicode("").tag(sync=True)
        height = traitlets.Int(720).tag(sync=True)
        selection = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)

        def __init__(self, data: ViewerData, rows: np.ndarray, server=None, **kwargs):
            super().__init__(**kwargs)
            self._data = data
            self._rows = np.asarray(rows, dtype=np.int64)
            self._server = server

        @property
        def data(self) -> ViewerData:
            """The store's :class:`~silentscope.viewer.data.ViewerData`."""
            return self._data

        @property
        def rows(self) -> np.ndarray:
            """Store row of each sample in the page (all rows in live mode)."""
            return self._rows

        @property
        def selected_rows(self) -> np.ndarray:
            """Store rows of the current lasso selection (embedded mode)."""
            positions = np.asarray(self.selection, dtype=np.int64)
            if positions.size and (positions.min() < 0 or positions.max() >= len(self._rows)):
                raise ValueError("the selection names samples outside the page; redraw the widget")
            return self._rows[positions]

        @property
        def selected_ids(self) -> list[str]:
            """Sample ids of the current lasso selection (embedded mode)."""
            return self._data.sample_id.take(self.selected_rows).to_pylist()

        def close(self) -> None:
            """Stop the live server, if any, and close the widget."""
            if self._server is not None:
                self._server.should_exit = True
                self._server = None
            super().close()

    _CLASS = ViewerWidget
    return _CLASS


def _start_server(data: ViewerData, max_drawn: int, timeout: float = 20.0):
    import uvicorn

    from silentscope.viewer.server import create_app, free_socket

    sock = free_socket("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(create_app(data, max_drawn=max_drawn), log_level="warning", lifespan="off")
    )
    threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="silentscope-viewer"
    ).start()
    deadline = time.monotonic() + timeout
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"the viewer's server did not start within {timeout:g} s")
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}/"


def widget(
    store: str | os.PathLike | ViewerData,
    live: bool = False,
    max_points: int = DEFAULT_MAX_POINTS,
    max_images: int = DEFAULT_MAX_IMAGES,
    height: int = 720,
    max_drawn: int | None = None,
    random_state: int = 0,
):
    """The viewer as a notebook widget (display it as a cell's last expression).

    Parameters
    ----------
    store : path-like or ViewerData
        An audit store (its embedding and confidences are computed and cached on first use,
        as by ``silentscope view``) or data already loaded with
        :func:`~silentscope.viewer.data.load_viewer_data`.
    live : bool, default=False
        Frame a local server instead of embedding a page (see the module docstring).
    max_points : int, default=50000
        Embedded mode: at most this many samples in the page (seeded, stratified subsample).
    max_images : int, default=300
        Embedded mode: at most this many thumbnails.
    height : int, default=720
        Height of the frame in pixels.
    max_drawn : int, optional
        Live mode: draw at most this many points (default: the server's, 50,000).
    random_state : int, default=0

    Returns
    -------
    ViewerWidget
        An ``anywidget.AnyWidget``.

    Raises
    ------
    ImportError
        If anywidget is not installed.

    Examples
    --------
    >>> from silentscope.viewer.queries import _example_data
    >>> view = widget(_example_data(), max_images=0)
    >>> len(view.rows), "silentscope-data" in view.html
    (4, True)
    """
    from silentscope.viewer.export import export_page, export_rows
    from silentscope.viewer.sampling import DEFAULT_MAX_DRAWN

    cls = _widget_class()
    if int(height) < 100:
        raise ValueError(f"height must be at least 100 pixels, got {height}")
    if isinstance(store, ViewerData):
        data = store
    else:
        from silentscope.viewer.data import load_viewer_data
        from silentscope.viewer.prepare import prepare_store

        prepare_store(Path(store), random_state=random_state)
        data = load_viewer_data(store)
    if live:
        server, url = _start_server(data, max_drawn or DEFAULT_MAX_DRAWN)
        return cls(data, np.arange(data.n_samples), server=server, url=url, height=int(height))
    rows = export_rows(data, max_points, random_state)
    page = export_page(data, max_points, max_images, random_state)
    return cls(data, rows, html=page, height=int(height))


__all__ = ["widget"]
