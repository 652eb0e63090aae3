"""The sample groups an evaluation reports on: each test set, and shift kinds pooled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silentscope.audit import VALIDATION, AuditSet, parse_test_set


@dataclass(frozen=True)
class EvaluationGroup:
    """A named set of samples that gets one row per CSF and metric.

    Attributes
    ----------
    name : str
        The test-set name, or for pooled groups ``"<kind> (pooled)"`` (the samples of every
        test set of a shift kind as one set) or ``"cor (severity <s>, pooled)"`` (every
        corruption at one severity). The paper's per-kind value is the mean over test sets
        instead (:func:`~silentscope.evaluation.kind_means`), never a pooled group.
    kind : str
        The test-set kind (``iid``, ``cor``, ``acq``, ...).
    rows : ndarray of int
        Sample indices into the AuditSet.
    members : tuple of str
        The test sets pooled (just ``name`` for a single test set).
    """

    name: str
    kind: str
    rows: np.ndarray
    members: tuple[str, ...]

    @property
    def pooled(self) -> bool:
        return self.members != (self.name,)


def pooled_name(kind: str, severity: int | None = None) -> str:
    """Name of a pooled group: it says "pooled", so it is not read as the paper's per-kind mean.

    Examples
    --------
    >>> pooled_name("cor"), pooled_name("cor", 3)
    ('cor (pooled)', 'cor (severity 3, pooled)')
    """
    return f"{kind} (pooled)" if severity is None else f"{kind} (severity {severity}, pooled)"


def select_test_sets(audit: AuditSet, test_sets: Sequence[str] | None) -> tuple[str, ...]:
    """The test sets to evaluate: all but the validation split by default, validated by name.

    Examples
    --------
    >>> audit = AuditSet(sample_id=["a", "b", "c"], test_set=["val", "iid", "acq/b"], label=[0, 1, 1],
    ...                  logits=np.eye(2)[[0, 1, 0]] * 3, class_names=["no", "yes"])
    >>> select_test_sets(audit, None)
    ('iid', 'acq/b')
    """
    if test_sets is None:
        selected = audit.evaluation_sets()
        if not selected:
            raise ValueError(
                "this AuditSet holds only the validation split; add test sets ('iid', shifts) to evaluate"
            )
        return selected
    if isinstance(test_sets, str):
        test_sets = [test_sets]
    selected = tuple(dict.fromkeys(test_sets))
    if VALIDATION in selected:
        raise ValueError(
            "'val' is the validation split that fitted CSFs learn from, so it cannot be an "
            "evaluation test set; leave it out of test_sets"
        )
    missing = [name for name in selected if name not in audit.test_sets]
    if missing:
        raise ValueError(
            f"test set(s) {missing} not in this AuditSet; available: {', '.join(audit.evaluation_sets())}"
        )
    if not selected:
        raise ValueError("test_sets is empty; name at least one test set or pass None for all")
    return selected


def evaluation_groups(audit: AuditSet, test_sets: Sequence[str]) -> list[EvaluationGroup]:
    """One group per test set, then the pooled groups of every shift kind with two or more test sets.

    Corruptions are also pooled per severity when a severity has two or more corruptions.
    A pooled group that would hold the same test sets as another one (a kind with a single
    test set, or one severity holding every corruption) is left out: it would repeat rows.

    Examples
    --------
    >>> names = ["iid", "cor/noise/1", "cor/blur/1", "cor/noise/3", "acq/b"]
    >>> audit = AuditSet(sample_id=list("abcde"), test_set=names, label=[0] * 5,
    ...                  logits=np.zeros((5, 2)), class_names=["no", "yes"])
    >>> [g.name for g in evaluation_groups(audit, names)]
    ['iid', 'cor/noise/1', 'cor/blur/1', 'cor/noise/3', 'acq/b', 'cor (pooled)', 'cor (severity 1, pooled)']
    """
    groups = []
    by_kind: dict[str, list[str]] = {}
    by_severity: dict[int, list[str]] = {}
    for name in test_sets:
        parsed = parse_test_set(name)
        groups.append(
            EvaluationGroup(name, parsed.kind, np.flatnonzero(audit.test_set == name), (name,))
        )
        if parsed.is_shift:
            by_kind.setdefault(parsed.kind, []).append(name)
        if parsed.severity is not None:
            by_severity.setdefault(parsed.severity, []).append(name)
    pooled = [(pooled_name(kind), kind, members) for kind, members in by_kind.items()]
    pooled += [
        (pooled_name("cor", severity), "cor", members)
        for severity, members in sorted(by_severity.items())
    ]
    seen: set[frozenset[str]] = set()
    for name, kind, members in pooled:
        # a severity that holds every corruption would repeat "cor (pooled)" under another name
        if len(members) >= 2 and frozenset(members) not in seen:
            seen.add(frozenset(members))
            rows = np.flatnonzero(np.isin(audit.test_set, members))
            groups.append(EvaluationGroup(name, kind, rows, tuple(members)))
    return groups
