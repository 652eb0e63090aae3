"""Explanations of a slice in clinical words: report terms, metadata enrichment, examples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from silentscope.slices.representation import default_metadata_columns
from silentscope.text.distinguishing import MIN_TERM_Z, TermEvidence, terms_from_counts

#: Numeric metadata with at most this many distinct values is described by value, not threshold.
MAX_LEVELS = 10
_QUANTILES = np.linspace(0.1, 0.9, 9)


@dataclass(frozen=True)
class Enrichment:
    """A metadata condition over-represented in a slice.

    Attributes
    ----------
    column : str
    condition : str
        E.g. ``age > 70`` or ``sex = Female``.
    share_slice, share_overall : float
        Fraction of the slice / of all samples meeting the condition.
    z : float
        Binomial z-score of the slice share against the overall share.
    """

    column: str
    condition: str
    share_slice: float
    share_overall: float
    z: float

    @property
    def description(self) -> str:
        """E.g. ``age > 70: 64% of slice vs 18% overall``."""
        return (
            f"{self.condition}: {self.share_slice:.0%} of slice vs {self.share_overall:.0%} overall"
        )


def _binomial_z(share_slice: float, share_overall: float, n_slice: int) -> float:
    if share_overall <= 0 or share_overall >= 1:
        return 0.0
    return (share_slice - share_overall) / np.sqrt(share_overall * (1 - share_overall) / n_slice)


def metadata_conditions(values: pd.Series, column: str):
    """Candidate (condition text, boolean mask) pairs for one metadata column.

    Shared by :func:`metadata_enrichment` and the slice rules
    (:func:`silentscope.slices.rules.condition_matrix`), so both name a value alike.

    Columns with few distinct values yield one equality per value first (so that a
    flag reads ``D = 1``, not ``D > 0``, on a tie); numeric columns also yield cuts at
    their deciles, or between their values when they have few.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    few = values.nunique(dropna=True) <= MAX_LEVELS
    if few or not numeric:
        labels = values.astype(object).where(values.notna(), "missing").astype(str).to_numpy()
        if numeric and pd.api.types.is_float_dtype(values):  # 0.0077, not 0.007653061224489796
            # each distinct value formatted once (a loop over 100,000 rows took a second)
            x = values.to_numpy(dtype=np.float64, na_value=np.nan)
            distinct, inverse = np.unique(x, return_inverse=True)
            names = [format(v, ".4g") if np.isfinite(v) else "missing" for v in distinct]
            labels = np.array(names, dtype=object)[inverse.reshape(-1)]
        for level in np.unique(labels):
            yield f"{column} = {level}", labels == level
    if numeric:
        x = values.to_numpy(dtype=np.float64)
        cuts = (
            np.unique(x[np.isfinite(x)])[:-1] if few else np.unique(np.nanquantile(x, _QUANTILES))
        )
        for threshold in cuts:
            with np.errstate(invalid="ignore"):
                yield f"{column} > {threshold:g}", x > threshold
                yield f"{column} <= {threshold:g}", x <= threshold


