"""One cause, one slice: consolidate the confirmed candidates of every view and seed.

The per-modality views and the joint view each cut the samples their own way, so one
cause of failure comes back as several candidates: two disjoint halves of the planted
group (which an overlap criterion never joins), or "site C, split by age" pieces that
each hold part of it. :func:`consolidate` walks the confirmed candidates best first and
puts each into an earlier slice when

1. it overlaps that slice (overlap coefficient ``|A & B| / min(|A|, |B|)`` at least
   ``merge_overlap``): it is the same slice, found again; when the members it adds fail
   like the slice (the coherence test of 2.), the slice is widened to the union (the
   class-blind component that holds both per-class pieces of a haze);
2. it shares its explanation with that slice (the rules describing both, learned on the
   fitting split, have a condition in common: ``site = C``, ``report mentions "chest
   tube"``, and do not name different true classes) and their union is as coherent as each part (the part outside the slice does
   not fail at a significantly different rate, Fisher's exact test on the fitting
   split): the slice is widened to the union;
3. its excess error is explained by the slices already kept: its members outside them do
   not fail more than the samples outside every slice (one-sided Fisher test on the
   fitting split), so it adds no cause of its own.

The same walk then runs over the consolidated slices until nothing changes. Every
decision uses the fitting split only; each slice's error rate, interval and test are
those of its (possibly widened) members on the held-out confirmation split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import stats

from silentscope.slices.multiplicity import fails_more_p, family_weights, min_p_adjusted

#: Two-sided level of the coherence test: parts whose error rates differ at this level
#: are different causes and are not joined.
COHERENCE_LEVEL = 0.05


@dataclass
class Consolidated:
    """A consolidated slice: its candidates (best first), members and how each joined.

    Attributes
    ----------
    slices : list of int
        Candidate ids; the first is the slice's own (its stability and views lead).
    mask : ndarray of bool, shape (N,)
    signature : frozenset of str
        The conditions of the rules that describe its candidates.
    widened : bool
        Whether members of an absorbed candidate were added (reason 2).
    reasons : dict of int to str
        Why each absorbed candidate joined: ``overlap``, ``same explanation`` or
        ``explained by this slice``.
    notes : list of str
        How it was narrowed or widened, in words.
    described : bool or None
        Whether a rule describes it (precision and recall at least 0.5, fitting split), once
        discovery has learned one; None before.
    took_parts : list of int
        Candidate ids of the wider slices whose worst part joined it (each has a note in
        ``notes``, in order; the report names those slices by their final rank).
    """

    slices: list[int]
    mask: np.ndarray
    signature: frozenset = frozenset()
    widened: bool = False
    reasons: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    described: bool | None = None
    took_parts: list = field(default_factory=list)

    @property
    def n_absorbed(self) -> int:
        return len(self.slices) - 1


#: An overlapping candidate widens the slice it joins (their union) only when one of the two
#: lies this much inside the other: the class-blind component of a haze holds each
#: per-class piece whole, while a candidate that shares only half its members with the
#: slice is another cause that meets it (hazy images and a failing class: their union
#: would name both as one). Chosen on the tuning scenarios (docs/slices_results.md).
UNION_CONTAINMENT = 0.8


def _overlap(a, b) -> float:
    return (a & b).sum() / max(min(a.sum(), b.sum()), 1)


def _rows_mask(rows, n: int) -> np.ndarray:
    """Rows of one split (fitting or held-out) as a boolean mask over ``n`` samples."""
    mask = np.zeros(n, bool)
    mask[np.asarray(rows)] = True
    return mask


def _coherent(inner, outer, errors, fit) -> bool:
    """Whether the part of ``outer`` outside ``inner`` fails at the rate of ``inner`` (fitting split)."""
    a, b = inner & fit, outer & ~inner & fit
    if b.sum() == 0:
        return True
    table = [
        [int(errors[a].sum()), int((~errors[a]).sum())],
        [int(errors[b].sum()), int((~errors[b]).sum())],
    ]
    return stats.fisher_exact(table).pvalue >= COHERENCE_LEVEL


#: How rules name the true class (:func:`silentscope.slices.discover` adds it as a condition).
CLASS_PREFIX = "true class = "


def _names_class(labels) -> np.ndarray:
    """Which condition labels name a true class."""
    return np.char.startswith(np.asarray(labels, dtype=str), CLASS_PREFIX)


def _different_classes(a, b) -> bool:
    """Whether two explanations name true classes and none in common: two failures, not one.

    A classifier that fails on cataracts and on glaucoma fails twice, even when both slices
    also share a condition such as ``eye = right``.
    """
    classes_a = {c for c in a if c.startswith(CLASS_PREFIX)}
    classes_b = {c for c in b if c.startswith(CLASS_PREFIX)}
    return bool(classes_a) and bool(classes_b) and not classes_a & classes_b


def _shared_explanation(a, b) -> set:
    """The conditions two explanations share, the true class aside.

    Slices of one class share ``true class = a`` without sharing a cause: the mixture's
    label term makes most components pure in one class, so in a two-class task half of
    all candidates would "share their explanation" (a device's slice was joined to the
    other class-a slices and widened to the whole class).
    """
    return {c for c in a & b if not c.startswith(CLASS_PREFIX)}


def _explained(mask, covered, errors, fit, alpha) -> bool:
    """Whether ``mask``'s excess errors lie in ``covered`` and its other members fail as usual.

    Both are needed: the members outside ``covered`` must not fail significantly more than
    the samples outside every slice, and at least half of the candidate's excess errors
    (over that outside rate) must lie inside ``covered``. Without the second condition a
    confirmed candidate that barely touches a kept slice would be absorbed whenever its own
    half of the fitting split is too small for the test to see its excess.
    """
    rest = mask & ~covered & fit
    outside = ~mask & ~covered & fit
    if rest.sum() == 0:
        return True
    if outside.sum() == 0:
        return False
    base = errors[outside].mean()
    inside = mask & covered & fit
    excess = errors[mask & fit].sum() - base * (mask & fit).sum()
    if errors[inside].sum() - base * inside.sum() < 0.5 * excess:
        return False
    return not _fails_more(rest, outside, errors, fit, alpha)


def _cause_of_erring_part(part: Consolidated, cause: Consolidated, errors, fit) -> bool:
    """Whether ``cause`` is a described cause whose erring part ``part`` is.

    The slicer weighs the errors, so a confirmed slice may hold only the erring members of
    a cause (zoomed images the network reads as the other eye), ranked before the cause
    itself because it fails more. When no rule describes that part, while the cause was
    widened to the rule that describes it, holds at least :data:`UNION_CONTAINMENT` of
    the part, and its other members fail at least :data:`CAUSE_LIFT` times as often as
    the samples outside both (fitting split), the cause is the slice to report.
    """
    if part.described is not False or not cause.described:
        return False
    if (part.mask & cause.mask).sum() < UNION_CONTAINMENT * part.mask.sum():
        return False
    rest = cause.mask & ~part.mask
    if not (rest & fit).any():
        return False
    return lift_over_rest(rest, cause.mask | part.mask, errors, fit) >= CAUSE_LIFT


def _holds_more(item, group, errors, fit, merge_overlap, alpha) -> bool:
    """Whether ``item`` holds ``group`` and a failure of its own besides.

    The overlap coefficient is taken against the smaller slice, so a device's slice (713
    samples, 30% errors against 5%) that holds the device's melanomas (105, 80%) overlaps
    them fully; absorbed into them as a repeat, the device's failure vanished from the
    report. It is another finding when most of it lies outside ``group`` and those
    members fail more than the samples outside both (fitting split, one-sided Fisher).
    """
    if (item & group).sum() >= merge_overlap * item.sum():
        return False
    return _fails_more(item & ~group, ~(item | group), errors, fit, alpha)


def _walk(
    items: list[Consolidated], errors, fit, merge_overlap, alpha, looks=None
) -> list[Consolidated]:
    kept: list[Consolidated] = []
    for item in items:
        home, reason = None, None
        for group in kept:
            if _overlap(item.mask, group.mask) >= merge_overlap and (
                _cause_of_erring_part(group, item, errors, fit)
                or not _holds_more(item.mask, group.mask, errors, fit, merge_overlap, alpha)
            ):
                home, reason = group, "overlap"
                break
        if home is None:
            for group in kept:
                if (
                    _shared_explanation(item.signature, group.signature)
                    and not _different_classes(item.signature, group.signature)
                    and _coherent(group.mask, group.mask | item.mask, errors, fit)
                    and _coherent(item.mask, group.mask | item.mask, errors, fit)
                ):
                    home, reason = group, "same explanation"
                    break
        if home is None and kept:
            covered = np.logical_or.reduce([group.mask for group in kept])
            if _explained(item.mask, covered, errors, fit, alpha):
                overlaps = [(item.mask & group.mask).sum() for group in kept]
                if max(overlaps) > 0:
                    home, reason = kept[int(np.argmax(overlaps))], "explained by this slice"
        if home is None:
            kept.append(item)
            continue
        if reason == "overlap" and _cause_of_erring_part(home, item, errors, fit):
            # the kept slice is the erring part of the cause this one names: the cause leads
            kept[next(i for i, group in enumerate(kept) if group is home)] = item
            home, item = item, home
        if (
            reason == "overlap"
            and (item.mask & ~home.mask).any()
            and _overlap(item.mask, home.mask) >= UNION_CONTAINMENT
            and _coherent(home.mask, home.mask | item.mask, errors, fit)
            and looks_alike(looks, home.mask, item.mask & ~home.mask)
        ):
            # the other part of one cause (pieces of a haze found per class, and the
            # class-blind component that holds them both): the union fails alike
            reason = "overlap, union fails alike"
        home.slices += item.slices
        home.reasons.update({k: reason for k in item.slices})
        home.reasons.update(item.reasons)
        if reason in ("same explanation", "overlap, union fails alike"):
            home.mask = home.mask | item.mask
            home.signature = home.signature | item.signature
            home.widened = True
    return kept


def consolidate(
    order,
    membership,
    errors,
    fit_rows,
    signatures=None,
    *,
    merge_overlap: float = 0.5,
    alpha: float = 0.05,
    looks=None,
) -> list[Consolidated]:
    """Consolidate candidate slices (best first) into one slice per cause.

    Parameters
    ----------
    order : sequence of int
        Confirmed candidate ids (columns of ``membership``), best first.
    membership : ndarray of bool, shape (N, K)
    errors : ndarray of bool, shape (N,)
    fit_rows : array-like of int
        The fitting split: every decision is made on it.
    signatures : mapping of int to set of str, optional
        Each candidate's explanation (its rule's conditions); without it, candidates join
        by overlap and explained excess only.
    merge_overlap : float, default=0.5
    alpha : float, default=0.05
        Level of the test that a candidate's excess error outside the kept slices is its own.
    looks : ndarray of shape (n_samples, n_measures), optional
        The standardised appearance measures: two overlapping slices whose union fails
        alike join only where the samples one adds look like the other
        (:func:`looks_alike`). None: not checked.

    Returns
    -------
    list of Consolidated, in the order of their best candidate.

    Examples
    --------
    Two disjoint halves of one failing group that share their explanation become one:

    >>> membership = np.zeros((400, 2), bool)
    >>> membership[:40, 0] = membership[40:80, 1] = True
    >>> errors = np.r_[np.arange(80) % 10 < 7, np.arange(320) % 10 < 1]
    >>> fit = np.arange(0, 400, 2)
    >>> [c.slices for c in consolidate([0, 1], membership, errors, fit, {0: {"site = C"}, 1: {"site = C"}})]
    [[0, 1]]
    >>> [c.slices for c in consolidate([0, 1], membership, errors, fit)]
    [[0], [1]]
    """
    membership = np.asarray(membership, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    signatures = signatures or {}
    items = [
        Consolidated([int(k)], membership[:, k].copy(), frozenset(signatures.get(int(k), ())))
        for k in order
    ]
    return merge_slices(
        items, errors, fit_rows, merge_overlap=merge_overlap, alpha=alpha, looks=looks
    )


def merge_slices(
    items: list[Consolidated], errors, fit_rows, *, merge_overlap: float = 0.5, alpha: float = 0.05,
    looks=None,
) -> list[Consolidated]:  # fmt: skip
    """Walk consolidated slices (best first) again until none joins another.

    After slices are narrowed to where they fail (:func:`narrow`) or widened to their
    rule (:func:`extend_to_rule`), two may have become the same slice.
    """
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    while True:
        kept = _walk(items, errors, fit, merge_overlap, alpha, looks)
        if len(kept) == len(items):
            return kept
        items = kept


def absorb_nested(items: list[Consolidated], errors, fit_rows) -> list[Consolidated]:
    """Absorb a slice lying inside a wider one where it fails no more than the rest of it.

    A slice kept apart because a wider slice holds it and fails on its own
    (:func:`_holds_more`) may be no worse than that wider slice: on DermaMNIST a 100-sample
    slice lay wholly inside a 208-sample one and failed 79% against its 83%. It is then a
    piece of the wider failure, not a finding. One that fails more (fitting split, by its
    error rate: a conjunction inside its carrier may fail more without the power to show
    it; absorbing unless significantly worse cost a near-perfect slice of dust specks on
    the development benchmark) stays, and its card says where it lies
    (:func:`~silentscope.slices.notes.nesting_note`). Slices are taken smallest first; each
    joins the smallest slice that holds it.

    Examples
    --------
    >>> rows = np.arange(100)
    >>> wide = Consolidated([0], rows < 60)
    >>> piece, worse = Consolidated([1], rows < 20), Consolidated([2], (rows >= 40) & (rows < 55))
    >>> errors = ((rows < 60) & (rows % 2 == 0)) | ((rows >= 40) & (rows < 55))
    >>> [group.slices for group in absorb_nested([wide, piece, worse], errors, rows)]
    [[0, 1], [2]]
    """
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    kept = list(items)
    for item in sorted(items, key=lambda g: int(g.mask.sum())):
        size = int(item.mask.sum())
        holders = [
            group for group in kept
            if group is not item and group.mask.sum() > size
            and (item.mask & group.mask).sum() >= UNION_CONTAINMENT * size
        ]  # fmt: skip
        if not holders:
            continue
        home = min(holders, key=lambda g: int(g.mask.sum()))
        inner, rest = (item.mask & home.mask) & fit, (home.mask & ~item.mask) & fit
        if not inner.any() or not rest.any() or errors[inner].mean() > errors[rest].mean():
            continue  # it fails more than the rest of the wider slice: a finding of its own
        home.slices += item.slices
        home.reasons.update(
            {k: "inside it, failing no more than the rest of it" for k in item.slices}
        )
        home.reasons.update(item.reasons)
        kept = [group for group in kept if group is not item]
    return kept


class _Screen:
    """The conditions that could narrow a slice, and the test each must pass (fitting split).

    A condition could be chosen when at least ``min_support`` of the slice's fitting
    members meet it and as many do not: that depends on the members alone, so only those
    conditions count in the multiplicity correction. A condition passes when its members
    fail more than the rest of the slice at the Westfall-Young min-p adjusted level
    (:func:`~silentscope.slices.multiplicity.min_p_adjusted`, family weights): computed only
    when needed, since a p-value under its weighted Bonferroni level passes the min-p
    test too (the Bonferroni bound is the min-p's worst case) and one over ``alpha``
    cannot (no adjustment makes a p-value smaller).
    """

    def __init__(self, mask, conditions, errors, fit, min_support, by_class=True):
        from silentscope.metrics.statistics import wilson_interval

        self.mask, self.conditions = mask, conditions
        self.matrix = conditions.of_rows(fit)
        inside, wrong = mask[fit], (mask & errors)[fit]
        self.inside, self.wrong = inside, wrong
        n_sub = self.matrix @ inside.astype(np.float64)
        e_sub = self.matrix @ wrong.astype(np.float64)
        self.usable = (n_sub >= min_support) & (n_sub <= inside.sum() - min_support)
        if not by_class:
            self.usable &= ~_names_class(conditions.labels)
        self.n_sub, self.e_sub = n_sub, e_sub
        self.low = np.full(len(n_sub), -1.0)
        self.weights = np.zeros(len(n_sub))
        self._adjusted = None
        if self.usable.any():
            u = self.usable
            self.low[u], _ = wilson_interval(e_sub[u].astype(int), n_sub[u].astype(int))
            self.weights[u] = family_weights(conditions.columns[u])

    def proposals(self):
        """Each family's best condition, best first: (j, sub, rest).

        Best = highest lower Wilson bound of the error rate among the usable conditions.
        """
        columns, usable = self.conditions.columns, self.usable
        best = []
        for family in np.unique(columns[usable]):
            own = np.flatnonzero(usable & (columns == family))
            best.append(int(own[np.argmax(self.low[own])]))
        best.sort(key=lambda j: -self.low[j])
        mask = self.mask
        return [(j, mask & self.conditions.mask(j), mask & ~self.conditions.mask(j)) for j in best]

    def fails_more(self, j: int, alpha: float) -> bool:
        """Whether condition ``j``'s members fail more than the rest of the slice, corrected."""
        # the Fisher p-value of the one condition asked about (a few per slice are, of
        # thousands usable: computing them all took seconds on 100,000 samples)
        p = fails_more_p(
            self.e_sub[j], self.n_sub[j], int(self.wrong.sum()), int(self.inside.sum())
        )
        if p < alpha * self.weights[j]:
            return True
        if p >= alpha:
            return False
        if self._adjusted is None:
            usable = np.flatnonzero(self.usable)
            members = self.inside
            hits = self.matrix[usable][:, np.flatnonzero(members)].toarray() > 0
            self._adjusted = np.ones(len(self.usable))
            self._adjusted[usable] = min_p_adjusted(hits, self.wrong[members], self.weights[usable])
        return bool(self._adjusted[j] < alpha)


def narrow(
    mask,
    conditions,
    errors,
    fit_rows,
    *,
    min_support: int = 20,
    alpha: float = 0.05,
    max_steps: int = 2,
):
    """The part of a slice where it fails, when that part explains all of its excess error.

    A slice found by clustering often holds its cause together with ordinary samples that
    look alike (all of site C, where only the reports mentioning a chest tube fail). On
    the fitting split, each *family* of conditions (one metadata column, or the report's
    terms) proposes the condition whose members of the slice have the highest lower Wilson
    bound of the error rate (with at least ``min_support`` of them); the slice is narrowed
    to the best proposal whose members fail significantly more than the rest of the slice
    and whose rest fails no more than the samples outside the slice (so nothing of the
    failure is cut away). At most ``max_steps`` conditions are added.

    The true class is never a narrowing condition: where an artefact makes the network
    predict one class (washed-out fundus photographs read as left eyes), the members of
    the other classes are its errors, so "true class = right" always fails more than the
    rest of the slice and would turn the cause into its errors, chosen by what the network
    predicts (the restatement that assigning members without the prediction avoids). The
    slice stays the cause; its worst class may still be reported beside it
    (:func:`where_it_fails_most`), and its rule may name a class.

    The one-sided Fisher test of a condition is corrected for the choice among every
    condition that could have been chosen (at least ``min_support`` fitting members on both
    sides), weighted so that ``alpha`` is shared equally by the families, then by each
    family's conditions (``alpha / 3 / 2`` for ``sex = F`` beside the columns age and
    report; ``alpha / 3 / 600`` for one of 600 report terms): a metadata value is not
    tested as if it were one of hundreds of words, and a conjunction "artefact AND women"
    is narrowed on the 20-40 fitting members a small test set gives. The correction is
    Westfall and Young's min-p over permutations of the slice's errors
    (:mod:`~silentscope.slices.multiplicity`), not the weighted Bonferroni level itself:
    the eighteen cuts of one measure select nearly the same samples and count as about
    one chance, not eighteen. The family-wise error rate stays at most ``alpha`` per step.

    Parameters
    ----------
    mask : ndarray of bool, shape (N,)
    conditions : Conditions
        From :func:`~silentscope.slices.rules.condition_matrix`.
    errors : ndarray of bool, shape (N,)
    fit_rows : array-like of int
    min_support : int, default=20
    alpha : float, default=0.05

    Returns
    -------
    mask : ndarray of bool
        The narrowed slice (``mask`` itself when nothing qualifies).
    added : list of str
        The conditions it was narrowed by.

    Examples
    --------
    >>> from silentscope.slices.rules import condition_matrix
    >>> import pandas as pd
    >>> n = 800
    >>> device = np.arange(n) % 4 == 0
    >>> frame = pd.DataFrame({"site": np.where(np.arange(n) % 2 == 0, "C", "A")})
    >>> texts = np.where(device, "Chest tube.", "Pacemaker.")
    >>> errors = (frame["site"] == "C").to_numpy() & device & (np.arange(n) % 10 < 7)
    >>> errors |= np.arange(n) % 13 == 0
    >>> conditions = condition_matrix(frame, ["site"], texts)
    >>> fit = np.random.default_rng(0).permutation(n)[: n // 2]
    >>> narrowed, added = narrow(frame["site"].to_numpy() == "C", conditions, errors, fit)
    >>> added, int(narrowed.sum())
    (['report mentions "chest tube"'], 200)
    """
    mask = np.asarray(mask, dtype=bool).copy()
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    added: list[str] = []
    for _ in range(max_steps):
        chosen = None
        screen = _Screen(mask, conditions, errors, fit, min_support, by_class=False)
        for j, sub, rest in screen.proposals():
            # the rest must fail like the outside; (not `_explained(rest, sub)`: it also asks
            # for half of the rest's excess inside `sub`, which the disjoint rest never has,
            # so any excess at all, even one error over the outside rate, blocked narrowing)
            if screen.fails_more(j, alpha) and not _fails_more(rest, ~mask, errors, fit, alpha):
                chosen = (j, sub)
                break
        if chosen is None:
            break
        j, sub = chosen
        mask = sub
        added.append(str(conditions.labels[j]))
    return mask, added


class Part(NamedTuple):
    """The part of a slice that fails most (:func:`where_it_fails_most`)."""

    mask: np.ndarray
    condition: str
    #: How many candidate conditions were tested on the held-out split to choose it: the
    #: reader is told, since its held-out figures come from rows that also chose it.
    tested: int


def where_it_fails_most(
    mask, conditions, errors, fit_rows, confirm_rows, *, min_support: int = 20, alpha=0.05
) -> Part | None:
    """The part of a failing slice that fails more than the rest, when the rest fails too.

    :func:`narrow` cuts a slice down only when the rest of it fails like the outside.
    When the rest fails too (a haze that fails 13% against 4% outside, and hazy images of
    women that fail 48%), both are findings: the slice stays whole, and this part is
    reported beside it.

    The fitting split proposes, the held-out split decides. Each family's best condition
    (:func:`candidate_parts`: highest lower Wilson bound of its members' error rate) is a
    candidate when its members fail more than the rest of the slice on the fitting split
    (one-sided Fisher at ``alpha``, uncorrected) and the rest still fails more than the
    outside. Every candidate is then tested on the held-out split (its members against
    the rest of the slice, one-sided Fisher) at ``alpha / k`` for ``k`` candidates
    (Bonferroni over tests fixed before the held-out split is read), and the part is the
    candidate with the smallest held-out p-value among those that pass (its held-out error
    rate is then that of rows that also chose it, as a slice's are those of the rows that
    confirmed it). A min-p correction
    over every condition on the fitting split, as :func:`narrow` uses, would spend the
    fitting split's power on hundreds of appearance conditions: a small chance condition
    (9 errors in 11 images) then outranked the women of a dusty lens (17 in 35), and the
    one held-out test went to the chance condition (development benchmark, round 12).

    Returns
    -------
    Part or None
        The part's members, its condition and how many candidates were tested held out.

    Examples
    --------
    >>> from silentscope.slices.rules import condition_matrix
    >>> import pandas as pd
    >>> n = 2000
    >>> rows = np.arange(n)
    >>> frame = pd.DataFrame({"sex": np.where(rows % 2 == 0, "F", "M")})
    >>> haze = rows < 400
    >>> errors = (haze & (rows % 2 == 0) & (rows % 10 < 6)) | (haze & (rows % 10 == 1))
    >>> errors |= rows % 25 == 3
    >>> conditions = condition_matrix(frame, ["sex"])
    >>> split = np.random.default_rng(0).permutation(n)
    >>> part = where_it_fails_most(haze, conditions, errors, split[:1000], split[1000:])
    >>> part.condition, int(part.mask.sum()), part.tested
    ('sex = F', 200, 1)
    """
    mask = np.asarray(mask, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    candidates = candidate_parts(
        mask, conditions, errors, fit_rows, min_support=min_support, alpha=alpha
    )
    held = _rows_mask(confirm_rows, len(errors))
    best = None
    for sub, j in candidates:
        p = _fails_more_p(sub, mask & ~sub, errors, held)
        if p < alpha / len(candidates) and (best is None or p < best[0]):
            best = (p, sub, str(conditions.labels[j]))
    return None if best is None else Part(best[1], best[2], len(candidates))


def candidate_parts(mask, conditions, errors, fit_rows, *, min_support: int = 20, alpha=0.05):
    """The fitting split's proposals for :func:`where_it_fails_most`, best first.

    Returns
    -------
    list of (mask, j): each family's best condition (index ``j`` in ``conditions``) whose
    members fail more than the rest of the slice (one-sided Fisher p under ``alpha``,
    uncorrected: the held-out test corrects for the candidates) while the rest still
    fails more than the outside (fitting split).

    Examples
    --------
    >>> from silentscope.slices.rules import condition_matrix
    >>> import pandas as pd
    >>> rows = np.arange(2000)
    >>> frame = pd.DataFrame({"sex": np.where(rows % 2 == 0, "F", "M")})
    >>> haze = rows < 400
    >>> errors = (haze & (rows % 2 == 0) & (rows % 10 < 6)) | (haze & (rows % 10 == 1))
    >>> errors |= rows % 25 == 3
    >>> conditions = condition_matrix(frame, ["sex"])
    >>> fit = np.random.default_rng(0).permutation(2000)[:1000]
    >>> [str(conditions.labels[j]) for _, j in candidate_parts(haze, conditions, errors, fit)]
    ['sex = F']
    """
    mask = np.asarray(mask, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    screen = _Screen(mask, conditions, errors, fit, min_support)
    wrong, inside = int(screen.wrong.sum()), int(screen.inside.sum())
    return [
        (sub, j)
        for j, sub, rest in screen.proposals()
        if fails_more_p(screen.e_sub[j], screen.n_sub[j], wrong, inside) < alpha
        and _fails_more(rest, ~mask, errors, fit, alpha)
    ]


def part_that_fails_most(mask, conditions, errors, fit_rows, *, min_support: int = 20, alpha=0.05):
    """The part of a slice that fails most, chosen on the fitting split alone.

    The first family's best condition (lower Wilson bound) that passes the family-weighted
    min-p test of :func:`narrow`; used to join a part to another slice of the same failure
    (:func:`joins_part`), a decision the fitting split makes alone (the joined slice is
    confirmed on held-out rows afterwards).

    Returns
    -------
    (mask, j) or None: the part and its condition's index in ``conditions``, when it fails
    more than the rest of the slice and the rest fails more than the outside (fitting split).
    """
    mask = np.asarray(mask, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    screen = _Screen(mask, conditions, errors, fit, min_support)
    for j, sub, rest in screen.proposals():
        if not screen.fails_more(j, alpha):
            continue
        if not _fails_more(rest, ~mask, errors, fit, alpha):
            return None  # the rest fails like the outside: narrow() cuts it away instead
        return sub, j
    return None


#: Share of another slice's fitting members that must meet the condition of a part for the
#: part to join that slice (:func:`joins_part`): the same cause, named the same way.
PART_JOIN_SHARE = 0.9


def joins_part(part, condition_mask, host, errors, fit_rows, *, merge_overlap: float = 0.5):
    """Whether the part of one slice that fails most is the same failure as another slice.

    A haze that changes the predictions is found as two slices: the hazy images of one
    predicted class (whose women fail most: the part) and the hazy women of both classes,
    found incompletely by another view. They are one cause when the part overlaps the host
    (overlap coefficient at least ``merge_overlap``), the host's members meet the part's
    condition (at least :data:`PART_JOIN_SHARE` of them, fitting split: the same
    explanation) and the union fails alike (each side's coherence test, fitting split).

    Examples
    --------
    >>> rows = np.arange(1000)
    >>> women = rows % 2 == 0
    >>> errors = (rows < 300) & women & (rows % 10 < 6) | (rows % 20 == 1)
    >>> part = (rows < 200) & women          # hazy women of one class
    >>> host = (rows >= 100) & (rows < 300) & women  # hazy women found by another view
    >>> fit = rows[rows % 4 < 2]
    >>> joins_part(part, women, host, errors, fit)
    True
    >>> joins_part(part, women, (rows >= 100) & (rows < 300), errors, fit)  # men in the host
    False
    """
    part, host = np.asarray(part, dtype=bool), np.asarray(host, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    if _overlap(part, host) < merge_overlap or not (part & ~host).any():
        return False
    members = host & fit
    if not members.any() or np.asarray(condition_mask)[members].mean() < PART_JOIN_SHARE:
        return False
    union = part | host
    return _coherent(host, union, errors, fit) and _coherent(part, union, errors, fit)


def _fails_more(a, b, errors, fit, alpha) -> bool:
    """Whether ``a`` fails significantly more than ``b`` on the fitting split (one-sided Fisher)."""
    return bool(_fails_more_p(a, b, errors, fit) < alpha)


def _fails_more_p(a, b, errors, rows) -> float:
    """One-sided Fisher p-value that ``a`` fails more than ``b`` among ``rows`` (1 when either is empty)."""
    a, b = a & rows, b & rows
    n_a, n_b = int(a.sum()), int(b.sum())
    if n_a == 0 or n_b == 0:
        return 1.0
    e_a, e_b = int(errors[a].sum()), int(errors[b].sum())
    return float(fails_more_p(e_a, n_a, e_a + e_b, n_a + n_b))


#: How many times as often as the samples outside a slice and its rule's group the rest of
#: that group must fail to join the slice when it fails less than the slice itself
#: (:func:`extend_to_rule`). Chosen on the benchmark's tuning set (3: 0.608 precision@10,
#: 4 and 6: 0.619).
CAUSE_LIFT = 4.0


def lift_over_rest(added, group, errors, fit) -> float:
    """Error rate of ``added`` over that of the samples outside ``group`` (fitting split).

    The rate outside is smoothed (half an error in one more sample), so that a group
    outside which nothing fails gives a finite lift.

    Examples
    --------
    >>> errors = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    >>> added = np.arange(12) < 4
    >>> round(lift_over_rest(added, added, errors, np.ones(12, bool)), 2)
    3.0
    """
    outside = ~group & fit
    rate_outside = (errors[outside].sum() + 0.5) / (outside.sum() + 1)
    return float(errors[added & fit].mean() / rate_outside) if (added & fit).any() else 0.0


#: A rule widens a slice to samples that lie nearer the slice than every image does, by at
#: least this share of the way (:func:`looks_alike`).
LOOK_ALIKE = 0.5
#: A slice spreading within this share of every image's spread looks like every image.
LOOKS_LIKE_ANY = 0.1


def _distance(looks, rows, centre) -> float:
    """Mean L1 distance of ``rows`` of the appearance measures to ``centre``."""
    return float(np.abs(looks[rows] - centre).sum(axis=1).mean())


def looks_alike(looks, mask, added) -> bool:
    """Whether the samples a rule adds to a slice look like its members (where measured).

    A rule names a cause by what its members share, and other samples share it too: a
    haze is blurred, and so is an eye with a cataract, which the network fails as well. A
    slice of hazy images widened to "image sharpness <= 263" took 55 such eyes (36%
    errors) beside the 148 hazy ones and became two causes read as one (development
    benchmark, ``odir/conjunction/small`` draw 1). In the appearance measures (standardised)
    the haze is tight: its images lie 2.8 from their median, every image 9.6 from it.

    The added samples join when they look like the slice in either of two ways:

    - they lie nearer the slice's median than every image does, by at least
      :data:`LOOK_ALIKE` of the way (the hazy images of another class);
    - they lie nearer the slice's median than the images' median: the same artifact
      elsewhere. Glare at the edge of a picture differs from the glare at its centre in
      where the light falls, so it is no nearer the central glare than an average image
      is, but it is nearer the glare than it is to an ordinary image.

    The cataract eyes are neither: they lie nearer the ordinary images. A slice found in
    the report or the metadata spreads like every image (within :data:`LOOKS_LIKE_ANY`):
    nothing to compare by, and the check changes nothing there. ``looks`` is None where the
    images are not measured: nothing is checked.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> looks = rng.normal(size=(400, 6))
    >>> looks[:100] = looks[:100] * 0.2 + 3  # a tight artefact
    >>> slice_, more = np.arange(400) < 60, (np.arange(400) >= 60) & (np.arange(400) < 100)
    >>> looks_alike(looks, slice_, more), looks_alike(looks, slice_, np.arange(400) >= 60)
    (True, False)
    >>> looks[60:100, :2] += 6  # the same artefact, where the slice's members never are
    >>> looks_alike(looks, slice_, more)
    True
    >>> anyone = np.arange(400) >= 100
    >>> looks_alike(looks, anyone & (np.arange(400) % 2 == 0), anyone & (np.arange(400) % 2 == 1))
    True
    """
    if looks is None or mask.sum() < 2 or not added.any():
        return True
    centre = np.median(looks[mask], axis=0)
    own = _distance(looks, mask, centre)
    every = _distance(looks, slice(None), centre)
    if every - own < LOOKS_LIKE_ANY * every:
        return True
    near = _distance(looks, added, centre)
    return near - own <= LOOK_ALIKE * (every - own) or near <= _distance(
        looks, added, np.median(looks, axis=0)
    )


def widening_reason(before, after, errors, fit_rows) -> str:
    """Why :func:`extend_to_rule` widened ``before`` to ``after``, for the slice's notes.

    Examples
    --------
    >>> errors = np.array([1] * 10 + [1, 0] * 10 + ([1] + [0] * 9) * 7, bool)
    >>> before, after = np.arange(100) < 10, np.arange(100) < 30
    >>> widening_reason(before, after, errors, np.arange(100))
    'they fail 5 times as often as the samples outside, fitting split; the slice itself, chosen where the errors are, fails more'
    """
    fit = _rows_mask(fit_rows, len(errors))
    errors = np.asarray(errors, dtype=bool)
    if _coherent(before, after, errors, fit):
        return "they fail alike, fitting split"
    lift = lift_over_rest(after & ~before, after, errors, fit)
    return (
        f"they fail {lift:.0f} times as often as the samples outside, fitting split; the slice "
        "itself, chosen where the errors are, fails more"
    )


def extend_to_rule(
    mask, conditions, errors, fit_rows, clauses, *, alpha: float = 0.05, lift: float = CAUSE_LIFT,
    looks=None,
):  # fmt: skip
    """The slice joined by the samples its rule (or a more general form of it) selects.

    Clustering may leave part of a cause outside the slice (site C's chest-tube reports
    split over components, half of them in no confirmed candidate), while the rule that
    describes the slice names the whole cause. Starting from the rule's clauses,
    conditions are dropped one at a time (the most general form first) while the samples
    the rule adds fail more than the samples outside both (one-sided Fisher test at
    ``alpha``) and either like the slice (two-sided, at :data:`COHERENCE_LEVEL`) or at
    least ``lift`` times as often as the samples outside, all on the fitting split, and
    where ``looks`` (the standardised appearance measures, one row per sample) is given,
    look like the slice (:func:`looks_alike`); the slice is then widened to that rule's
    members.

    Why the second way in: the slice's members were chosen where the errors are (the
    slicer weighs them), so it may be the erring part of a cause. Hazy images whose labels
    are unreliable fail at 45%, their erring part at 100%: the rest of the hazy images
    never fail *like* that part, yet the haze is the cause a clinician can act on, and
    they fail ten times as often as the clear images.

    Returns
    -------
    mask : ndarray of bool
    clauses : list of tuple of int
        The rule that widened it (empty when nothing qualified).

    Examples
    --------
    >>> from silentscope.slices.rules import condition_matrix
    >>> import pandas as pd
    >>> n = 1600
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"site": rng.choice(list("ABCD"), n), "sex": rng.choice(["F", "M"], n)})
    >>> texts = np.where(rng.random(n) < 0.3, "Chest tube.", "Pacemaker.")
    >>> conditions = condition_matrix(frame, ["site", "sex"], texts)
    >>> cause = (frame["site"] == "C").to_numpy() & (texts == "Chest tube.")
    >>> errors = rng.random(n) < np.where(cause, 0.7, 0.08)
    >>> found = cause & (frame["sex"] == "F").to_numpy()  # the clusters found half of it
    >>> c, t, s = (list(conditions.labels).index(x) for x in
    ...            ("site = C", 'report mentions "chest tube"', "sex = F"))
    >>> wider, rule = extend_to_rule(found, conditions, errors, np.arange(0, n, 2), [(c, t, s)])
    >>> bool((wider == cause).all()), [str(conditions.labels[j]) for j in rule[0]]
    (True, ['site = C', 'report mentions "chest tube"'])
    """
    from silentscope.slices.rules import _rule_mask

    mask = np.asarray(mask, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    fit = _rows_mask(fit_rows, len(errors))
    matrix = conditions.matrix.tocsc()

    def acceptable(candidate) -> bool:
        selected = _rule_mask(matrix, candidate)
        added = selected & ~mask
        if not (added & fit).any():
            return False
        return (
            _fails_more(added, ~(mask | added), errors, fit, alpha)
            and (
                _coherent(mask, mask | added, errors, fit)
                or lift_over_rest(added, mask | added, errors, fit) >= lift
            )
            and looks_alike(looks, mask, added)
        )

    best: list[tuple[int, ...]] = []
    current = [tuple(clause) for clause in clauses]
    if current and acceptable(current):
        best = current
    while True:
        options = []
        for i, clause in enumerate(current):
            if len(clause) < 2:
                continue
            for j in clause:
                candidate = [*current[:i], tuple(c for c in clause if c != j), *current[i + 1 :]]
                support = int((_rule_mask(matrix, candidate) & fit).sum())
                options.append((support, candidate))
        chosen = None
        for _, candidate in sorted(options, key=lambda item: -item[0]):
            if acceptable(candidate):
                chosen = candidate
                break
        if chosen is None:
            break
        current = best = chosen
    if not best:
        return mask, []
    return mask | _rule_mask(matrix, best), best


__all__ = [
    "COHERENCE_LEVEL",
    "Consolidated",
    "consolidate",
    "extend_to_rule",
    "lift_over_rest",
    "looks_alike",
    "widening_reason",
    "merge_slices",
    "absorb_nested",
    "narrow",
    "candidate_parts",
    "Part",
    "where_it_fails_most",
    "part_that_fails_most",
    "joins_part",
]
