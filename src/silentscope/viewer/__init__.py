"""The silent-failure viewer: one joint embedding of every test set, served to the browser.

- :mod:`~silentscope.viewer.embedding`: the joint 2-D embedding, cached in the store.
- :mod:`~silentscope.viewer.prepare`: computes and caches the embedding and confidences
  (:func:`prepare_store`), the only step that writes besides saving a slice.
- :mod:`~silentscope.viewer.data`: the store's columns, read lean (:func:`load_viewer_data`).
- :mod:`~silentscope.viewer.queries`: filters, selection statistics, panels.
- :mod:`~silentscope.viewer.thumbnails`: thumbnails by row, cached.
- :mod:`~silentscope.viewer.payloads`: what the API answers, as plain values.
- :mod:`~silentscope.viewer.user_slices`: slices a person saves, written to the store.
- :mod:`~silentscope.viewer.server`: the API server's HTTP routes (Starlette + uvicorn).
- :mod:`~silentscope.viewer.export`: a self-contained HTML page for sharing.
- :mod:`~silentscope.viewer.sampling`: which rows the map draws above 50,000 samples.
- :mod:`~silentscope.viewer.notebook`: the viewer in a notebook (:func:`widget`, anywidget).

The front end is built from ``frontend/`` into ``viewer/static`` (``make frontend``); users
need no Node. Names are imported on first use, so that starting the server does not pay
for scikit-learn and UMAP.
"""

import importlib

_EXPORTS = {
    "FilterSpec": "queries",
    "JointEmbedding": "embedding",
    "ViewerData": "data",
    "compute_embedding": "embedding",
    "confident_failures": "queries",
    "ensure_embedding": "embedding",
    "export_html": "export",
    "filter_mask": "queries",
    "load_viewer_data": "data",
    "prepare_store": "prepare",
    "representatives": "queries",
    "risk_coverage": "queries",
    "selection_stats": "queries",
    "serve": "server",
    "widget": "notebook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"silentscope.viewer.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'silentscope.viewer' has no attribute {name!r}")