def metadata_enrichment(
    metadata: pd.DataFrame, mask, max_items: int = 3, min_z: float = 3.0, columns=None
) -> list[Enrichment]:
    """Metadata conditions most over-represented in a slice.

    Numeric columns are cut at their deciles (both ``>`` and ``<=``), or between their
    values when they have at most ``MAX_LEVELS``; columns with few values and
    categorical columns are also compared value by value. Each condition's share
    in the slice is compared with its share overall by a binomial z-score; the best
    condition per column is kept, then the ``max_items`` best columns with ``z >= min_z``.

    Parameters
    ----------
    metadata : DataFrame, N rows
    mask : array-like of bool, shape (N,)
        Slice membership.
    max_items : int, default=3
    min_z : float, default=3.0
    columns : sequence of str, optional
        Default: :func:`~silentscope.slices.representation.default_metadata_columns`
        (identifiers, row indices, file names and ``gt_*`` ground truth left out).

    Returns
    -------
    list of Enrichment, strongest first

    Examples
    --------
    >>> age = np.r_[np.full(64, 80), np.full(36, 40), np.full(100, 80), np.full(700, 40)]
    >>> frame = pd.DataFrame({"age": age + np.arange(900) % 7})
    >>> mask = np.arange(900) < 100
    >>> metadata_enrichment(frame, mask)[0].description
    'age > 46: 64% of slice vs 18% overall'
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(metadata),):
        raise ValueError(
            f"mask must have one entry per metadata row ({len(metadata)}), got {mask.shape}"
        )
    n_slice = int(mask.sum())
    if n_slice == 0:
        return []
    if columns is None:
        columns = default_metadata_columns(metadata)
    best = []
    for column in columns:
        candidates = []
        for condition, hits in metadata_conditions(metadata[column], str(column)):
            share_slice, share_overall = float(hits[mask].mean()), float(hits.mean())
            z = _binomial_z(share_slice, share_overall, n_slice)
            candidates.append(Enrichment(str(column), condition, share_slice, share_overall, z))
        if candidates:
            top = max(candidates, key=lambda e: e.z)
            if top.z >= min_z:
                best.append(top)
    return sorted(best, key=lambda e: -e.z)[: int(max_items)]


def distinguishing_terms(
    term_counts,
    vocabulary,
    mask,
    n_terms: int = 8,
    min_count: int = 3,
    min_z: float = MIN_TERM_Z,
    phrase_only=None,
) -> list[TermEvidence]:
    """Report terms over-represented in a slice, by log-odds with an informative Dirichlet prior.

    Terms that occur (almost) only inside longer phrases of the corpus are shown by those
    phrases (:func:`~silentscope.text.terms.phrase_only_terms`): ``vitreous degeneration``
    and ``macular degeneration``, never ``degeneration`` for both. The ranking is
    :func:`terms_from_counts`, which the viewer uses too.

    Parameters
    ----------
    term_counts : sparse or dense matrix, shape (N, V)
        Document-term matrix, e.g. from :func:`silentscope.text.term_matrix` (assertion
        aware, so ``no effusion`` and ``effusion`` are different terms; ``non
        proliferative`` one word) with ``ngram_range=TERM_NGRAMS``.
    vocabulary : array-like of str, shape (V,)
    mask : array-like of bool, shape (N,)
    n_terms : int, default=8
    min_count : int, default=3
        Ignore terms in fewer slice documents.
    min_z : float, default=MIN_TERM_Z
    phrase_only : ndarray of bool, shape (V,), optional
        :func:`~silentscope.text.terms.phrase_only_terms` of ``term_counts``, when the
        caller explains several slices of one corpus (it depends on the corpus only).

    Returns
    -------
    list of TermEvidence, highest z first; terms contained in a better term
    (``effusion`` after ``pleural effusion``) are left out.

    Examples
    --------
    >>> from silentscope.text import term_matrix
    >>> texts = ["Cardiomegaly."] * 10 + ["No cardiomegaly."] * 30 + ["Clear lungs."] * 30
    >>> counts, vocab = term_matrix(texts)
    >>> mask = np.arange(70) < 10
    >>> [t.term for t in distinguishing_terms(counts, vocab, mask)]
    ['cardiomegaly']
    """
    from silentscope.text.terms import phrase_only_terms

    mask = np.asarray(mask, dtype=bool)
    vocabulary = np.asarray(vocabulary, dtype=str)
    if mask.sum() == 0 or mask.all() or len(vocabulary) < 2:
        return []
    inside = np.asarray(term_counts[mask].sum(axis=0)).ravel().astype(np.float64)
    outside = np.asarray(term_counts[~mask].sum(axis=0)).ravel().astype(np.float64)
    return terms_from_counts(
        inside, outside, vocabulary, int(mask.sum()), int((~mask).sum()), n_terms=n_terms,
        min_count=min_count, min_z=min_z,
        skip=phrase_only_terms(term_counts, vocabulary) if phrase_only is None else phrase_only,
    )  # fmt: skip


def slice_examples(
    scores, errors, confidence, mask, n: int = 5, avoid=None
) -> tuple[np.ndarray, np.ndarray]:
    """Representative members and most-confidently-wrong members of a slice.

    Members in ``avoid`` (the examples already on another slice's card) come last: a slice
    nested in another would otherwise show the very images of the wider slice's card (its
    most confident errors are the same), and a reader learns nothing new from them.

    Parameters
    ----------
    scores : array-like, shape (N,)
        Membership score of the slice (higher = more typical).
    errors : array-like of bool, shape (N,)
    confidence : array-like, shape (N,)
        Classifier confidence (maximum softmax probability).
    mask : array-like of bool, shape (N,)
    n : int, default=5
    avoid : array-like of bool, shape (N,), optional
        Rows to choose only when the slice has too few others.

    Returns
    -------
    representative, confident_errors : ndarray of int
        Row indices, best first.

    Examples
    --------
    >>> rep, wrong = slice_examples([0.9, 0.5, 0.8, 0.1], [0, 1, 1, 1], [0.9, 0.99, 0.7, 0.95],
    ...                             [1, 1, 1, 0], n=2)
    >>> rep.tolist(), wrong.tolist()
    ([0, 2], [1, 2])
    >>> rep, wrong = slice_examples([0.9, 0.5, 0.8, 0.1], [0, 1, 1, 1], [0.9, 0.99, 0.7, 0.95],
    ...                             [1, 1, 1, 0], n=2, avoid=[0, 1, 0, 0])
    >>> rep.tolist(), wrong.tolist()
    ([0, 2], [2, 1])
    """
    scores = np.asarray(scores, dtype=np.float64)
    errors = np.asarray(errors, dtype=bool)
    confidence = np.asarray(confidence, dtype=np.float64)
    members = np.flatnonzero(np.asarray(mask, dtype=bool))
    later = np.zeros(len(errors), bool) if avoid is None else np.asarray(avoid, dtype=bool)
    # sorted by "already shown" first (False before True), then by score or confidence
    representative = members[np.lexsort((-scores[members], later[members]))[:n]]
    wrong = members[errors[members]]
    confident = wrong[np.lexsort((-confidence[wrong], later[wrong]))[:n]]
    return representative, confident


__all__ = [
    "Enrichment",
    "MAX_LEVELS",
    "MIN_TERM_Z",
    "TermEvidence",
    "distinguishing_terms",
    "metadata_conditions",
    "metadata_enrichment",
    "slice_examples",
    "terms_from_counts",
]
