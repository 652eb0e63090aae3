"""Deep k-nearest-neighbour distance to the training features (Sun et al. 2022)."""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    CSFUnavailableError,
    register_csf,
)

# Similarity blocks of at most this many float32 values (128 MB) are held at once.
_BLOCK_VALUES = 2**25


def _normalise(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    # A zero vector stays zero (distance sqrt(2) to every unit vector) instead of becoming NaN.
    return features / np.maximum(norms, np.float32(1e-12))


@register_csf
class KNN(ConfidenceScorer):
    r"""Negative distance to the k-th nearest training feature, after L2 normalisation.

    .. math:: z = f(x) / \lVert f(x) \rVert_2, \qquad
              \kappa(x) = -\lVert z - z_{(k)} \rVert_2

    where :math:`z_{(k)}` is the k-th nearest of the normalised training features. Sun, Y.,
    Ming, Y., Zhu, X. and Li, Y., "Out-of-distribution detection with deep nearest
    neighbors", ICML 2022 (``k=50`` is their CIFAR-10 setting).

    The search is exact and brute force: on unit vectors
    :math:`\lVert z - t \rVert^2 = 2 - 2\, z^\top t`, so each block of queries costs one
    float32 matrix product with the training features and a top-k selection (PyTorch, on
    the GPU where one is present). Memory stays below about 128 MB per block whatever the
    sizes. The cost is ``N x N_train x D`` multiply-adds: on two shared CPU cores, 10,000
    queries against 100,000 training features of 512 dimensions took 22 s of CPU time
    (``benchmarks/confidence_knn.py``), so 100,000 queries take minutes. For larger
    training sets, ``max_train`` searches a seeded random subset, as Sun et al. do on
    ImageNet (their sampling ratio; scale ``k`` with it).

    Parameters
    ----------
    k : int, default 50
        Which neighbour's distance is the score.
    max_train : int, optional
        Search at most this many training features (a seeded random subset); default all.
    random_state : int, default 0
        Seed of the subset drawn when ``max_train`` is below the training size.
    device : str, optional
        PyTorch device for the search; default ``"cuda"`` if available, else ``"cpu"``.

    Attributes
    ----------
    train_normalised_ : ndarray of shape (N_train, D), float32
        The L2-normalised training features.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal([3.0, 0.0], 0.3, size=(200, 2))
    >>> audit = AuditSet(sample_id=["in", "out"], test_set=["iid", "ood/far"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  features=np.array([[3.0, 0.1], [0.0, -3.0]]),
    ...                  train_features=train, train_labels=np.zeros(200, dtype=int))
    >>> inside, outside = KNN(k=5).fit(audit).score(audit)
    >>> bool(inside > outside)
    True
    """

    name = "kNN"
    display_name = "Deep k-nearest-neighbour distance"
    requires = ("logits", "features", "train_features")
    fitted = True

    def __init__(
        self,
        k: int = 50,
        max_train: int | None = None,
        random_state: int = 0,
        device: str | None = None,
    ):
        self.k = k
        self.max_train = max_train
        self.random_state = random_state
        self.device = device

    def fit(self, audit: AuditSet) -> KNN:
        self.check_inputs(audit)
        k = self.k
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        train = audit.train_features
        if self.max_train is not None:
            if (
                isinstance(self.max_train, bool)
                or not isinstance(self.max_train, int | np.integer)
                or self.max_train < 1
            ):
                raise ValueError(
                    f"max_train must be a positive integer or None, got {self.max_train!r}"
                )
            if self.max_train < len(train):
                rng = np.random.default_rng(self.random_state)
                train = train[
                    np.sort(rng.choice(len(train), size=int(self.max_train), replace=False))
                ]
        n_train = len(train)
        if k > n_train:
            raise CSFUnavailableError(
                f"kNN with k={k} needs at least {k} training features, got {n_train}; "
                "pass a smaller k or more train_features"
            )
        self.train_normalised_ = _normalise(train)
        self.n_features_in_ = self.train_normalised_.shape[1]
        return self

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("train_normalised_")
        self.check_inputs(audit)
        import torch  # deferred: importing torch costs seconds and most CSFs do not need it

        if audit.features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {audit.features.shape[1]} dims but kNN was fitted on "
                f"{self.n_features_in_}; fit and score with features from the same layer"
            )
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        train = torch.from_numpy(self.train_normalised_).to(device)
        n, n_train = len(audit.features), len(train)
        step = max(1, _BLOCK_VALUES // n_train)
        kth_similarity = np.empty(n, dtype=np.float64)
        with torch.no_grad():
            for start in range(0, n, step):
                queries = torch.from_numpy(_normalise(audit.features[start : start + step])).to(
                    device
                )
                similarity = queries @ train.T
                top = torch.topk(similarity, int(self.k), dim=1, sorted=False).values
                kth_similarity[start : start + len(queries)] = top.min(dim=1).values.cpu().numpy()
        return -np.sqrt(np.maximum(2.0 - 2.0 * kth_similarity, 0.0))
