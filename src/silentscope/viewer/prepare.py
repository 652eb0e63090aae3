"""Preparing a store for the viewer: the joint embedding and every CSF's confidences, cached.

This is the only viewer module that computes and writes: :mod:`silentscope.viewer.data`
reads what it leaves in the store, so reopening a prepared store stays light.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from silentscope.audit.store import artifact_path, list_artifacts, read_artifact, read_manifest
from silentscope.viewer.artifacts import (
    CONFIDENCES_ARTIFACT,
    CONFIDENCES_INFO_ARTIFACT,
    EMBEDDING_ARTIFACT,
    EMBEDDING_INFO_ARTIFACT,
)
from silentscope.viewer.data import _artifact_table, samples_fingerprint


def _artifact_rows(store: Path, name: str) -> int | None:
    path = artifact_path(store, name)  # only published artifacts (see audit.artifacts)
    return (
        pq.read_metadata(path).num_rows if path is not None and path.suffix == ".parquet" else None
    )


def prepare_store(
    store: str | os.PathLike,
    method: str = "umap",
    csfs=None,
    random_state=0,
    recompute: bool = False,
    progress: Callable[[str, float], None] | None = None,
    provisional: bool = False,
    **embedding_params,
) -> dict:
    """Compute and cache what the viewer needs: the joint embedding and every CSF's confidences.

    Both are computed once and cached as store artifacts (``embedding``,
    ``embedding_info``, ``viewer_confidences``); later calls reuse them unless
    ``recompute`` is set.

    Parameters
    ----------
    store : path-like
    method : {"umap", "pca"}, default="umap"
        Layout of the embedding (see :mod:`silentscope.viewer.embedding`).
    csfs : sequence of str, optional
        CSF names to compute; default: every CSF the store's inputs allow.
    random_state : int, default=0
    recompute : bool, default=False
    progress : callable, optional
        Called with ``(stage, fraction)``.
    provisional : bool, default=False
        Where no layout is cached, cache the first two principal components marked
        provisional (seconds, where UMAP takes a minute) so that the viewer can draw at once;
        a later call without it replaces them by ``method``'s layout. With it, any cached
        layout is reused.

    Returns
    -------
    dict
        ``embedding`` (its info), ``confidences`` (names) and ``unavailable`` (CSF -> reason).
    """
    store = Path(store)
    report = progress or (lambda stage, fraction: None)
    if not recompute:
        n = int(read_manifest(store)["n_samples"])
        embedding_rows = _artifact_rows(store, EMBEDDING_ARTIFACT)
        confidence_rows = _artifact_rows(store, CONFIDENCES_ARTIFACT)
        cached_info = (
            read_artifact(store, EMBEDDING_INFO_ARTIFACT)
            if EMBEDDING_INFO_ARTIFACT in list_artifacts(store)
            else None
        )
        if (
            embedding_rows == n
            and confidence_rows == n
            and cached_info is not None
            and (provisional or not cached_info.get("provisional"))
        ):
            # Both caches exist: reopening a store costs no validation pass over its arrays.
            names = pq.read_schema(artifact_path(store, CONFIDENCES_ARTIFACT)).names
            return {
                "embedding": cached_info,
                "confidences": [c for c in names if c != "sample_id"],
                "unavailable": {},
            }
    # Imported only when something must be computed: reopening a cached store stays light
    # (scikit-learn, scipy and pandas would add seconds to the viewer's start).
    from silentscope.audit.store import load_audit, write_artifacts
    from silentscope.confidence import compute_confidences
    from silentscope.viewer.embedding import ensure_embedding

    report("loading and validating the store", 0.0)
    audit = load_audit(store)
    _, info = ensure_embedding(
        store,
        method="pca" if provisional else method,
        random_state=random_state,
        recompute=recompute,
        progress=report,
        audit=audit,
        provisional=provisional,
        # Principal components project every row directly: none is laid out on a subsample
        # and placed by its neighbours (a third of the provisional time at 1e5 rows).
        **({"max_fit": max(audit.n_samples, 1)} if provisional else {}) | embedding_params,
    )
    unavailable: dict[str, str] = {}
    cached = None if recompute else _artifact_table(store, CONFIDENCES_ARTIFACT)
    if cached is not None and cached.num_rows == audit.n_samples:
        names = [c for c in cached.column_names if c != "sample_id"]
    else:
        report("computing confidences", 0.0)
        refused: dict[str, str] = {}
        if audit.task == "segmentation":  # its CSFs are the stored aggregated confidences
            from silentscope.evaluation.continuous_risk import segmentation_csfs

            csfs, refused = segmentation_csfs(audit, csfs)
        confidences, unavailable = compute_confidences(audit, csfs)
        unavailable.update(refused)
        frame = {
            "sample_id": audit.sample_id,
            **{name: values for name, values in confidences.items()},
        }
        import pandas as pd

        # One commit: the confidences and the record of which samples they are for.
        write_artifacts(
            store,
            {
                CONFIDENCES_ARTIFACT: pd.DataFrame(frame),
                CONFIDENCES_INFO_ARTIFACT: {
                    "samples_sha256": samples_fingerprint(read_manifest(store)),
                    "unavailable": unavailable,
                },
            },
        )
        names = list(confidences)
        report("computing confidences", 1.0)
    return {"embedding": info, "confidences": names, "unavailable": unavailable}


__all__ = ["prepare_store"]
