"""One joint 2-D embedding of every test set, so that iid and shifted samples share coordinates.

SF-Visuals fits a separate t-SNE per test set, so a point's position under shift cannot be
compared with its position in distribution. Here a single map is fitted once for all test
sets together:

1. **PCA** to at most ``n_pca`` dimensions, fitted on a seeded subsample of at most
   ``max_pca_fit`` rows and applied to every row in chunks.
2. **Layout** of a seeded subsample of at most ``max_fit`` rows, drawn per test set in
   proportion to its size with at least ``min_per_test_set`` rows of each (so a small shifted
   test set is never left out): UMAP (McInnes, Healy & Melville 2018, ``umap-learn``) or the
   first two principal components (``pca``, instant, for quick looks and tests).
3. **Placement** of every other row at the inverse-distance-weighted mean of the 2-D
   positions of its ``n_neighbors`` nearest fitted rows in PCA space; exact for rows that
   duplicate a fitted row. This is how ``umap-learn`` initialises ``transform``, without its
   optimisation epochs. Neighbours are searched (exactly, with a k-d tree) in the first
   ``placement_dims`` principal components, which hold most of the variance and keep a
   million rows tractable on two CPU cores.

The result is cached inside the audit store (artifacts ``embedding`` and
``embedding_info``) by :func:`ensure_embedding`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from silentscope.audit.artifacts import read_artifact_file
from silentscope.audit.store import (
    SAMPLES,
    published_artifacts,
    read_manifest,
    write_artifacts,
)
from silentscope.viewer.artifacts import EMBEDDING_ARTIFACT, EMBEDDING_INFO_ARTIFACT
from silentscope.viewer.sampling import stratified_subsample

_CHUNK = 65_536

#: Called with a stage description and the fraction done in [0, 1].
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class LayoutMethod:
    """A registered 2-D layout of the fitted subsample."""

    name: str
    description: str
    layout: Callable[[np.ndarray, int], np.ndarray]


def _pca_layout(x: np.ndarray, seed: int) -> np.ndarray:
    return np.asarray(x[:, :2], dtype=np.float32)


def _umap_layout(x: np.ndarray, seed: int) -> np.ndarray:
    try:
        import umap
    except ImportError:
        raise ImportError(
            "the 'umap' embedding needs umap-learn; install it with `pip install umap-learn` "
            "or choose method='pca'"
        ) from None
    n_neighbors = int(min(15, max(2, len(x) - 1)))
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, random_state=seed)
    with warnings.catch_warnings():
        # umap warns that a random_state disables parallelism: reproducibility is the point.
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        return np.asarray(reducer.fit_transform(x), dtype=np.float32)


#: Layout methods by exact name.
LAYOUT_METHODS: dict[str, LayoutMethod] = {
    "umap": LayoutMethod("umap", "PCA, then UMAP on a subsample", _umap_layout),
    "pca": LayoutMethod("pca", "first two principal components", _pca_layout),
}


def get_layout_method(name: str) -> LayoutMethod:
    """The registered layout method called ``name`` (exact match)."""
    if name not in LAYOUT_METHODS:
        raise ValueError(
            f"unknown embedding method {name!r}; choose one of {', '.join(LAYOUT_METHODS)}"
        )
    return LAYOUT_METHODS[name]


class JointEmbedding(BaseEstimator):
    """PCA, a 2-D layout of a subsample, and nearest-neighbour placement of the rest.

    Parameters
    ----------
    method : {"umap", "pca"}, default="umap"
        Layout of the fitted subsample (see :data:`LAYOUT_METHODS`).
    n_pca : int, default=50
        PCA dimensions (capped by the input's dimensions).
    max_fit : int, default=15000
        Rows laid out by ``method``; every other row is placed by its neighbours.
    max_pca_fit : int, default=100000
        Rows PCA is fitted on.
    min_per_test_set : int, default=300
        Minimum fitted rows per group (test set).
    n_neighbors : int, default=5
        Fitted neighbours used to place each other row.
    placement_dims : int, default=10
        Leading principal components in which those neighbours are searched.
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    pca_ : PCA
    fit_rows_ : ndarray
        Rows of the training data that were laid out directly.
    fit_pca_ : ndarray of shape (n_fit, n_pca)
    fit_coords_ : ndarray of shape (n_fit, 2)
    embedding_ : ndarray of float32, shape (n_samples, 2)
        Coordinates of the rows passed to :meth:`fit`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.vstack([rng.normal(0, 1, (200, 8)), rng.normal(6, 1, (200, 8))])
    >>> groups = np.repeat(["iid", "cor/blur/3"], 200)
    >>> emb = JointEmbedding(method="pca", max_fit=100, random_state=0).fit(x, groups)
    >>> emb.embedding_.shape
    (400, 2)
    >>> a, b = emb.embedding_[:200, 0].mean(), emb.embedding_[200:, 0].mean()
    >>> bool(abs(a - b) > 5)
    True
    """

    def __init__(
        self,
        method: str = "umap",
        n_pca: int = 50,
        max_fit: int = 15_000,
        max_pca_fit: int = 100_000,
        min_per_test_set: int = 300,
        n_neighbors: int = 5,
        placement_dims: int = 10,
        random_state=0,
    ):
        self.method = method
        self.n_pca = n_pca
        self.max_fit = max_fit
        self.max_pca_fit = max_pca_fit
        self.min_per_test_set = min_per_test_set
        self.n_neighbors = n_neighbors
        self.placement_dims = placement_dims
        self.random_state = random_state

    def fit(self, x, groups=None, progress: Progress | None = None) -> JointEmbedding:
        """Fit on ``x`` (N, D), possibly memory-mapped; ``groups`` stratify the subsample."""
        report = progress or (lambda stage, fraction: None)
        layout = get_layout_method(self.method)
        if x.ndim != 2 or len(x) < 3:
            raise ValueError(
                f"the embedding needs a 2-D input with at least 3 rows, got shape {x.shape}"
            )
        for name in ("n_pca", "max_fit", "max_pca_fit", "n_neighbors", "placement_dims"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        n = len(x)
        groups = np.zeros(n, dtype=np.int8) if groups is None else np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} rows")
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

        report("fitting PCA", 0.0)
        pca_rows = stratified_subsample(groups, self.max_pca_fit, self.min_per_test_set, seed)
        sample = check_array(np.asarray(x[pca_rows]), dtype=np.float32)
        n_pca = int(min(self.n_pca, sample.shape[1], len(sample)))
        if n_pca < 2:
            raise ValueError(
                f"the embedding needs inputs with at least 2 dimensions, got {sample.shape[1]}"
            )
        self.pca_ = PCA(n_components=n_pca, random_state=seed).fit(sample)
        reduced = np.empty((n, self.pca_.n_components_), dtype=np.float32)
        for start in range(0, n, _CHUNK):
            block = check_array(np.asarray(x[start : start + _CHUNK]), dtype=np.float32)
            reduced[start : start + len(block)] = self.pca_.transform(block)
            report("projecting with PCA", min(1.0, (start + len(block)) / n))

        self.fit_rows_ = stratified_subsample(groups, self.max_fit, self.min_per_test_set, seed + 1)
        self.fit_pca_ = reduced[self.fit_rows_]
        report(f"laying out {len(self.fit_rows_):,} rows ({layout.description})", 0.0)
        self.fit_coords_ = layout.layout(self.fit_pca_, seed)
        report(f"laying out {len(self.fit_rows_):,} rows ({layout.description})", 1.0)

        self.embedding_ = np.empty((n, 2), dtype=np.float32)
        self.embedding_[self.fit_rows_] = self.fit_coords_
        rest = np.setdiff1d(np.arange(n), self.fit_rows_, assume_unique=True)
        if len(rest):
            self._neighbors = self._index()
            for start in range(0, len(rest), _CHUNK // 4):
                rows = rest[start : start + _CHUNK // 4]
                self.embedding_[rows] = self._place(reduced[rows])
                report("placing the other rows", min(1.0, (start + len(rows)) / len(rest)))
        return self

    def _index(self) -> cKDTree:
        return cKDTree(self.fit_pca_[:, : self.placement_dims])

    def _place(self, reduced: np.ndarray) -> np.ndarray:
        k = min(self.n_neighbors, len(self.fit_rows_))
        distance, index = self._neighbors.query(reduced[:, : self.placement_dims], k=k, workers=-1)
        distance, index = distance.reshape(len(reduced), k), index.reshape(len(reduced), k)
        weight = 1.0 / np.maximum(distance, 1e-12)
        exact = distance[:, 0] <= 1e-9
        weight[exact] = 0.0
        weight[exact, 0] = 1.0
        weight /= weight.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", weight, self.fit_coords_[index]).astype(np.float32)

    def transform(self, x) -> np.ndarray:
        """Place new rows (N, D) by their nearest fitted neighbours in PCA space."""
        check_is_fitted(self, "fit_coords_")
        x = check_array(np.asarray(x), dtype=np.float32)
        if not hasattr(self, "_neighbors"):
            self._neighbors = self._index()
        return self._place(self.pca_.transform(x).astype(np.float32))


def embedding_input(audit) -> tuple[np.ndarray, str]:
    """The representation to embed: penultimate features, or the logits where there are none."""
    if audit.features is not None:
        return audit.features, "features"
    return audit.logits, "logits"


def compute_embedding(
    audit, method: str = "umap", random_state=0, progress: Progress | None = None, **params
) -> tuple[pd.DataFrame, dict]:
    """Embed every sample of an AuditSet in one joint 2-D map.

    Parameters
    ----------
    audit : AuditSet
    method : {"umap", "pca"}, default="umap"
    random_state : int, default=0
    progress : callable, optional
        Called with ``(stage, fraction)``.
    **params
        Further :class:`JointEmbedding` parameters (``max_fit``, ``n_pca``, ...).

    Returns
    -------
    coords : DataFrame
        Columns ``sample_id``, ``x``, ``y`` (float32), in store row order.
    info : dict
        Method, parameters, input (``features`` or ``logits``) and subsample size.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> audit = AuditSet(sample_id=[str(i) for i in range(50)], test_set=["iid"] * 50,
    ...                  label=rng.integers(0, 2, 50), logits=rng.normal(size=(50, 2)),
    ...                  class_names=["a", "b"], features=rng.normal(size=(50, 6)))
    >>> coords, info = compute_embedding(audit, method="pca")
    >>> list(coords.columns), info["input"]
    (['sample_id', 'x', 'y'], 'features')
    """
    x, source = embedding_input(audit)
    model = JointEmbedding(method=method, random_state=random_state, **params)
    model.fit(x, audit.test_set, progress=progress)
    coords = pd.DataFrame(
        {"sample_id": audit.sample_id, "x": model.embedding_[:, 0], "y": model.embedding_[:, 1]}
    )
    info = {
        "method": method,
        "description": get_layout_method(method).description,
        "input": source,
        "input_dims": int(x.shape[1]),
        "n_samples": int(audit.n_samples),
        "n_fit": int(len(model.fit_rows_)),
        "params": {k: v for k, v in model.get_params().items() if k != "method"},
    }
    return coords, info


def cached_embedding(store: str | os.PathLike, sample_id=None) -> tuple[pd.DataFrame, dict] | None:
    """The embedding cached in ``store``, or None if absent or written for other samples."""
    files = published_artifacts(store)  # one version of the index: both from one commit
    if EMBEDDING_ARTIFACT not in files or EMBEDDING_INFO_ARTIFACT not in files:
        return None
    coords = read_artifact_file(files[EMBEDDING_ARTIFACT])
    info = read_artifact_file(files[EMBEDDING_INFO_ARTIFACT])
    if not {"sample_id", "x", "y"} <= set(coords.columns):
        return None
    if sample_id is not None and (
        len(coords) != len(sample_id)
        or not np.array_equal(coords["sample_id"].to_numpy(), sample_id)
    ):
        return None
    return coords, info


def ensure_embedding(
    store: str | os.PathLike,
    method: str = "umap",
    random_state=0,
    recompute: bool = False,
    progress: Progress | None = None,
    audit=None,
    provisional: bool = False,
    **params,
) -> tuple[pd.DataFrame, dict]:
    """The store's cached joint embedding, computed and cached first if absent.

    A cached embedding is reused whatever its method unless ``recompute`` is set, so
    that opening a store never silently spends minutes on a new layout. A *provisional*
    one (cached with ``provisional=True``: a quick layout shown while the real one is
    computed) is reused only by another provisional request, so a viewer stopped before
    the real layout was ready computes it next time.

    Examples
    --------
    >>> import tempfile
    >>> from silentscope.audit import AuditSet
    >>> from silentscope.audit.store import save_audit
    >>> rng = np.random.default_rng(0)
    >>> audit = AuditSet(sample_id=[str(i) for i in range(30)], test_set=["iid"] * 30,
    ...                  label=rng.integers(0, 2, 30), logits=rng.normal(size=(30, 2)),
    ...                  class_names=["a", "b"])
    >>> store = save_audit(audit, tempfile.mkdtemp() + "/store")
    >>> coords, info = ensure_embedding(store, method="pca")
    >>> info["input"], len(coords)
    ('logits', 30)
    """
    from silentscope.audit.store import load_audit

    if audit is None:
        audit = load_audit(store)
    if not recompute:
        cached = cached_embedding(store, audit.sample_id)
        if cached is not None and (provisional or not cached[1].get("provisional")):
            return cached
    coords, info = compute_embedding(
        audit, method=method, random_state=random_state, progress=progress, **params
    )
    # Lets a reader check the cache against the store without comparing a million ids.
    info["samples_sha256"] = read_manifest(store).get("files", {}).get(SAMPLES, {}).get("sha256")
    if provisional:
        info["provisional"] = True
    # One commit: coordinates and their description never come from two computations.
    write_artifacts(store, {EMBEDDING_ARTIFACT: coords, EMBEDDING_INFO_ARTIFACT: info})
    return coords, info


__all__ = [
    "EMBEDDING_ARTIFACT",
    "EMBEDDING_INFO_ARTIFACT",
    "JointEmbedding",
    "LAYOUT_METHODS",
    "compute_embedding",
    "cached_embedding",
    "embedding_input",
    "ensure_embedding",
    "get_layout_method",
    "stratified_subsample",
]
