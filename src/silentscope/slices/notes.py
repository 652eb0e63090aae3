"""What a slice card tells the reader besides its error rate: are its failures silent, does
the network read the slice as one class, and may it restate the prediction instead of
naming a cause?

All three are decided where the slice table is made (:func:`silentscope.slices.discover_slices`)
and saved with it (columns ``expected_error_rate``, ``expected_outside``, ``silence``,
``prediction``, ``caveat``), so that the CLI, the markdown, the report and the viewer say the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.slices.consolidate import UNION_CONTAINMENT


def expected_errors(confidence, mask, held, classification: bool = True) -> dict:
    """The held-out error rates the classifier's own confidence admits, in and outside a slice.

    The mean of ``1 - max softmax`` over the held-out members: what a reader compares the
    observed error rate with to tell a silent failure (confident and wrong) from a region
    where the network already says it is unsure (:func:`~silentscope.slices.notes.silence_note`).
    Not measured (NaN, no note) for a continuous risk such as a segmentation's: "any error"
    there is not what one minus a maximum softmax estimates.
    """
    if not classification:
        return {"expected_error_rate": np.nan, "expected_outside": np.nan}
    inside, outside = mask & held, ~mask & held
    return {
        "expected_error_rate": float(1 - confidence[inside].mean()) if inside.any() else np.nan,
        "expected_outside": float(1 - confidence[outside].mean()) if outside.any() else np.nan,
    }


#: Below this held-out precision (or recall) a rule does not describe its slice: :func:`caveat`,
#: and the rule's wording on a card (:func:`silentscope.slices.result.rule_description`).
RULE_DESCRIBES = 0.5


def caveat(views: str, precision, own_features: bool) -> str:
    """A warning for a slice that may restate the prediction instead of naming a cause.

    The classifier's own features encode its prediction (docs/slices_results.md: a probe
    per class finds its errors with held-out AUC 0.99-1.0): a slice found only by views
    that read them (``image``, and ``joint``, which fuses them with the rest), which no
    rule describes, may be the region where the network places another class, whose
    held-out error rate is high by construction.

    Examples
    --------
    >>> caveat("image (any class), joint", 0.19, True)[:103]
    "found only in the classifier's own features, and its rule does not describe it (held-out precision 19%)"
    >>> caveat("image, text", 0.19, True), caveat("image", 0.9, True), caveat("image", 0.19, False)
    ('', '', '')
    """
    found_in = [view.strip() for view in str(views).split(",") if view.strip()]
    only_features = (
        own_features and found_in and all(v.startswith(("image", "joint")) for v in found_in)
    )
    if not only_features or (precision is not None and precision >= RULE_DESCRIBES):
        return ""
    described = "no rule describes it" if precision is None or np.isnan(precision) else (
        f"its rule does not describe it (held-out precision {precision:.0%})"
    )  # fmt: skip
    return (
        f"found only in the classifier's own features, and {described}: it may "
        "be where the network's features place another class, which fails by construction; "
        "look at its examples before reading it as a cause"
    )


#: Share of a slice's errors that its confidence must admit (expected / observed error
#: rate) for the slice to be called "not silent".
ADMITTED_SHARE = 0.5


def silence_note(row) -> str:
    """Whether a slice's failures are silent: its error rate against what its confidence admits.

    A slice where the network fails 84% of the time while its maximum softmax admits 75% is
    where it already says it is unsure: a confidence threshold would flag those samples,
    and the slice is not a *silent* failure. The held-out error rate is compared with the
    rate the network's own confidence expects on the same held-out members (mean
    ``1 - max softmax``); when the confidence admits at least half of the errors
    (:data:`ADMITTED_SHARE`), the note says so. A two-class network that says "50%" on a
    slice that fails 56% of the time is unsure there, not silent. Empty for tables saved
    before the columns existed.

    Examples
    --------
    >>> silence_note({"error_rate": 0.84, "expected_error_rate": 0.12,
    ...     "expected_outside": 0.05})
    'silent: its confidence expects 12% errors here (5% outside), it makes 84%'
    >>> silence_note({"error_rate": 0.84, "expected_error_rate": 0.75,
    ...     "expected_outside": 0.05})
    'not silent: its confidence already expects 75% errors here (it makes 84%): these samples look uncertain, not confidently wrong'
    """
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)
    expected, outside = get("expected_error_rate", np.nan), get("expected_outside", np.nan)
    if expected is None or pd.isna(expected):
        return ""
    observed = get("error_rate")
    if expected >= ADMITTED_SHARE * observed:
        return (
            f"not silent: its confidence already expects {expected:.0%} errors here (it makes "
            f"{observed:.0%}): these samples look uncertain, not confidently wrong"
        )
    where = "" if outside is None or pd.isna(outside) else f" ({outside:.0%} outside)"
    return (
        f"silent: its confidence expects {expected:.0%} errors here{where}, it makes {observed:.0%}"
    )


#: A slice's held-out members must be predicted as one class at least this often ...
PREDICTED_SHARE = 2 / 3
#: ... and this much more often than the samples outside it, for the card to say so.
PREDICTED_EXCESS = 0.2


def prediction_note(predicted, mask, held, class_names) -> str:
    """Which class the network predicts for most of a slice, when it reads the slice as one.

    An artefact can make a network read its images as one class (washed-out fundus
    photographs read as left eyes): the slice is then the artefact, and its errors are the
    members of the other classes. Slices are never narrowed to a true class (that would
    report the artefact's errors as the cause), so the card says it in words instead: the
    predicted class of at least :data:`PREDICTED_SHARE` of the held-out members, if that is
    at least :data:`PREDICTED_EXCESS` more than its share outside the slice. Empty otherwise
    (and without held-out members).

    Examples
    --------
    >>> predicted = np.array([0] * 8 + [1] * 2 + [0] * 4 + [1] * 6)
    >>> mask = np.arange(20) < 10
    >>> prediction_note(predicted, mask, np.ones(20, bool), ["left", "right"])
    "the network predicts 'left' for 80% of its held-out members (40% outside)"
    >>> prediction_note(predicted, ~mask, np.ones(20, bool), ["left", "right"])
    ''
    """
    predicted = np.asarray(predicted)
    inside, outside = mask & held, ~mask & held
    if not inside.any():
        return ""
    counts = np.bincount(predicted[inside], minlength=len(class_names))
    top = int(counts.argmax())
    share = counts[top] / inside.sum()
    elsewhere = float((predicted[outside] == top).mean()) if outside.any() else 0.0
    if share < PREDICTED_SHARE or share - elsewhere < PREDICTED_EXCESS:
        return ""
    where = f" ({elsewhere:.0%} outside)" if outside.any() else ""
    return (
        f"the network predicts {str(class_names[top])!r} for {share:.0%} of its held-out "
        f"members{where}"
    )


def nesting_note(masks, index: int) -> str:
    """Say on a slice's card that its members lie within another listed slice, else "".

    ``masks`` are the listed slices' members in rank order (slice ``k`` is ``masks[k - 1]``).
    Slices are found and refined apart, and a refined slice may end up inside another: on
    an 8-class fundus network, "hypertensive retinopathy" (38 samples) lay wholly within
    "cataract OR glaucoma" (191), which held every class the network never predicts. Both
    are true findings, but a reader who counts the cards counts two groups of patients
    where there is one. The smallest listed slice that holds at least
    :data:`~silentscope.slices.consolidate.UNION_CONTAINMENT` of the members (what
    consolidation calls "lies inside") is named.

    Examples
    --------
    >>> wide, narrow = np.arange(10) < 8, np.arange(10) < 3
    >>> nesting_note([wide, narrow], 1)
    '3 of its 3 members lie within slice 1 (8 samples)'
    >>> nesting_note([wide, narrow], 0)
    ''
    """
    own = np.asarray(masks[index], dtype=bool)
    size = int(own.sum())
    holders = [
        (int(np.sum(other)), rank, int((own & other).sum()))
        for rank, other in enumerate(masks, start=1)
        if rank - 1 != index and np.sum(other) > size
        and (own & other).sum() >= UNION_CONTAINMENT * size > 0
    ]  # fmt: skip
    if not holders:
        return ""
    holder_size, rank, inside = min(holders)
    return f"{inside} of its {size} members lie within slice {rank} ({holder_size} samples)"


def card_note(row, column: str) -> str:
    """A note saved with the slice table (``silence``, ``prediction``, ``nesting`` or
    ``caveat``); empty for older tables.

    Every renderer (CLI, markdown, report, viewer) reads the saved note, so that what the
    card says was decided once, where the table was made.

    Examples
    --------
    >>> card_note({"caveat": "found only in ..."}, "caveat"), card_note({}, "silence")
    ('found only in ...', '')
    """
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)
    note = get(column, "")
    return note if isinstance(note, str) else ""


__all__ = [
    "ADMITTED_SHARE",
    "PREDICTED_EXCESS",
    "PREDICTED_SHARE",
    "RULE_DESCRIBES",
    "caveat",
    "card_note",
    "expected_errors",
    "nesting_note",
    "prediction_note",
    "silence_note",
]
