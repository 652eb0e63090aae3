"""Slice discovery end to end: representation, slicer, stability, held-out confirmation, words.

:func:`discover_slices` is the Python API behind ``silentscope slices``. The statistical
guard: slices are *found* on one split of the samples and *confirmed* on the other, where
each candidate's error rate gets a Wilson interval and a one-sided Fisher test against
its complement, with Benjamini-Hochberg control of the false discovery rate over all
candidates; too-small slices are never tested, candidates of one cause are consolidated
into one slice (:mod:`~silentscope.slices.consolidate`) that is described by a rule in the
data's words (:mod:`~silentscope.slices.rules`), and each shown slice carries its
stability across seeds (and bootstrap resamples).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from silentscope.audit.health import (
    degenerate_analysis_note,
    model_health,
    warn_degenerate_analysis,
)
from silentscope.audit.roles import (
    analysable_columns,
    describe_left_out,
    roles_of,
    source_ids,
    text_label_derived,
)
from silentscope.audit.test_sets import IID
from silentscope.data.appearance import (
    APPEARANCE_COLUMNS,
    SIZE_LIMITED_COLUMNS,
    measured_columns,
)
from silentscope.metrics.statistics import benjamini_hochberg, wilson_interval
from silentscope.slices.consolidate import (
    UNION_CONTAINMENT,
    absorb_nested,
    consolidate,
    extend_to_rule,
    joins_part,
    merge_slices,
    narrow,
    part_that_fails_most,
    where_it_fails_most,
    widening_reason,
)
from silentscope.slices.explain import distinguishing_terms, metadata_enrichment, slice_examples
from silentscope.slices.notes import (
    caveat,
    expected_errors,
    nesting_note,
    prediction_note,
    silence_note,
)
from silentscope.slices.ranking import rank_slices
from silentscope.slices.representation import (
    MODALITIES,
    Representation,
    appearance_block,
    build_representation,
    class_blind_blocks,
)
from silentscope.slices.result import (
    DEGENERATE_WHAT,
    PART_NOTE,
    SliceReport,
    card_examples,
    hypotheses_tested,
    no_slice_note,
    reach_text,
    rule_description,
)
from silentscope.slices.rules import (
    condition_matrix,
    conjunction_text,
    learn_rule,
    rule_agreement,
    rule_text,
)
from silentscope.slices.slicers import make_slicer, membership_and_scores
from silentscope.slices.stability import slice_stability
from silentscope.slices.statistics import confirmation_reach, excess_error_pvalue
from silentscope.slices.views import JOINT_VIEW, MultiViewSlicer, modality_views
from silentscope.text.terms import TERM_NGRAMS, phrase_only_terms, term_matrix
from silentscope.text.tokens import unique_texts


@dataclass
class _Timer:
    progress: Callable[[str], None] | None
    timings: dict[str, float] = field(default_factory=dict)
    _stage: str | None = None
    _start: float = 0.0

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.timings[self._stage] = now - self._start
        self._stage, self._start = name, now
        if name != "done" and self.progress is not None:
            self.progress(name)


def available_modalities(
    audit, embeddings: Mapping[str, np.ndarray] | None = None
) -> tuple[str, ...]:
    """The built-in modalities an AuditSet (plus user embeddings) can provide.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a"], test_set=["iid"], label=[0], logits=[[2.0, 0.0]],
    ...                  class_names=["n", "y"], text=["No effusion."])
    >>> available_modalities(audit)
    ('text',)
    """
    embeddings = dict(embeddings or {})
    columns = list(audit.metadata.columns) if audit.has("metadata") else []
    measured = measured_columns(audit.metadata if columns else None)
    present = {
        "image": audit.features is not None or "image" in embeddings,
        "text": audit.text is not None or "text" in embeddings,
        "metadata": len(columns) > len(measured) or "metadata" in embeddings,
        "appearance": bool(measured) or "appearance" in embeddings,
    }
    extra = tuple(name for name in embeddings if name not in MODALITIES)
    return tuple(name for name in MODALITIES if present[name]) + extra


def _effective_counts(member, errors, units) -> tuple[int, float, float, float]:
    """Samples, units, effective samples and effective errors of a group (Rao and Scott 1992).

    Rows of one unit (both eyes of a patient, the corrupted copies of one image) are not
    independent: the group's error rate has the variance of a ratio estimator over units,
    and its design effect ``d`` (that variance over the binomial one, at least 1) divides
    the counts. Copies that always fail together give ``d`` near their number (each unit
    counted once); units whose rows fail independently give ``d`` near 1.
    """
    n, e = int(member.sum()), float(errors[member].sum())
    if units is None or n == 0:
        return n, n, float(n), e
    codes, index = np.unique(units[member], return_inverse=True)
    k = len(codes)
    sizes = np.bincount(index).astype(float)
    wrong = np.bincount(index, weights=errors[member].astype(float))
    rate = e / n
    binomial = rate * (1 - rate) / n
    design = 1.0
    if k > 1 and binomial > 0:
        clustered = k / (k - 1) * ((wrong - rate * sizes) ** 2).sum() / n**2
        design = max(1.0, clustered / binomial)
    return n, k, n / design, e / design


def _confirm(member, errors, units=None) -> dict:
    """Held-out statistics of a slice, with rows of one independent unit not counted as many.

    The interval and the test use effective counts (:func:`_effective_counts`): both eyes
    of a patient or the corrupted copies of one image weigh as much as their errors are
    independent, one sample when they always agree.
    """
    n_in, k_in, n_eff, e_eff = _effective_counts(member, errors, units)
    n_out, _, m_eff, f_eff = _effective_counts(~member, errors, units)
    n_eff_in, n_eff_out = int(round(n_eff)), int(round(m_eff))
    e_in = min(int(round(e_eff)), n_eff_in)
    e_out = min(int(round(f_eff)), n_eff_out)
    low, high = wilson_interval(e_in, n_eff_in, allow_empty=True)
    return {
        "n_confirm": n_in,
        "units_confirm": k_in,
        "effective_confirm": n_eff,
        "errors_confirm": int(errors[member].sum()),
        "error_rate": errors[member].mean() if n_in else np.nan,
        "ci_low": float(low),
        "ci_high": float(high),
        "complement_error_rate": errors[~member].mean() if n_out else np.nan,
        "p_value": excess_error_pvalue(e_in, n_eff_in, e_out, n_eff_out),
    }


def _scope(chosen_sets, default: bool) -> str:
    """What was analysed, in words (saved with the slices and printed)."""
    if len(chosen_sets) == 1:
        what = f"test set {chosen_sets[0]} only"
    else:
        what = f"test sets {', '.join(chosen_sets)} pooled (copies of one image count once)"
    if default and chosen_sets == [IID]:
        return what + " (default: other test sets are analysed one at a time with test_sets)"
    return what


def independent_units(audit) -> tuple[np.ndarray, str]:
    """The independent unit of each sample, and its name: patient, else source image.

    The patient is an identifier column (:mod:`silentscope.audit.roles`) that holds several
    samples per value (both eyes, several visits; a name with ``patient`` or ``subject``
    first); without one, the unit is the source image, so the corrupted or shifted copies
    ``<set>:<id>`` of one image are one unit. Slice discovery splits and counts by unit.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b", "c"], test_set=["iid"] * 3, label=[0, 1, 0],
    ...     logits=np.eye(2)[[0, 1, 1]] * 3, class_names=["n", "y"],
    ...     metadata=pd.DataFrame({"patient_id": ["p1", "p1", "p2"], "age": [50, 50, 60]}))
    >>> units, name = independent_units(audit)
    >>> units.tolist(), name
    (['p1', 'p1', 'p2'], 'patient_id')
    """
    sources = source_ids(audit.sample_id, audit.test_set)
    if audit.has("metadata"):
        identifiers = [
            name
            for name, role in roles_of(audit).items()
            if role.role == "identifier" and name in audit.metadata.columns
        ]
        identifiers.sort(key=lambda name: ("patient" not in name and "subject" not in name, name))
        for name in identifiers:
            values = audit.metadata[name]
            if values.isna().any():
                continue
            per_value = pd.Series(sources).groupby(values.astype(str).to_numpy()).nunique()
            if (per_value > 1).any():
                return values.astype(str).to_numpy(), str(name)
    return sources, "source image"


def unit_note(unit_name: str, n_units: int, n_rows: int) -> str:
    """How the fitting and confirmation splits were drawn, and what that assumes.

    When every row is its own unit (no identifier holds several rows, no corrupted copies),
    the note says so: two eyes of one patient given without a patient column are counted
    as independent, which overstates every interval and q-value.

    Examples
    --------
    >>> unit_note("source image", 3, 3)[:60]
    'fitting and confirmation splits by sample: each of the 3 sam'
    """
    if n_units == n_rows:
        return (
            f"fitting and confirmation splits by sample: each of the {n_rows} samples is its own "
            "unit (no identifier column holds several samples, and no test set holds copies of "
            "another's images); if several samples come from one patient (both eyes, several "
            "visits), add the patient identifier as a metadata column, or intervals and q-values "
            "count them as independent evidence"
        )
    return (
        f"fitting and confirmation splits by {unit_name} ({n_units} units, none on both sides); "
        f"held-out intervals and tests count a {unit_name}'s rows as one sample as far as their "
        "errors agree (design effect, Rao and Scott 1992)"
    )


def split_by_unit(units, errors, confirm_fraction: float, random_state: int = 0):
    """Fitting and confirmation rows with every unit on one side only.

    Units are stratified by whether any of their samples is wrong, so both sides keep
    errors to find and to confirm.

    Examples
    --------
    >>> units = np.repeat(np.arange(50), 2)
    >>> fit, confirm = split_by_unit(units, np.arange(100) % 7 == 0, 0.5)
    >>> set(units[fit]) & set(units[confirm])
    set()
    """
    units = np.asarray(units)
    codes, index = np.unique(units, return_inverse=True)
    rows = np.arange(len(units))
    if len(codes) == len(units):  # one sample per unit: the stratified row split
        fit, confirm = train_test_split(
            rows, test_size=confirm_fraction, stratify=errors, random_state=random_state
        )
        return fit, confirm
    failing = np.bincount(index, weights=np.asarray(errors, float)) > 0
    stratify = failing if min(failing.sum(), (~failing).sum()) >= 2 else None
    fit_units, _ = train_test_split(
        np.arange(len(codes)), test_size=confirm_fraction, stratify=stratify,
        random_state=random_state,
    )  # fmt: skip
    in_fit = np.isin(index, fit_units)
    return rows[in_fit], rows[~in_fit]


def _merge(
    order: list[int], membership: np.ndarray, threshold: float
) -> list[tuple[int, list[int]]]:
    """Greedy merge in rank order: a slice overlapping a kept one (overlap coefficient) joins it.

    The kept slice stays as it was tested; it is not widened to the union. A broad slice
    that contains a specific one (e.g. "all abnormal images" around "abnormal images of
    women over 65", as per-modality views produce) would otherwise dilute it.
    """
    kept: list[tuple[int, list[int]]] = []
    for k in order:
        mask = membership[:, k]
        for keeper, absorbed in kept:
            other = membership[:, keeper]
            overlap = (mask & other).sum() / max(min(mask.sum(), other.sum()), 1)
            if overlap >= threshold:
                absorbed.append(k)
                break
        else:
            kept.append((k, []))
    return kept


def discover_slices(
    audit,
    modalities: Sequence[str] | None = None,
    *,
    test_sets: Sequence[str] | None = None,
    slicer: str = "error_mixture",
    slicer_params: Mapping | None = None,
    fusion: str = "weighted",
    per_modality: bool = True,
    class_blind: bool = True,
    weights: Mapping[str, float] | None = None,
    n_components: int = 32,
    embeddings: Mapping[str, np.ndarray] | None = None,
    text_embedding: str = "tfidf_svd",
    metadata_columns: Sequence[str] | None = None,
    keep_label_derived: bool = False,
    confirm_fraction: float = 0.5,
    n_seeds: int = 5,
    n_resamples: int = 0,
    min_support: int = 10,
    alpha: float = 0.05,
    merge_overlap: float = 0.5,
    max_slices: int = 10,
    n_terms: int = 6,
    n_examples: int = 6,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> SliceReport:
    """Find, confirm and explain the slices where a classifier fails systematically.

    Parameters
    ----------
    audit : AuditSet
    modalities : sequence of str, optional
        Any of ``image`` (the classifier's features or ``embeddings["image"]``), ``text``,
        ``metadata``, or names of extra ``embeddings``; default all available.
    test_sets : sequence of str, optional
        Test sets to analyse; default every set but the validation split and the new-class
        (``ood/``) sets, whose samples have no known class (naming one is an error); the sets
        analysed are recorded in ``settings["test_sets"]``.
    slicer : str, default="error_mixture"
        A name in :data:`~silentscope.slices.SLICERS`.
    slicer_params : mapping, optional
        Slicer hyper-parameters (e.g. ``{"n_components": 25, "gamma": 10}``). The
        mixture's ``n_components`` defaults to :func:`default_n_components` of the
        fitting split's size, its ``feature_weights`` to the representation's.
    fusion, weights, n_components, embeddings, text_embedding, metadata_columns
        Representation settings, see :func:`~silentscope.slices.build_representation`.
    keep_label_derived : bool, default=False
        Keep metadata columns and report text that restate the label
        (:mod:`silentscope.audit.roles`). By default they are left out of the
        representation and the explanations, with a note saying why: a slice explained by
        the label itself only restates the per-class error table. Identifiers, row indices
        and file names are always left out (declare another role to use one).
    per_modality : bool, default=True
        Also fit the slicer on each modality's block alone and pool the candidate slices
        with those of the fused representation
        (:class:`~silentscope.slices.views.MultiViewSlicer`), so that a failure visible
        in one modality only is not diluted by the others. Every slice names the views
        that found it. Only the ``weighted`` fusion has blocks to fit separately.
    class_blind : bool, default=True
        Also fit every view class-blind (error-aware mixture only): on each block
        centred per true class and whitened (:func:`~silentscope.slices.representation.class_blind_blocks`),
        with an error term instead of the label and prediction terms, and members assigned
        from the representation alone; the views are named ``<view> (any class)``. The
        label and prediction terms make components pure in one class, so a cause that
        spans every class (an image artefact, a device) comes back as one small piece
        per class, often too small to confirm; its class-blind component holds it whole.
    confirm_fraction : float, default=0.5
        Share of samples held out (stratified by correctness) to confirm slices on.
    n_seeds : int, default=5
        The slicer is fitted with this many seeds in every view and the aligned fits
        vote (:class:`~silentscope.slices.consensus.ConsensusSlicer`): a sample is in a
        slice when most seeds put it there, and each slice's stability is its mean
        Jaccard index to the aligned slice of every seed's fit.
    n_resamples : int, default=0
        Bootstrap refits for resampling stability.
    min_support : int, default=10
        Fewest members a slice needs in the fitting split and in the confirmation split.
    alpha : float, default=0.05
        False discovery rate (Benjamini-Hochberg) for the confirmation tests.
    merge_overlap : float, default=0.5
        Confirmed slices are consolidated into one slice per cause
        (:func:`~silentscope.slices.consolidate.consolidate`): a slice joins a better one
        when their overlap coefficient ``|A & B| / min(|A|, |B|)`` reaches this (members
        and statistics stay the better one's), when both are described by rules sharing a
        condition and their union fails coherently (the better one is widened to the union
        and its held-out statistics recomputed; its q-value stays its own), or when its
        excess error lies inside the better one. Each slice lists the candidates it
        absorbed (``absorbed``, ``merged_from``, ``consolidation``) and carries a ``rule``
        learned on the fitting split with held-out ``rule_precision``/``rule_recall``.
        Where the metadata hold the image appearance measures, a slice is widened (to its
        rule, or to a slice it overlaps) only by images that look like its members
        (:func:`~silentscope.slices.consolidate.looks_alike`), whichever ``modalities``
        the clustering used; measures missing on some image are said in ``notes``.
    max_slices : int, default=10
        Most slices shown.
    n_terms, n_examples : int
        Report terms and example samples per slice.
    random_state : int, default=0
    progress : callable, optional
        Called with the name of each stage as it starts.

    Returns
    -------
    SliceReport

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> old = rng.random(n) < 0.25
    >>> label = rng.integers(0, 2, n)
    >>> wrong = rng.random(n) < np.where(old, 0.6, 0.05)
    >>> logits = np.eye(2)[np.where(wrong, 1 - label, label)] * 3
    >>> audit = AuditSet(sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n,
    ...     label=label, logits=logits, class_names=["normal", "disease"],
    ...     metadata=pd.DataFrame({"age": np.where(old, 80, 40) + rng.integers(0, 5, n)}))
    >>> report = discover_slices(audit, n_seeds=2, min_support=10)
    >>> report.slices.iloc[0]["metadata"]
    'age > 44: 100% of slice vs 23% overall'
    """
    timer = _Timer(progress)
    timer.stage("selecting samples")
    _check_settings(confirm_fraction, min_support, alpha, merge_overlap, max_slices)
    if test_sets is None:  # new-class sets have no known class, which the slicers need
        usable = [name for name in audit.evaluation_sets() if not name.startswith("ood/")]
        # corrupted and shifted copies are analysed per test set unless asked: pooled, the
        # copies of one image count as several samples and a shifted set reads as a slice
        chosen_sets = [IID] if IID in usable else usable
    else:
        chosen_sets = list(test_sets)
    ood = [name for name in chosen_sets if name.startswith("ood/")]
    if ood:
        raise ValueError(
            f"slice discovery needs each sample's class, but {', '.join(ood)} hold new-class samples "
            "(label unknown to the classifier, each a failure); leave the ood/ test sets out of test_sets"
        )
    if not chosen_sets:
        raise ValueError(
            "the AuditSet has only a validation split; pass test_sets=['val'] to slice it"
        )
    data = audit.select(*chosen_sets) if set(chosen_sets) != set(audit.test_sets) else audit
    errors = ~data.correct
    if errors.sum() < 4 or (~errors).sum() < 4:
        raise ValueError(
            f"slice discovery needs at least 4 errors and 4 correct predictions; the selected "
            f"test sets have {int(errors.sum())} errors in {data.n_samples} samples"
            + (
                " (with a continuous risk every sample whose risk is above 0 counts as an "
                "error: threshold it first, e.g. dataclasses.replace(audit, "
                "risk=(audit.risk > 0.2).astype(float)))"
                if data.risk is not None
                else ""
            )
        )
    health = model_health(audit)
    warn_degenerate_analysis(health, DEGENERATE_WHAT)
    asked = modalities is not None
    modalities = tuple(modalities) if asked else available_modalities(data, embeddings)
    inputs = _analysable_inputs(data, modalities, embeddings, metadata_columns, keep_label_derived)
    modalities, metadata_columns, text_reason, input_notes = inputs
    if not asked:  # a modality that is the same for every analysed sample separates nothing
        constant = _constant_modalities(data, modalities, embeddings)
        modalities = tuple(m for m in modalities if m not in constant)
        input_notes = [
            *input_notes,
            *(
                f"the '{m}' modality was dropped: it is the same for every analysed sample"
                for m in constant
            ),
        ]
    if not modalities:
        raise ValueError(
            "this AuditSet has no features, text or analysable metadata to slice; add one of them"
            + (f" ({'; '.join(input_notes)})" if input_notes else "")
        )

    timer.stage("building the representation")
    representation = build_representation(
        data, modalities, fusion, weights, n_components, embeddings, text_embedding,
        metadata_columns, random_state,
    )  # fmt: skip
    X, y, proba = representation.matrix, data.label, data.probabilities

    timer.stage("fitting the slicer with every seed")
    units, unit_name = independent_units(data)
    fit_rows, confirm_rows = split_by_unit(units, errors, confirm_fraction, random_state)
    # the slicer is fitted on at most SLICER_FIT_ROWS samples of the fitting split (one
    # subsample, stratified by correctness, shared by all seeds); every sample is then
    # assigned, ranked on the fitting split and confirmed on the held-out split
    slicer_rows = fit_rows
    if len(fit_rows) > SLICER_FIT_ROWS:
        slicer_rows, _ = train_test_split(
            fit_rows, train_size=SLICER_FIT_ROWS, stratify=errors[fit_rows],
            random_state=random_state,
        )  # fmt: skip
        slicer_rows = np.sort(slicer_rows)
    blind = None
    if slicer == "error_mixture" and class_blind:
        # the class-blind views read a class-centred, whitened copy of every block
        blind_matrix, blind_blocks, blind_weights = class_blind_blocks(
            representation, y, slicer_rows
        )
        blind = (X.shape[1], blind_blocks, blind_weights)
        X = np.hstack([X, blind_matrix])
    Xf, yf, pf = X[slicer_rows], y[slicer_rows], proba[slicer_rows]
    # Members are assigned from the representation and the true label only, never from
    # the prediction: otherwise a slice "label 1, predicted 0" would be all errors on the
    # held-out split by construction and its confirmation would prove nothing.
    fitted = discovery_slicer(
        representation, slicer, slicer_params, n_fit=len(fit_rows), per_modality=per_modality,
        n_seeds=n_seeds, random_state=random_state, class_blind=blind,
    ).fit(Xf, yf, pf, errors[slicer_rows])  # fmt: skip
    views = fitted.views
    stability = fitted.stability_
    membership, scores = membership_and_scores(fitted, X, y)
    if n_resamples:
        timer.stage("refitting on bootstrap resamples")
        stability.resamples = _resample_stability(
            fitted, Xf, yf, pf, membership[slicer_rows], n_resamples, random_state
        )

    timer.stage("confirming on held-out samples")
    candidates = _candidates(
        membership, errors, fit_rows, confirm_rows, min_support, alpha, stability,
        fitted.slice_view_, units[confirm_rows],
    )  # fmt: skip

    timer.stage("explaining slices")
    conditions = _rule_conditions(
        data, metadata_columns, text_reason is None and data.text is not None
    )
    looks, looks_note = _looks(data)
    shown = _shown_slices(
        candidates, membership, errors, fit_rows, confirm_rows, conditions, merge_overlap,
        alpha, max_slices, random_state, min_support, units, looks=looks,
    )  # fmt: skip
    table, member_frame = _explain(
        data, shown, membership, scores, errors, n_terms, n_examples,
        metadata_columns, text_reason is None, conditions, fit_rows, confirm_rows, random_state,
        own_features="image" in modalities and "image" not in dict(embeddings or {}),
    )  # fmt: skip

    timer.stage("done")
    tested = hypotheses_tested(candidates)  # one row per distinct candidate tested
    settings = {
        "modalities": list(modalities), "test_sets": chosen_sets, "slicer": slicer,
        "slicer_params": dict(slicer_params or {}), "fusion": fusion,
        "views": list(views), "weights": dict(weights or {}),
        "n_components": n_components, "text_embedding": text_embedding,
        "confirm_fraction": confirm_fraction, "n_seeds": n_seeds, "n_resamples": n_resamples,
        "min_support": min_support, "alpha": alpha, "merge_overlap": merge_overlap,
        "max_slices": max_slices, "random_state": random_state,
        "metadata_columns": None if metadata_columns is None else list(metadata_columns),
        "keep_label_derived": keep_label_derived, "left_out_inputs": list(input_notes),
        "per_modality": per_modality, "class_blind": class_blind, "n_terms": n_terms, "n_examples": n_examples,
        "n_samples": int(data.n_samples), "n_errors": int(errors.sum()),
        "unit": unit_name, "n_units": int(len(np.unique(units))),
        "scope": _scope(chosen_sets, test_sets is None),
        "health": health.to_dict(),
        # what this run could confirm at all (said when it confirms nothing)
        "reach": confirmation_reach(
            errors[confirm_rows], len(tested), alpha, min_support,
            n_confirmed=tested["significant"].sum(),
        ),
    }  # fmt: skip
    # an empty table's sentence, saved for readers without this library's pandas side (viewer)
    settings["empty_note"] = no_slice_note(settings, candidates) if table.empty else ""
    # the slices found are not all there is: what a further slice would have needed
    further = "" if table.empty else reach_text(settings["reach"], "a further slice")
    return SliceReport(
        slices=table, candidates=candidates, membership=member_frame, settings=settings,
        notes=[
            *filter(None, [degenerate_analysis_note(health, DEGENERATE_WHAT)]),
            f"analysed: {settings['scope']}",
            unit_note(unit_name, settings["n_units"], len(units)),
            *input_notes, *representation.notes, *filter(None, [looks_note]),
            *([f"smaller or milder failures go unconfirmed: {further}"] if further else []),
        ],
        timings=dict(timer.timings), slicer=fitted,
        representation=representation, candidate_membership=membership,
    )  # fmt: skip


def rerun_arguments(settings: Mapping) -> dict:
    """The :func:`discover_slices` arguments that repeat a run from its saved ``settings``.

    ``settings`` is :attr:`SliceReport.settings` or the ``slices_settings`` artifact of a
    store: rerunning with these arguments on the same AuditSet gives the same slices. Only
    the arguments that were recorded are returned (the rest keep their defaults), and
    settings that are results rather than arguments (``views``, sample counts, notes,
    timings) are left out. Extra ``embeddings`` are not saved, so a run that used them
    cannot be repeated from its settings alone.

    Examples
    --------
    >>> rerun_arguments({"min_support": 10, "n_seeds": 5, "views": ["joint"], "notes": []})
    {'min_support': 10, 'n_seeds': 5}
    """
    import inspect

    accepted = set(inspect.signature(discover_slices).parameters) - {"audit", "progress"}
    arguments = {key: value for key, value in settings.items() if key in accepted}
    if "modalities" in arguments and arguments["modalities"] is not None:
        arguments["modalities"] = list(arguments["modalities"])
    return arguments


def settings_differences(saved: Mapping | None, settings: Mapping) -> list[str]:
    """The arguments in which a run differs from a saved one, e.g. ``min_support 5 (now 10)``.

    Examples
    --------
    >>> settings_differences({"min_support": 5, "alpha": 0.05}, {"min_support": 10, "alpha": 0.05})
    ['min_support 5 (now 10)']
    >>> settings_differences(None, {"min_support": 10})
    []
    """
    if saved is None:
        return []
    before, now = rerun_arguments(saved), rerun_arguments(settings)
    return [
        f"{key} {before[key]!r} (now {now.get(key)!r})"
        for key in before
        if before[key] != now.get(key)
    ]


def _check_settings(confirm_fraction, min_support, alpha, merge_overlap, max_slices) -> None:
    if not 0 < confirm_fraction < 1:
        raise ValueError(f"confirm_fraction must be in (0, 1), got {confirm_fraction}")
    if int(min_support) < 1 or int(max_slices) < 1:
        raise ValueError("min_support and max_slices must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < merge_overlap <= 1:
        raise ValueError(f"merge_overlap must be in (0, 1], got {merge_overlap}")


#: Most samples the slicer is fitted on (a stratified subsample of the fitting split);
#: the EM's cost grows with the samples, its estimates of 25 components do not improve
#: much beyond this.
SLICER_FIT_ROWS = 20_000

#: Variance floor of the error-aware mixture in discovery (see ErrorAwareMixture); chosen
#: on the planted scenarios of benchmarks/slices.py from 0, 0.1 and 0.3.
MIXTURE_VARIANCE_FLOOR = 0.3

#: Initialisation of the error-aware mixture in discovery: k-means on the errors and on
#: the correct samples separately, so that error regions start with their own components
#: (chosen on the planted scenarios of benchmarks/slices.py over scikit-learn's k-means
#: start, with per-modality views: higher mean precision@10 on each of 3 splits;
#: docs/slices_results.md).
MIXTURE_INIT = "errors"


def default_n_components(n_fit: int) -> int:
    """Mixture components when not chosen: Domino's 25, fewer for small data (~80 samples each).

    Examples
    --------
    >>> default_n_components(600), default_n_components(100_000)
    (7, 25)
    """
    return int(max(4, min(25, n_fit // 80)))


def discovery_slicer(
    representation: Representation,
    slicer: str = "error_mixture",
    slicer_params: Mapping | None = None,
    *,
    n_fit: int,
    per_modality: bool = True,
    n_seeds: int = 5,
    random_state: int = 0,
    class_blind: tuple | None = None,
) -> MultiViewSlicer:
    """The unfitted slicer :func:`discover_slices` uses, with its defaults.

    A registered slicer with the discovery defaults for what ``slicer_params`` leaves
    out (the mixture's components for ``n_fit`` fitting samples, variance floor, error-
    seeded start; the representation's feature weights), as a consensus of ``n_seeds``
    seeds in every view (each modality and the joint one, or the joint one only).

    Examples
    --------
    >>> from silentscope.slices.representation import fuse_blocks
    >>> rng = np.random.default_rng(0)
    >>> rep = fuse_blocks({"image": rng.normal(size=(50, 6)), "text": rng.normal(size=(50, 3))},
    ...                   n_components=3)
    >>> model = discovery_slicer(rep, n_fit=400)
    >>> list(model.views), model.slicer.n_components, model.slicer.init_params
    (['image', 'text', 'joint'], 5, 'errors')
    """
    estimator = _with_defaults(slicer, slicer_params, representation, random_state, n_fit)
    views = modality_views(representation.blocks) if per_modality else {JOINT_VIEW: slice(None)}
    weights = estimator.get_params().get("feature_weights")
    view_params = {}
    if class_blind is not None:  # (offset, blocks, weights) of the class-blind columns
        offset, blocks, blind_weights = class_blind
        n_components = max(estimator.get_params()["n_components"], CLASS_BLIND_MIN_COMPONENTS)
        params = {
            "gamma": 0.0, "gamma_hat": 0.0, "error_weight": CLASS_BLIND_ERROR_WEIGHT,
            "init_params": "kmeans",
            "n_components": int(min(n_components, max(n_fit // 20, 1))),
        }  # fmt: skip
        stop = offset + len(blind_weights)
        for name in list(views):
            columns = np.arange(offset, stop) if name == JOINT_VIEW else (
                np.arange(blocks[name].start, blocks[name].stop) + offset
            )  # fmt: skip
            own = blind_weights[columns - offset]
            views[class_blind_view(name)] = columns
            view_params[class_blind_view(name)] = {**params, "feature_weights": own / own.mean()}
        if weights is not None:
            weights = np.r_[weights, np.ones(stop - offset)]
    return MultiViewSlicer(
        estimator, views, n_seeds, feature_weights=weights,
        random_state=random_state, view_params=view_params,
    )  # fmt: skip


#: Weight of the error term of the class-blind views (the label and prediction terms are
#: 0 there) and their fewest components; chosen on the tuning scenarios of
#: benchmarks/slices.py (docs/slices_results.md).
CLASS_BLIND_ERROR_WEIGHT = 3.0
CLASS_BLIND_MIN_COMPONENTS = 10


def class_blind_view(view: str) -> str:
    """The name of a view's class-blind twin.

    Examples
    --------
    >>> class_blind_view("image")
    'image (any class)'
    """
    return f"{view} (any class)"


def _with_defaults(
    name: str, params: Mapping | None, representation: Representation, random_state, n_fit: int
):
    params = dict(params or {})
    estimator = make_slicer(name, **params)
    if name == "error_mixture" and "n_components" not in params:
        estimator.set_params(n_components=default_n_components(n_fit))
    if name == "error_mixture" and "variance_floor" not in params:
        estimator.set_params(variance_floor=MIXTURE_VARIANCE_FLOOR)
    if name == "error_mixture" and "init_params" not in params:
        estimator.set_params(init_params=MIXTURE_INIT)
    if "feature_weights" in estimator.get_params() and "feature_weights" not in params:
        estimator.set_params(feature_weights=representation.dim_weights)
    if "random_state" not in params:
        estimator.set_params(random_state=random_state)
    return estimator


def _resample_stability(fitted, X, y, proba, reference, n_resamples, random_state):
    """Bootstrap refits of every view's slicer, matched to that view's slices (K, n_resamples)."""
    parts = []
    for name, consensus in fitted.consensus_.items():
        own = fitted.slice_view_ == name
        parts.append(
            slice_stability(
                consensus.slicer, X[:, fitted.columns_[name]], y, proba, reference[:, own],
                n_seeds=1, n_resamples=n_resamples, random_state=random_state,
                use_predictions=False,
            ).resamples
        )  # fmt: skip
    return np.vstack(parts)


def _candidates(
    membership, errors, fit_rows, confirm_rows, min_support, alpha, stability, views,
    confirm_units=None,
) -> pd.DataFrame:  # fmt: skip
    """Rank on the fitting split, test on the confirmation split, control the FDR."""
    ranked = rank_slices(membership[fit_rows], errors[fit_rows], min_support)
    overall = errors[fit_rows].mean()
    ranked = ranked[ranked["supported"] & (ranked["error_rate"] > overall)]
    records = []
    for row in ranked.itertuples():
        member = membership[confirm_rows, row.slice]
        record = {
            "slice": int(row.slice),
            "views": str(views[row.slice]),
            "size": int(membership[:, row.slice].sum()),
            "n_fit": int(row.size),
            "fit_error_rate": float(row.error_rate),
            **_confirm(member, errors[confirm_rows], confirm_units),
            "stability": float(stability.seed_stability[row.slice]),
            "resample_stability": float(stability.resample_stability[row.slice]),
        }
        if record["n_confirm"] < min_support:
            record["p_value"] = np.nan  # too small to test: never a discovery
        records.append(record)
    columns = [
        "slice", "views", "size", "n_fit", "fit_error_rate", "n_confirm", "units_confirm", "effective_confirm", "errors_confirm",
        "error_rate",
        "ci_low", "ci_high", "complement_error_rate", "p_value", "stability", "resample_stability",
    ]  # fmt: skip
    frame = pd.DataFrame(records, columns=columns)
    frame["duplicate_of"] = _first_identical(membership, frame["slice"].to_numpy())
    # identical candidates (two views, or two seeds' fits, that chose the same members) are
    # one hypothesis: counted once in the FDR, they no longer raise the bar for the others
    # (on the tuning scenarios 4-6 of 18 tested candidates were copies)
    distinct = frame["duplicate_of"].to_numpy() < 0
    p_values = frame["p_value"].to_numpy(dtype=np.float64)
    q_values = np.full(len(frame), np.nan)
    q_values[distinct] = benjamini_hochberg(p_values[distinct])
    copies = ~distinct
    if copies.any():  # a copy takes the q-value of the candidate it repeats
        where = pd.Index(frame["slice"]).get_indexer(frame["duplicate_of"][copies])
        q_values[copies] = q_values[where]
    frame["q_value"] = q_values
    frame["significant"] = frame["q_value"] <= alpha
    return frame


def _first_identical(membership, slices) -> np.ndarray:
    """For each candidate, the earlier candidate with exactly its members, else -1."""
    seen = {}
    first = np.array(
        [seen.setdefault(np.packbits(membership[:, k]).tobytes(), int(k)) for k in slices],
        dtype=np.int64,
    )
    return np.where(first == np.asarray(slices), -1, first)


#: A rule condition is part of a slice's explanation (its signature) when at least this
#: share of the slice's fitting members meet it ...
SIGNATURE_SHARE = 0.9
#: ... and at most this share of all fitting samples: "site = C" (100% of the slice, 25%
#: overall) explains a slice, "age > 54" (68% of it, 60% overall) does not, nor does
#: "sex = F" (half of all samples: at 0.5, pieces of one device were joined with an age
#: group of women by it; 0.35 was chosen on the tuning scenarios, docs/slices_results.md).
SIGNATURE_BASE = 0.35


def _signatures(conditions, membership, order, fit_rows, random_state) -> dict[int, set[str]]:
    """Each candidate's explanation: the defining conditions of its rule (fitting split)."""
    if conditions is None:
        return {}
    signatures = {}
    for k in order:
        member = membership[fit_rows, k]
        rule = learn_rule(
            conditions, membership[:, k], fit_rows, random_state=random_state, validate=False
        )
        chosen = set()
        for j in {j for clause in (rule.clauses if rule else ()) for j in clause}:
            hits = conditions.mask(j)[fit_rows]
            if hits[member].mean() >= SIGNATURE_SHARE and hits.mean() <= SIGNATURE_BASE:
                chosen.add(str(conditions.labels[j]))
        signatures[k] = chosen
    return signatures


#: Smallest precision and recall (against the slice, fitting split) of a rule that may
#: widen its slice to every sample it selects (:func:`extend_to_rule`).
RULE_AGREEMENT_TO_WIDEN = 0.5


def _looks(data) -> tuple[np.ndarray | None, str]:
    """The standardised appearance measures of the analysed images, and a note where unusable.

    Slices are widened by a rule only to samples that look like their members
    (:func:`~silentscope.slices.consolidate.looks_alike`). Without measures (no images)
    nothing is compared and nothing needs saying; measures that cannot be compared (missing
    on some image, the same on every image) are said in the report's notes, since slices
    are then widened as far as their rules reach.
    """
    if not data.has("metadata") or not measured_columns(data.metadata):
        return None, ""
    try:
        return appearance_block(data.metadata)[0], ""
    except ValueError as err:
        if "same for every image" in str(err):
            return None, ""  # no image looks otherwise: nothing to compare by
        # dark spots are not measured on small images by design (left out, not an error)
        checked = [c for c in measured_columns(data.metadata) if c not in SIZE_LIMITED_COLUMNS]
        values = data.metadata[checked].to_numpy(dtype=np.float64)
        missing = int((~np.isfinite(values)).any(axis=1).sum())
        return None, (
            f"the image appearance measures are missing on {missing} images, so slices were "
            "widened to what their rules select without checking that the added images look "
            "like the slice; measure every image (silentscope.data.appearance."
            "appearance_measures)"
        )


def _refine(
    group, conditions, errors, fit_rows, min_support, alpha, random_state, looks=None
) -> None:
    """Narrow a consolidated slice to where it fails, then widen it to what its rule names."""
    mask, added = narrow(
        group.mask, conditions, errors, fit_rows, min_support=min_support, alpha=alpha
    )
    if added:
        group.notes.append(f"narrowed to {conjunction_text(added)} (where it fails, fitting split)")
    rule = learn_rule(conditions, mask, fit_rows, random_state=random_state, validate=False)
    group.described = rule is not None and min(rule.fit_precision, rule.fit_recall) >= (
        RULE_AGREEMENT_TO_WIDEN
    )
    # only a rule that describes the slice may widen it: a slice found in the image (a
    # haze no word names) gets a best-effort rule ("report mentions cataract") that
    # selects other samples, which fail too, but for another reason
    if rule is not None and min(rule.fit_precision, rule.fit_recall) >= RULE_AGREEMENT_TO_WIDEN:
        # by its main clause only: "washed-out images OR (cataract AND left eye)" names two
        # causes that fail alike, and widening by both reported them as one slice
        before = mask
        mask, extension = extend_to_rule(
            mask, conditions, errors, fit_rows, [rule.main_clause(conditions, mask, fit_rows)],
            alpha=alpha, looks=looks,
        )  # fmt: skip
        if extension:
            group.notes.append(
                f"widened to every sample with {rule_text(conditions, extension)} "
                f"({widening_reason(before, mask, errors, fit_rows)})"
            )
            # the rule may name the cause's carrier and not the cause: every motion-blurred
            # image where only the men's fail (34% against 7%, and 4.5% outside). The widened
            # slice is narrowed again, so that it is the men's and not every blurred image
            mask, again = narrow(
                mask, conditions, errors, fit_rows, min_support=min_support, alpha=alpha
            )
            if again:
                group.notes.append(
                    f"then narrowed to {conjunction_text(again)} (where it fails, fitting split)"
                )
    group.mask = mask


def _shown_slices(
    candidates, membership, errors, fit_rows, confirm_rows, conditions, merge_overlap, alpha,
    max_slices, random_state=0, min_support=20, units=None, looks=None,
):  # fmt: skip
    """Consolidate the confirmed candidates (:mod:`~silentscope.slices.consolidate`), best first."""
    confirmed = candidates[candidates["significant"]].sort_values(
        "ci_low", ascending=False, kind="stable"
    )
    order = confirmed["slice"].tolist()
    working, narrowed = membership, {}
    if conditions is not None and order:
        # each candidate narrowed to where it fails before the candidates are compared: a
        # component of hazy images of both sexes, of which only the women fail, is the
        # hazy women's slice, not a part of another slice that shares its errors
        working = membership.copy()
        for k in order:
            mask, added = narrow(
                membership[:, k], conditions, errors, fit_rows, min_support=min_support,
                alpha=alpha,
            )  # fmt: skip
            if added:
                working[:, k] = mask
                narrowed[k] = (
                    f"narrowed to {conjunction_text(added)} (where it fails, fitting split)"
                )
    signatures = _signatures(conditions, working, order, fit_rows, random_state)
    # candidates a rule describes lead the walk: a candidate no rule describes (in the
    # classifier's features, the errors of several causes lie together where the network
    # predicts another class) would otherwise absorb the described ones by overlap and
    # report several causes as one slice (the demo: one slice, rule precision 47%)
    order = [k for k in order if signatures.get(k)] + [k for k in order if not signatures.get(k)]
    table = confirmed.set_index("slice")
    groups = consolidate(
        order, working, errors, fit_rows, signatures, merge_overlap=merge_overlap, alpha=alpha,
        looks=looks,
    )  # fmt: skip
    for group in groups:
        if group.slices[0] in narrowed:
            group.notes.insert(0, narrowed[group.slices[0]])
    if conditions is not None:
        for group in groups:
            _refine(group, conditions, errors, fit_rows, min_support, alpha, random_state, looks)
        groups = merge_slices(
            groups, errors, fit_rows, merge_overlap=merge_overlap, alpha=alpha, looks=looks
        )  # fmt: skip
        gave = [
            groups[i]  # the groups whose part joined another slice
            for i in _join_parts(
                groups, conditions, errors, fit_rows, min_support, alpha, merge_overlap,
                random_state, looks,
            )
        ]  # fmt: skip
        if gave:
            # a slice widened by a part may now repeat another slice: merged again
            groups = merge_slices(
                groups, errors, fit_rows, merge_overlap=merge_overlap, alpha=alpha, looks=looks
            )  # fmt: skip
    else:
        gave = []
    groups = absorb_nested(groups, errors, fit_rows)
    joined = {i for i, group in enumerate(groups) if any(group is g for g in gave)}
    owner = {k: group.slices[0] for group in groups for k in group.slices}
    shown, parts = [], []
    for index, group in enumerate(groups):
        keeper, absorbed = group.slices[0], group.slices[1:]
        record = table.loc[keeper].to_dict()
        record["slice"] = keeper
        mask = group.mask
        if (mask != membership[:, keeper]).any():
            # the consolidated slice's own held-out statistics (chosen on the fitting split
            # only); its q-value stays its best candidate's, never below its own p-value
            changed = _confirm(
                mask[confirm_rows], errors[confirm_rows],
                None if units is None else units[confirm_rows],
            )  # fmt: skip
            fit_members = mask[fit_rows]
            record.update(
                changed, size=int(mask.sum()), n_fit=int(fit_members.sum()),
                fit_error_rate=float(errors[fit_rows][fit_members].mean()),
            )  # fmt: skip
            record["q_value"] = max(record["q_value"], record["p_value"])
        # the wider slices whose part it took, by the candidate that now leads them
        record["joined_from"] = [owner.get(k) for k in group.took_parts]
        record["absorbed"] = len(absorbed)
        record["merged_from"] = ",".join(str(k) for k in absorbed)
        record["consolidation"] = "; ".join(
            [f"{k}: {group.reasons[k]}" for k in absorbed if k in group.reasons] + group.notes
        )
        # the views whose candidates make up its members (the caveat's evidence): its own,
        # and those of candidates that widened it; absorbed look-alikes add none
        widening = ("same explanation", "overlap, union fails alike")
        record["member_views"] = ", ".join(
            [
                record["views"],
                *(table.loc[k, "views"] for k in absorbed if group.reasons.get(k) in widening),
            ]
        )
        # every view that found the slice or a slice merged into it, in rank order
        found = [record["views"], *table.loc[absorbed, "views"]]
        record["views"] = ", ".join(dict.fromkeys(", ".join(found).split(", ")))
        shown.append((record, mask, None))
        if conditions is not None and index not in joined:
            part = where_it_fails_most(
                mask, conditions, errors, fit_rows, confirm_rows, min_support=min_support,
                alpha=alpha,
            )  # fmt: skip
            if part is not None:
                parts.append((len(shown) - 1, part))
    for parent, part in parts:
        _add_part(shown, parent, part, errors, fit_rows, confirm_rows, units)
    return _first_slices(shown, max_slices)


def _add_part(shown, parent, part, errors, fit_rows, confirm_rows, units):
    """List the part of a slice that fails most beside it, unless another slice holds it.

    On a skin-lesion network that misses melanoma, the melanoma slice was reported with
    four "parts" of other, mixed slices, each a group of melanomas inside it: one failure
    read as five. A part that lies inside another confirmed slice (at least
    :data:`~silentscope.slices.consolidate.UNION_CONTAINMENT` of its members) is that
    slice's finding; its wider slice's note says so. Half inside is not enough: hazy
    women of every class, half of them in a failing class's slice, are a finding of
    their own.
    """
    record, mask, _ = shown[parent]
    holders = [
        other for index, (other, members, up) in enumerate(shown)
        if up is None and index != parent
        and (part.mask & members).sum() >= UNION_CONTAINMENT * part.mask.sum()
    ]  # fmt: skip
    if holders:
        note = (
            f"where it fails most ({part.condition}, {int(part.mask.sum())} samples) lies "
            f"within another confirmed slice ({holders[0]['size']} samples): not listed apart"
        )
        record["consolidation"] = "; ".join(filter(None, [record["consolidation"], note]))
        record["within"] = holders[0]["slice"]  # named by its rank once ranks are final
        return
    child, members = _part_record(record, mask, *part, errors, fit_rows, confirm_rows, units)
    shown.append((child, members, parent))


def _first_slices(shown, max_slices):
    """The ``max_slices`` slices with the highest held-out lower bound, best first.

    A part is kept only with its wider slice (its note says that slice is reported too).
    """
    order = sorted(range(len(shown)), key=lambda i: -shown[i][0]["ci_low"])
    chosen: list[int] = []
    for i in order:
        parent = shown[i][2]
        needed = [i] if parent is None or parent in chosen else [parent, i]
        if i in chosen or len(chosen) + len(needed) > int(max_slices):
            continue
        chosen += needed
    chosen.sort(key=lambda i: -shown[i][0]["ci_low"])
    return [shown[i][:2] for i in chosen]


def _name_holders(rows):
    """Say which listed slice holds the part a slice's note says is not listed apart, which
    listed slice a listed part is the worst part of, and whose part a slice took.

    "Lies within another confirmed slice" sends the reader searching; "lies within slice
    3" does not. A holder that ``max_slices`` cut is said to be beyond the list.
    """
    ranks = {
        row["slice"]: row["rank"] for row in rows if not row["consolidation"].startswith(PART_NOTE)
    }
    for row in rows:
        # a listed part carries its wider slice's id, and that slice is always listed too
        if row["consolidation"].startswith(PART_NOTE) and row["slice"] in ranks:
            row["consolidation"] = (
                row["consolidation"]
                .replace(f"{PART_NOTE} (", f"{PART_NOTE} (slice {ranks[row['slice']]}, ", 1)
                .replace(" samples, also reported)", " samples)", 1)
            )
        for wider in row.pop("joined_from", None) or []:
            row["consolidation"] = _name_wider(
                row["consolidation"], wider, row["slice"], ranks, len(rows)
            )
        holder = row.pop("within", None)
        if holder is None:
            continue
        old = "lies within another confirmed slice ("
        new = (
            f"lies within slice {ranks[holder]} ("
            if holder in ranks
            else f"lies within a confirmed slice beyond the {len(rows)} listed ("
        )
        row["consolidation"] = row["consolidation"].replace(old, new)
    return rows


#: How the note begins that says a slice took another slice's worst part (:func:`_join_parts`).
JOINED_NOTE = "joined with where a wider slice"


def _name_wider(text, wider, own, ranks, listed):
    """Name, in the next joined-part note of ``text``, the wider slice by its final rank.

    The wider slice is the one now led by candidate ``wider``: listed (its rank), beyond the
    list (``max_slices`` cut it), or this very slice (merged into it after the join).
    """
    said = re.search(rf"{JOINED_NOTE} \((\d+) samples, also reported\)", text)
    if said is None:
        return text
    size = said.group(1)
    if wider == own:
        named = f"{JOINED_NOTE} since merged into this one ({size} samples)"
    elif wider in ranks:
        named = f"{JOINED_NOTE} (slice {ranks[wider]}, {size} samples)"
    else:
        named = f"{JOINED_NOTE} ({size} samples, beyond the {listed} listed)"
    return text[: said.start()] + named + text[said.end() :]


def _join_parts(
    groups, conditions, errors, fit_rows, min_support, alpha, merge_overlap, random_state,
    looks=None,
):  # fmt: skip
    """Join the part of a slice that fails most to another slice that is the same failure.

    A haze that changes the predictions comes back as the hazy images of one predicted
    class, whose women fail most, and as (part of) the hazy women of every class found by
    another view: reported apart, one cause reads as two. When the part is that other
    slice's failure (:func:`~silentscope.slices.consolidate.joins_part`, fitting split),
    the other slice is widened by it and refined again (narrowed, widened to its rule);
    the wider slice stays as it is and its part is not reported beside it.

    Returns
    -------
    set of int: the groups whose part was joined elsewhere.
    """
    joined = set()
    for index, group in enumerate(groups):
        proposal = part_that_fails_most(
            group.mask, conditions, errors, fit_rows, min_support=min_support, alpha=alpha
        )
        if proposal is None:
            continue
        part, j = proposal
        for host in groups:
            if host is group or not joins_part(
                part, conditions.mask(j), host.mask, errors, fit_rows, merge_overlap=merge_overlap
            ):
                continue
            host.mask = host.mask | part
            host.notes.append(
                f"{JOINED_NOTE} ({int(group.mask.sum())} samples, also reported) fails "
                f"most: {conditions.labels[j]} (the same failure, fitting split)"
            )
            host.took_parts.append(group.slices[0])  # named by its rank once ranks are final
            _refine(host, conditions, errors, fit_rows, min_support, alpha, random_state, looks)
            joined.add(index)
            break
    return joined


def _part_record(record, mask, part, condition, tested, errors, fit_rows, confirm_rows, units):
    """The record of the part of a slice that fails most (reported beside the slice)."""
    stats = _confirm(
        part[confirm_rows], errors[confirm_rows], None if units is None else units[confirm_rows]
    )
    wider = errors[confirm_rows][(mask & ~part)[confirm_rows]]
    child = {
        **record, **stats, "size": int(part.sum()), "n_fit": int(part[fit_rows].sum()),
        "fit_error_rate": float(errors[fit_rows][part[fit_rows]].mean()),
        "absorbed": 0, "merged_from": "",
        "consolidation": (
            f"{PART_NOTE} ({int(mask.sum())} samples, also reported) fails "
            f"most: {condition} ({stats['error_rate']:.0%} held-out errors; the rest of that "
            f"slice {wider.mean():.0%}, still above the outside; "
            + (
                "the only candidate condition, tested on held-out samples)"
                if tested == 1
                else f"the strongest of {tested} candidate conditions tested on held-out samples)"
            )
        ),
    }  # fmt: skip
    child["q_value"] = max(record["q_value"], child["p_value"])
    return child, part


def _constant_modalities(data, modalities, embeddings) -> list[str]:
    """Built-in modalities whose input does not vary over the analysed samples."""
    embeddings = dict(embeddings or {})
    constant = []
    if "text" in modalities and "text" not in embeddings and data.text is not None:
        if len(np.unique(np.asarray(data.text, dtype=str))) < 2:
            constant.append("text")
    if "image" in modalities and "image" not in embeddings and data.features is not None:
        if not np.ptp(np.asarray(data.features), axis=0).any():
            constant.append("image")
    measured = measured_columns(data.metadata if data.has("metadata") else None)
    if "appearance" in modalities and "appearance" not in embeddings and measured:
        values = data.metadata[measured].to_numpy(dtype=np.float64)
        values = values[:, ~np.isnan(values).all(axis=0)]  # not measured (dark spots, small)
        if not values.size or not (np.nanmax(values, axis=0) != np.nanmin(values, axis=0)).any():
            constant.append("appearance")  # e.g. identical images: nothing to tell apart
    return constant


def _analysable_inputs(data, modalities, embeddings, metadata_columns, keep_label_derived):
    """Modalities and metadata columns that may explain failures, and notes on the rest.

    Returns the modalities, the metadata columns (None without metadata), the reason the
    report text restates the label (None if it does not or is kept) and notes.
    """
    embeddings = dict(embeddings or {})
    notes: list[str] = []
    columns = None
    if data.has("metadata"):
        columns, left_out = analysable_columns(
            roles_of(data), metadata_columns, keep_label_derived=keep_label_derived
        )
        notes += describe_left_out(left_out)
    own = [c for c in columns or () if c not in APPEARANCE_COLUMNS]
    if "metadata" in modalities and "metadata" not in embeddings and not own:
        if metadata_columns is not None:
            raise ValueError(
                f"none of the metadata columns {list(metadata_columns)} may be used: "
                + "; ".join(notes)
            )
        modalities = tuple(m for m in modalities if m != "metadata")
        notes.append(
            "the 'metadata' modality was dropped: no analysable column is left"
            + (" besides the image appearance measures" if columns else "")
        )
    text_reason = None
    if data.text is not None and not keep_label_derived:
        text_reason = text_label_derived(data)
    if text_reason is not None:
        notes.append(
            f"report text left out of the representation and the explanations: {text_reason}; "
            "pass keep_label_derived=True (CLI: --keep-label-derived) to use it"
        )
        modalities = tuple(m for m in modalities if m != "text" or "text" in embeddings)
    return modalities, columns, text_reason, notes


#: The column name of the true class among the conditions of slice rules (the rule text
#: reads ``true class = cataract``, as consolidate.CLASS_PREFIX expects).
CLASS_CONDITION = "true class"


def _rule_conditions(data, columns, use_text):
    """The conditions slice rules may use: the true class, metadata values, report terms.

    The slicers assign members with the true label, so many slices lie within one class
    ("cataract, predicted normal"); a rule that may not say so would describe such a slice
    by whatever metadata happens to correlate with the class.
    """
    frame = pd.DataFrame({CLASS_CONDITION: np.asarray(data.class_names, dtype=object)[data.label]})
    if columns:
        frame = pd.concat([frame, data.metadata[list(columns)].reset_index(drop=True)], axis=1)
    conditions = condition_matrix(
        frame, [CLASS_CONDITION, *(columns or [])], data.text if use_text else None
    )
    return conditions if len(conditions.labels) else None


def _explain(
    data, shown, membership, scores, errors, n_terms, n_examples, columns, use_text=True,
    conditions=None, fit_rows=None, confirm_rows=None, random_state=0, own_features=True,
):  # fmt: skip
    counts = vocab = phrase_only = None
    if data.text is not None and shown and use_text:
        uniques, inverse = unique_texts(data.text)
        distinct, vocab = term_matrix(uniques, ngram_range=TERM_NGRAMS)
        counts = distinct[inverse]
        # of the corpus, once for every slice: on the distinct reports with their counts
        phrase_only = phrase_only_terms(
            distinct, vocab, counts=np.bincount(inverse, minlength=len(uniques))
        )
    confidence = data.probabilities.max(axis=1)
    predicted = data.predictions
    held = np.zeros(len(errors), bool)
    held[np.asarray(confirm_rows if confirm_rows is not None else [], dtype=int)] = True
    sets = pd.DataFrame({"test set": data.test_set}) if len(data.test_sets) > 1 else None
    rows, members, masks = [], [], []
    on_a_card = np.zeros(len(errors), bool)  # examples already chosen for another card
    for rank, (record, mask) in enumerate(shown, start=1):
        terms = (
            distinguishing_terms(counts, vocab, mask, n_terms, phrase_only=phrase_only)
            if counts is not None
            else []
        )
        enrichment = metadata_enrichment(data.metadata, mask, columns=columns) if columns else []
        # With several test sets pooled, a slice may just be one shifted set (e.g. every
        # member from acq/site_D): say so, or its metadata reads as a discovered subgroup.
        pooled = (
            metadata_enrichment(sets, mask, max_items=1, columns=["test set"])
            if sets is not None
            else []
        )
        rule = None
        if conditions is not None:
            rule = learn_rule(conditions, mask, fit_rows, random_state=random_state)
        precision, recall = (
            rule_agreement(rule.mask(conditions), mask, confirm_rows)
            if rule is not None
            else (np.nan, np.nan)
        )
        column_scores = scores[:, record["slice"]]
        representative, wrong = slice_examples(
            column_scores, errors, confidence, mask, n_examples, avoid=on_a_card
        )
        rows.append(
            {
                "rank": rank,
                **record,
                "rule": "" if rule is None else rule.text,
                "rule_precision": precision,
                "rule_recall": recall,
                **expected_errors(confidence, mask, held, data.risk is None),
                "caveat": caveat(
                    record.get("member_views", record["views"]), precision, own_features
                ),
                "top_terms": "; ".join(t.description for t in terms),
                "metadata": "; ".join(e.description for e in enrichment),
                "test_sets": "; ".join(e.description for e in pooled),
                "representative": ",".join(data.sample_id[representative]),
                "confident_errors": ",".join(data.sample_id[wrong]),
            }
        )
        # the card's examples, decided here once for the CLI, the report and the viewer
        examples = card_examples(
            {
                "confident_error_images": ",".join(str(i) for i in wrong),
                "representative_images": ",".join(str(i) for i in representative),
            }
        )
        # the rule in words, saved for the viewer (which must not import the analyses)
        rows[-1]["rule_description"] = rule_description(rows[-1])
        example_rows = [int(i) for i, _ in examples]
        on_a_card[example_rows] = True
        rows[-1]["example_ids"] = ",".join(data.sample_id[example_rows])
        rows[-1]["example_kinds"] = ",".join(kind for _, kind in examples)
        # the note worded once and saved, so that the viewer shows it without the library
        rows[-1]["silence"] = silence_note(rows[-1])
        rows[-1]["prediction"] = (
            prediction_note(predicted, mask, held, data.class_names) if data.risk is None else ""
        )
        if data.image_ref is not None:
            rows[-1]["representative_images"] = ",".join(data.image_ref[representative])
            rows[-1]["confident_error_images"] = ",".join(data.image_ref[wrong])
            rows[-1]["example_images"] = ",".join(data.image_ref[example_rows])
        members.append(pd.DataFrame({"sample_id": data.sample_id[mask], "rank": rank}))
        masks.append(mask)
    # a slice that may restate the prediction is listed after those that may not: the
    # first card a reader sees should be a finding, not the network's errors again
    order = sorted(range(len(rows)), key=lambda i: bool(rows[i]["caveat"]))
    rows = _name_holders([{**rows[i], "rank": rank} for rank, i in enumerate(order, start=1)])
    for k, row in enumerate(rows):
        row["nesting"] = nesting_note([masks[i] for i in order], k)
    members = [members[i].assign(rank=rank) for rank, i in enumerate(order, start=1)]
    columns = [
        "rank", "slice", "views", "size", "n_confirm", "units_confirm", "effective_confirm", "errors_confirm", "error_rate",
        "ci_low", "ci_high",
        "complement_error_rate", "p_value", "q_value", "stability", "resample_stability",
        "n_fit", "fit_error_rate", "absorbed", "merged_from", "consolidation", "rule", "rule_precision",
        "rule_recall", "rule_description", "expected_error_rate", "expected_outside", "silence", "prediction", "nesting", "caveat", "top_terms",
        "metadata",
        "test_sets", "representative",
        "confident_errors", "example_ids", "example_kinds",
    ]  # fmt: skip
    if data.image_ref is not None:
        columns += ["representative_images", "confident_error_images", "example_images"]
    table = pd.DataFrame(rows, columns=columns)
    member_frame = (
        pd.concat(members, ignore_index=True)
        if members
        else pd.DataFrame(columns=["sample_id", "rank"])
    )
    return table, member_frame


__all__ = [
    "available_modalities",
    "default_n_components",
    "discover_slices",
    "discovery_slicer",
    "rerun_arguments",
]
