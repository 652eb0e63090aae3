"""The joint embedding: one map for all test sets, cached in the store, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.audit.store import list_artifacts, read_artifact, save_audit, write_artifact
from silentscope.viewer.embedding import (
    JointEmbedding,
    cached_embedding,
    compute_embedding,
    ensure_embedding,
    stratified_subsample,
)


def _audit(n=600, seed=0, features=True):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, 12))
    cluster = rng.integers(0, 3, n)
    x = centres[cluster] + rng.normal(0, 1, (n, 12))
    # The shifted test set repeats the iid images unchanged: a joint map must put each copy
    # exactly where its original is; separate per-test-set maps (SF-Visuals) cannot.
    feats = np.vstack([x, x])
    return AuditSet(
        sample_id=[f"iid/{i}" for i in range(n)] + [f"cor/{i}" for i in range(n)],
        test_set=["iid"] * n + ["cor/gaussian_blur/1"] * n,
        label=np.concatenate([cluster % 2, cluster % 2]),
        logits=rng.normal(size=(2 * n, 2)),
        class_names=["a", "b"],
        features=feats.astype(np.float32) if features else None,
    )


def test_shifted_copies_share_the_coordinates_of_their_originals():
    audit = _audit()
    coords, info = compute_embedding(audit, method="pca", max_fit=200, min_per_test_set=50)
    xy = coords[["x", "y"]].to_numpy()
    n = audit.n_samples // 2
    np.testing.assert_allclose(xy[:n], xy[n:], atol=1e-4)
    assert info["n_fit"] == 200 and info["input"] == "features"
    assert coords["sample_id"].tolist() == audit.sample_id.tolist()


def test_placed_rows_land_near_their_cluster():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (500, 6)), rng.normal(20, 1, (500, 6))])
    model = JointEmbedding(method="pca", max_fit=100, min_per_test_set=10, random_state=0).fit(x)
    fitted = np.zeros(len(x), dtype=bool)
    fitted[model.fit_rows_] = True
    emb = model.embedding_
    centre_a, centre_b = emb[:500][fitted[:500]].mean(0), emb[500:][fitted[500:]].mean(0)
    placed_a = emb[:500][~fitted[:500]]
    assert (
        np.linalg.norm(placed_a - centre_a, axis=1).max() < np.linalg.norm(centre_a - centre_b) / 2
    )
    np.testing.assert_allclose(model.transform(x[:5]), emb[:5], atol=1e-4)


def test_same_seed_same_map_and_logits_fallback():
    audit = _audit(features=False)
    a, info = compute_embedding(audit, method="pca", random_state=3, max_fit=150)
    b, _ = compute_embedding(audit, method="pca", random_state=3, max_fit=150)
    pd.testing.assert_frame_equal(a, b)
    assert info["input"] == "logits" and info["input_dims"] == 2


def test_small_test_sets_are_always_laid_out():
    groups = np.array(["iid"] * 10_000 + ["cor/blur/5"] * 40)
    rows = stratified_subsample(groups, 1000, min_per_group=100, random_state=0)
    assert len(rows) == 1000
    assert (rows >= 10_000).sum() == 40  # every sample of the small shifted set
    assert np.all(np.diff(rows) > 0)


def test_embedding_is_cached_and_reused(tmp_path):
    audit = _audit(n=100)
    store = save_audit(audit, tmp_path / "store")
    coords, info = ensure_embedding(store, method="pca")
    assert {"embedding", "embedding_info"} <= set(list_artifacts(store))
    # A cached map is reused whatever method is asked for, unless recompute is set.
    again, info_again = ensure_embedding(store, method="umap")
    assert info_again["method"] == "pca"
    pd.testing.assert_frame_equal(coords, again)
    write_artifact(store, "embedding", coords.iloc[::-1].reset_index(drop=True))
    assert cached_embedding(store, audit.sample_id) is None  # written for another row order
    fresh, _ = ensure_embedding(store, method="pca")
    assert fresh["sample_id"].tolist() == audit.sample_id.tolist()
    assert read_artifact(store, "embedding")["sample_id"].tolist() == audit.sample_id.tolist()


def test_bad_inputs_are_refused():
    audit = _audit(n=50)
    with pytest.raises(ValueError, match="unknown embedding method 'tsne'"):
        compute_embedding(audit, method="tsne")
    with pytest.raises(ValueError, match="max_fit must be a positive integer"):
        compute_embedding(audit, method="pca", max_fit=0)


@pytest.mark.slow
def test_umap_map_separates_clusters_and_is_reproducible():
    audit = _audit(n=400)
    a, info = compute_embedding(audit, method="umap", max_fit=500, random_state=0)
    b, _ = compute_embedding(audit, method="umap", max_fit=500, random_state=0)
    np.testing.assert_allclose(a[["x", "y"]], b[["x", "y"]], atol=1e-5)
    assert info["description"].startswith("PCA, then UMAP")
