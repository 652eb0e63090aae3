"""The terms that distinguish a group of reports from the rest: one ranking for every view.

Slice explanations (``silentscope slices``, the HTML report) and the viewer's selection
panel list a group's report terms with :func:`terms_from_counts`, so that one slice reads
the same in all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silentscope.text.log_odds import log_odds_dirichlet


@dataclass(frozen=True)
class TermEvidence:
    """A report term that distinguishes a slice from the rest (log-odds z-score)."""

    term: str
    z: float
    share_slice: float
    share_rest: float

    @property
    def description(self) -> str:
        return f"{self.term} ({self.share_slice:.0%} vs {self.share_rest:.0%})"


#: Terms are listed from this log-odds z on (a nominal two-sided 5% level): the CLI, the
#: report and the viewer list the same terms for the same samples.
MIN_TERM_Z = 1.96


def terms_from_counts(
    inside, outside, vocabulary, n_inside: int, n_outside: int, *, n_terms: int = 8,
    min_count: int = 3, skip=None, min_z: float = MIN_TERM_Z,
) -> list[TermEvidence]:  # fmt: skip
    """The terms that distinguish a group of reports, from its document counts and the rest's.

    The one ranking of slice and selection terms (:func:`distinguishing_terms` for slices,
    the viewer's selection panel): log-odds with an informative Dirichlet prior (Monroe,
    Colaresi and Quinn 2008), terms with ``z >= min_z`` in at least ``min_count`` of the
    group's reports, best first, a term left out when it is contained in a better one or
    marked in ``skip`` (e.g. :func:`~silentscope.text.terms.phrase_only_terms`).

    Parameters
    ----------
    inside, outside : array-like of float, shape (V,)
        Documents of the group / of the rest that contain each term.
    vocabulary : array-like of str, shape (V,)
    n_inside, n_outside : int
        Documents in the group and in the rest.
    n_terms, min_count : int
    skip : array-like of bool, shape (V,), optional
    min_z : float, default=MIN_TERM_Z

    Returns
    -------
    list of TermEvidence

    Examples
    --------
    >>> [t.description for t in terms_from_counts([8, 1], [2, 40], ["effusion", "clear"], 10, 50)]
    ['effusion (80% vs 4%)']
    """
    inside = np.asarray(inside, dtype=np.float64)
    outside = np.asarray(outside, dtype=np.float64)
    vocabulary = np.asarray(vocabulary, dtype=str)
    if n_inside == 0 or n_outside == 0 or len(vocabulary) < 2:
        return []
    if inside.sum() == 0 or outside.sum() == 0:
        return []
    _, z = log_odds_dirichlet(inside, outside)
    skip = np.zeros(len(vocabulary), bool) if skip is None else np.asarray(skip, dtype=bool)
    order = np.argsort(-z, kind="stable")
    chosen: list[TermEvidence] = []
    for j in order:
        if len(chosen) >= n_terms or z[j] < min_z:
            break
        if inside[j] < min_count or skip[j]:
            continue
        term = vocabulary[j]
        if any(_contained(term, other.term) or _contained(other.term, term) for other in chosen):
            continue
        chosen.append(
            TermEvidence(str(term), float(z[j]), inside[j] / n_inside, outside[j] / n_outside)
        )
    return chosen


def _contained(short: str, long: str) -> bool:
    """Whether the words of ``short`` appear in ``long`` as a run, with the same assertion."""
    return f" {short} " in f" {long} " and short.startswith(
        ("no ", "possible ")
    ) == long.startswith(("no ", "possible "))


__all__ = ["MIN_TERM_Z", "TermEvidence", "terms_from_counts"]
