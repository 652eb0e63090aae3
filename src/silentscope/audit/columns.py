"""Column names of the per-sample table that stores and :meth:`AuditSet.to_frame` share.

External confidences and metadata fields sit beside the fixed columns under a prefix, so
that a field may share its name with a fixed column (a metadata field called ``label``).
Every reader and writer of that table takes the prefixes from here.
"""

from __future__ import annotations

#: Prefix of an external confidence's column: ``conf.<name>``.
CONFIDENCE_PREFIX = "conf."
#: Prefix of a metadata field's column: ``meta.<field>``.
METADATA_PREFIX = "meta."
#: Prefix of a per-sample outcome's column: ``outcome.<name>`` (e.g. ``outcome.dice_GM``).
OUTCOME_PREFIX = "outcome."
#: Column of the optional continuous per-sample risk in [0, 1] (e.g. 1 - Dice).
RISK_COLUMN = "risk"


def prefixed(columns, prefix: str) -> dict[str, str]:
    """The columns that start with ``prefix``, by their name without it.

    Examples
    --------
    >>> prefixed(["label", "meta.age", "conf.DG", "meta.sex"], METADATA_PREFIX)
    {'age': 'meta.age', 'sex': 'meta.sex'}
    """
    return {c[len(prefix) :]: c for c in columns if c.startswith(prefix)}


__all__ = ["CONFIDENCE_PREFIX", "METADATA_PREFIX", "OUTCOME_PREFIX", "RISK_COLUMN", "prefixed"]
