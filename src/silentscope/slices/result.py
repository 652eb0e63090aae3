"""The result of slice discovery: ranked, confirmed, explained slices."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from silentscope.data.refs import shareable
from silentscope.slices.notes import RULE_DESCRIBES, card_note

#: The store artifact of the shown slices; the others are named after it.
ARTIFACT = "slices"


@dataclass
class SliceReport:
    """Slices found by :func:`~silentscope.slices.discover_slices`.

    Attributes
    ----------
    slices : DataFrame
        The shown slices, best first: ``rank``, ``slice`` (component id), ``views`` (the
        views whose fits found it: a modality alone or ``joint``), ``size`` (all
        samples), on the confirmation split ``n_confirm`` (samples), ``units_confirm``
        (independent units: patients, or source images; ``settings["unit"]``),
        ``effective_confirm`` (samples once the rows of one unit are weighed by how much
        their errors agree: Rao-Scott design effect), ``errors_confirm``, ``error_rate``
        with a Wilson ``ci_low``/``ci_high`` on the effective counts,
        ``complement_error_rate``, ``p_value`` (one-sided Fisher on effective counts) and
        ``q_value``
        (Benjamini-Hochberg); ``stability``
        (mean Jaccard index to each seed's aligned slice) and ``resample_stability``; ``n_fit`` and
        ``fit_error_rate`` on the fitting split; ``absorbed`` (how many other candidate
        slices, from any view or seed, were consolidated into it), ``merged_from`` (their
        ids) and ``consolidation`` (why each joined: overlap, same explanation, or its excess
        error explained by this slice; :mod:`~silentscope.slices.consolidate`); ``rule``
        (the slice in the data's words, learned on the fitting split) with its
        ``rule_precision`` and ``rule_recall`` against the slice on the confirmation split
        (:mod:`~silentscope.slices.rules`); the explanations
        ``top_terms`` and ``metadata``; sample ids in ``representative`` and
        ``confident_errors`` (and their image references in ``representative_images``
        and ``confident_error_images`` when the AuditSet has them); the slice card's
        :data:`CARD_EXAMPLES` examples in ``example_ids`` with ``example_kinds``
        (``wrong``: most confidently wrong, first; ``typical``) and ``example_images``.
    candidates : DataFrame
        Every candidate tested, significant or not (for transparency about the FDR);
        ``duplicate_of`` names the earlier candidate with exactly the same members (one
        hypothesis, counted once by Benjamini-Hochberg), -1 for a distinct one.
    membership : DataFrame
        ``sample_id``, ``rank``: the members of each shown slice.
    settings : dict
        The parameters of the run.
    notes : list of str
        What was done to the inputs.
    timings : dict of str to float
        Seconds per stage.
    slicer, representation : objects
        The fitted slicer and the representation (not saved with the report).
    candidate_membership : ndarray of bool, shape (N, K), optional
        Every candidate's members as the slicer assigned them (column ``k`` is candidate
        ``slice == k`` of ``candidates``), before consolidation; not saved with the report.
    """

    slices: pd.DataFrame
    candidates: pd.DataFrame
    membership: pd.DataFrame
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    slicer: Any = None
    representation: Any = None
    candidate_membership: np.ndarray | None = None

    @property
    def n_slices(self) -> int:
        return len(self.slices)

    def save(self, store) -> list[str]:
        """Write the tables into an audit store as artifacts; returns their names.

        ``slices`` (the shown slices), ``slices_membership`` (``sample_id``, ``rank``: what
        ``silentscope view`` and the HTML report read), ``slices_candidates`` and
        ``slices_settings`` (with the notes and timings).
        """
        from silentscope.audit.store import write_artifacts

        tables = {
            ARTIFACT: self.slices,
            f"{ARTIFACT}_membership": self.membership,
            f"{ARTIFACT}_candidates": self.candidates,
            f"{ARTIFACT}_settings": {**self.settings, "notes": self.notes, "timings": self.timings},
        }
        write_artifacts(store, tables)  # one commit: never a mix of two runs' tables
        return list(tables)

    def to_frame(self) -> pd.DataFrame:
        """The slice table (a copy)."""
        return self.slices.copy()

    def degenerate_note(self) -> str:
        """The warning that the classifier is degenerate (from the saved health), else ""."""
        from silentscope.audit.health import ModelHealth, degenerate_analysis_note

        health = self.settings.get("health")
        if not health:
            return ""
        return degenerate_analysis_note(ModelHealth.from_dict(health), DEGENERATE_WHAT)

    def summary_lines(self) -> list[str]:
        """One plain-text line per slice, e.g. for logs."""
        # a degenerate classifier's slices are its rarely predicted classes: said first
        lines = [f"warning: {note}" for note in [self.degenerate_note()] if note]
        if self.slices.empty:
            return [*lines, no_slice_note(self.settings, self.candidates)]
        for row in self.slices.itertuples():
            lines.append(
                f"#{row.rank}: error {row.error_rate:.0%} [{row.ci_low:.0%}, {row.ci_high:.0%}] vs "
                f"{row.complement_error_rate:.0%} outside, n={row.size}, stability {row.stability:.2f}"
                + (f", found in {row.views}" if getattr(row, "views", "") else "")
                + _absorbed_text(row)
                + (f" | {part_note(row)}" if part_note(row) else "")
                + "".join(f" | {card_note(row, c)}" for c in NOTE_COLUMNS if card_note(row, c))
                + _rule_text(row)
                + (f" | terms: {row.top_terms}" if row.top_terms else "")
                + (f" | {row.metadata}" if row.metadata else "")
                + (f" | {row.test_sets}" if getattr(row, "test_sets", "") else "")
            )
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def to_markdown(self) -> str:
        """The slice table as a Markdown table (for reports)."""
        header = (
            "| rank | n | error rate (95% CI) | outside | q | stability | found in | absorbed | rule "
            "| report terms | metadata |"
        )
        lines = [f"**warning:** {note}\n" for note in [self.degenerate_note()] if note]
        if self.slices.empty:
            return "\n".join([*lines, no_slice_note(self.settings, self.candidates)])
        lines += [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in self.slices.itertuples():
            lines.append(
                f"| {row.rank} | {row.size} | {row.error_rate:.1%} ({row.ci_low:.1%}-{row.ci_high:.1%}) "
                f"| {row.complement_error_rate:.1%} | {row.q_value:.2g} | {row.stability:.2f} "
                f"| {getattr(row, 'views', '')} | {getattr(row, 'absorbed', '')} "
                f"| {' '.join(filter(None, [part_note(row), *(card_note(row, c) for c in NOTE_COLUMNS), rule_description(row)]))} "
                f"| {row.top_terms} | {row.metadata} |"
            )
        return "\n".join(lines)


#: What the degenerate-classifier warning calls slice discovery's output.
DEGENERATE_WHAT = "failure slices"

#: The notes saved with each slice (:mod:`silentscope.slices.notes`), in card order.
NOTE_COLUMNS = ("silence", "prediction", "nesting", "caveat")

#: How a slice that is the worst part of another reported slice begins its note.
PART_NOTE = "where a wider failing slice"
#: How the note ends that says a slice's worst part is another listed slice's finding.
NESTED_PART_NOTE = "not listed apart"


def reach_text(reach: Mapping | None, what: str = "a slice") -> str:
    """The error rate a slice of each size needs to be confirmed, in words ("" without it).

    ``reach`` is :func:`~silentscope.slices.statistics.confirmation_reach`'s record, saved
    as ``settings["reach"]``.

    Examples
    --------
    >>> reach_text({"n": 200, "errors": 20, "rates": [[10, 0.6], [25, 0.4]]})
    'on these 200 held-out samples (10% errors), a slice needs a held-out error rate of at least 60% with 10, 40% with 25 members to be confirmed'
    """
    if not reach or not reach.get("rates"):
        return ""
    needed = ", ".join(
        (f"{rate:.0%}" if rate is not None else "more than 100%") + f" with {size}"
        for size, rate in reach["rates"]
    )
    return (
        f"on these {reach['n']} held-out samples ({reach['errors'] / max(reach['n'], 1):.0%} "
        f"errors), {what} needs a held-out error rate of at least {needed} members to be "
        "confirmed"
    )


def hypotheses_tested(candidates: pd.DataFrame | None) -> pd.DataFrame | None:
    """The candidates tested on held-out samples, one per distinct member set.

    Candidates with identical members (``duplicate_of`` >= 0) are one hypothesis and
    count once in the FDR; tables saved before that column existed count every row.

    Examples
    --------
    >>> frame = pd.DataFrame({"p_value": [0.01, 0.01, np.nan], "duplicate_of": [-1, 0, -1]})
    >>> len(hypotheses_tested(frame))
    1
    """
    if candidates is None:
        return None
    tested = candidates["p_value"].notna()
    if "duplicate_of" in candidates.columns:
        tested &= candidates["duplicate_of"].fillna(-1).to_numpy() < 0
    return candidates[tested]


def no_slice_note(settings: Mapping, candidates: pd.DataFrame | None) -> str:
    """What an empty slice table means: what was tested, what it could confirm, the nearest miss.

    An empty table on a small test set says little: the run states the error rate a slice
    of each size would have needed (``settings["reach"]``,
    :func:`~silentscope.slices.statistics.confirmation_reach`) and its strongest candidate
    that fell short, so that "no slice" is not read as "no systematic failure".
    """
    tested = hypotheses_tested(candidates)
    n_tested = 0 if tested is None else len(tested)
    text = (
        f"no slice confirmed: {n_tested} candidate(s) tested on held-out samples, none "
        f"significant at FDR {settings.get('alpha')}"
    )
    needed = reach_text(settings.get("reach"))
    if needed:
        text += f". That is no proof that no group fails: {needed}" + (
            f" (the strongest of {n_tested} candidates, level {settings['reach']['level']:.2g})"
            if n_tested > 1
            else ""
        )
    if n_tested:
        best = tested.sort_values("p_value", kind="stable").iloc[0]
        text += (
            f"; nearest miss: {int(best['n_confirm'])} held-out members, "
            f"{best['error_rate']:.0%} errors vs {best['complement_error_rate']:.0%} outside "
            f"(p = {best['p_value']:.2g}, q = {best['q_value']:.2g}, found in {best['views']})"
        )
    return text


def part_note(row) -> str:
    """What a slice's card says about parts: it is the worst part of a wider listed slice, or
    its own worst part is another listed slice's finding; else "".

    Examples
    --------
    >>> part_note({"consolidation": "where a wider failing slice (slice 2, 90 samples) "
    ...            "fails most: sex = F"})
    'where a wider failing slice (slice 2, 90 samples) fails most: sex = F'
    >>> part_note({"consolidation": "3: overlap; where it fails most (sex = F, 40 samples) lies "
    ...            "within slice 2 (60 samples): not listed apart"})
    'where it fails most (sex = F, 40 samples) lies within slice 2 (60 samples): not listed apart'
    >>> part_note({"consolidation": "3: overlap"})
    ''
    """
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)
    note = get("consolidation", "")
    if not isinstance(note, str):
        return ""
    if note.startswith(PART_NOTE):
        return note
    return "; ".join(clause for clause in note.split("; ") if clause.endswith(NESTED_PART_NOTE))


def _absorbed_text(row) -> str:
    """``, absorbed 3 other candidates`` (nothing for tables saved before consolidation)."""
    absorbed = getattr(row, "absorbed", None)
    if absorbed is None or pd.isna(absorbed) or not int(absorbed):
        return ""
    return f", absorbed {int(absorbed)} other candidate{'s' if int(absorbed) > 1 else ''}"


def rule_description(row) -> str:
    """A slice's rule with its held-out precision and recall, e.g. for cards.

    Examples
    --------
    A rule that selects under half of the slice's held-out members, or whose selection is
    under half the slice's, says in words that it describes the slice only in part: the
    percentages are there, but "rule: X" reads as the slice's name.

    >>> rule_description({"rule": "site = C", "rule_precision": 0.9, "rule_recall": 0.8})
    'site = C (held-out precision 90%, recall 80%)'
    >>> rule_description({"rule": "age > 70", "rule_precision": 0.35, "rule_recall": 0.8})
    'age > 70 (held-out precision 35%, recall 80%: it describes the slice only in part)'
    """
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)
    rule = get("rule", "") or ""
    if not isinstance(rule, str) or not rule:
        return ""
    precision, recall = get("rule_precision", np.nan), get("rule_recall", np.nan)
    if pd.isna(precision) or pd.isna(recall):
        return f"{rule} (not measured on held-out samples)"
    partial = (
        ": it describes the slice only in part" if min(precision, recall) < RULE_DESCRIBES else ""
    )
    return f"{rule} (held-out precision {precision:.0%}, recall {recall:.0%}{partial})"


def _rule_text(row) -> str:
    text = rule_description(row)
    return f" | rule: {text}" if text else ""


#: Example images on a slice card: the most confidently wrong members first (up to half),
#: then typical members.
CARD_EXAMPLES = 6


def card_examples(row, n: int = CARD_EXAMPLES) -> list[tuple[str, str]]:
    """Image references for a slice card with their caption: errors first, then typical members.

    Examples
    --------
    >>> card_examples({"confident_error_images": "e1,e2,e3,e4", "representative_images": "r1,e1,r2,r3"})
    [('e1', 'wrong'), ('e2', 'wrong'), ('e3', 'wrong'), ('r1', 'typical'), ('r2', 'typical'), ('r3', 'typical')]
    """
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)

    def refs(key):
        value = get(key, "")
        return [r for r in str(value).split(",") if r] if isinstance(value, str) else []

    wrong, typical = refs("confident_error_images"), refs("representative_images")
    chosen = [(ref, "wrong") for ref in wrong[: n // 2]]
    for ref in typical:
        if len(chosen) >= n:
            break
        if ref not in {r for r, _ in chosen}:
            chosen.append((ref, "typical"))
    for ref in wrong[n // 2 :]:  # fewer typical members than places: more errors
        if len(chosen) >= n:
            break
        if ref not in {r for r, _ in chosen}:
            chosen.append((ref, "wrong"))
    return chosen


def _card_images(row) -> list[tuple[str, str]]:
    """The card's example images: those discovery chose, else (older tables) chosen here."""
    refs, kinds = row.get("example_images"), row.get("example_kinds")
    if isinstance(refs, str) and isinstance(kinds, str) and refs:
        return list(zip(refs.split(","), kinds.split(","), strict=False))
    return card_examples(row)


def _held_out_count(row) -> str:
    """``, 80 held-out samples of 78 patient_id`` where the table records units."""
    n = row.get("n_confirm")
    if n is None or pd.isna(n):
        return ""
    units = row.get("units_confirm")
    if units is None or pd.isna(units) or int(units) == int(n):
        return f"; {int(n)} held-out samples"
    return f"; {int(n)} held-out samples of {int(units)} independent units"


def read_slice_settings(store) -> dict[str, Any] | None:
    """The settings saved with the slices of an audit store, or ``None`` when it holds none.

    Pass them through :func:`~silentscope.slices.discover.rerun_arguments` to repeat the
    run that found those slices (``silentscope slices STORE --repeat`` does).
    """
    from silentscope.audit.store import list_artifacts, read_artifact

    name = f"{ARTIFACT}_settings"
    return dict(read_artifact(store, name)) if name in list_artifacts(store) else None


def slices_html(
    table: pd.DataFrame,
    thumbnail: Callable[[str], str] | None = None,
    empty_note: str | None = None,
) -> str:
    """The saved slice table as an HTML fragment, with example images where available.

    Parameters
    ----------
    table : DataFrame
        :attr:`SliceReport.slices`, e.g. the ``slices`` artifact of an audit store.
    thumbnail : callable, optional
        Maps an image reference to an image ``src`` (e.g. a data URI); it may raise
        ``OSError``, ``KeyError`` or ``ValueError`` for an unreadable reference, which is
        then shown as such. Without it, no images are shown.
    empty_note : str, optional
        What an empty table says (:func:`no_slice_note`); a plain sentence without it.

    Examples
    --------
    >>> table = pd.DataFrame({"rank": [1], "size": [40], "error_rate": [0.6], "ci_low": [0.4],
    ...     "ci_high": [0.75], "complement_error_rate": [0.1], "q_value": [0.001],
    ...     "stability": [0.9], "top_terms": ["cardiomegaly"], "metadata": ["age > 70: 80% vs 20%"],
    ...     "representative_images": ["a.png"], "confident_error_images": ["b.png"]})
    >>> fragment = slices_html(table, thumbnail=lambda ref: f"data:{ref}")
    >>> "cardiomegaly" in fragment and "src='data:b.png'" in fragment
    True
    """
    if table.empty:
        return f"<p class='note'>{html.escape(empty_note or 'Slice discovery confirmed no slice on held-out samples.')}</p>"
    cards = []
    for row in table.to_dict("records"):
        head = (
            f"<h4>Slice {int(row['rank'])}: held-out error rate {row['error_rate']:.0%} "
            f"({row['ci_low']:.0%} to {row['ci_high']:.0%}{_held_out_count(row)}) vs "
            f"{row['complement_error_rate']:.0%} outside; n = {int(row['size'])}, "
            f"q = {row['q_value']:.2g}, stability {row['stability']:.2f}</h4>"
        )
        rule = rule_description(row)
        part = part_note(row)
        facts = f"<li>{html.escape(part)}</li>" if part else ""
        for note in (card_note(row, column) for column in NOTE_COLUMNS):
            facts += f"<li>{html.escape(note)}</li>" if note else ""
        facts += (f"<li>rule: {html.escape(rule)}</li>" if rule else "") + "".join(
            f"<li>{label}: {html.escape(str(row[key]))}</li>"
            for key, label in (
                ("views", "found in"),
                ("absorbed", "candidate slices absorbed"),
                ("top_terms", "report terms"),
                ("metadata", "metadata"),
                ("test_sets", "scope"),
            )
            if row.get(key) is not None and str(row.get(key)) not in ("", "nan")
        )
        images = ""
        if thumbnail is not None:
            shown = []
            for ref, label in _card_images(row):
                try:
                    shown.append(
                        # a report is shared: the alt text names the file, not its folders
                        f"<div class='card'><img src='{thumbnail(ref)}' alt='{html.escape(shareable(ref))}'>"
                        f"<div>{label}</div></div>"
                    )
                except (OSError, KeyError, ValueError) as error:
                    shown.append(
                        f"<div class='card warn'>{html.escape(shareable(str(error)))}</div>"
                    )
            if shown:
                images = (
                    "<p>examples: most confidently wrong first, then typical members</p>"
                    f"<div class='gallery'>{''.join(shown)}</div>"
                )
        cards.append(f"{head}<ul>{facts}</ul>{images}")
    return "".join(cards)


__all__ = [
    "CARD_EXAMPLES",
    "SliceReport",
    "card_examples",
    "read_slice_settings",
    "rule_description",
    "slices_html",
]
