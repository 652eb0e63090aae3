"""Test-set names: the naming convention every shift builder and analysis shares.

A test set is named by its kind and, where the kind needs it, a value::

    val                         the validation split (fitted CSFs, calibration, thresholds)
    iid                         in-distribution test split
    cor/<corruption>/<1-5>      an image corruption at a severity
    acq/<value>                 acquisition shift (held-out site, device, ...)
    man/<value>                 manifestation shift (held-out subtype or finding)
    sub/<attribute>=<value>     subgroup shift (age band, sex, ...)
    prev/<value>                prevalence shift
    ood/<value>                 new-class / out-of-distribution data
    shift/<value>               a shift of unrecorded kind (e.g. imported from another tool)

Names are parsed once, here, so that no analysis ever dispatches on substrings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VALIDATION = "val"
IID = "iid"
#: The label of a new-class sample (test sets of kind ``ood``): a class the classifier does
#: not know, so its prediction is always wrong. Allowed on ``ood/`` test sets only.
UNKNOWN_LABEL = -1
#: How a sample with :data:`UNKNOWN_LABEL` is named wherever a class name is shown.
UNKNOWN_CLASS_NAME = "unknown (new class)"


def label_name(class_names, label: int) -> str:
    """The class name of a label; :data:`UNKNOWN_CLASS_NAME` for a new-class sample (never a wrap-around).

    Examples
    --------
    >>> label_name(["no", "yes"], 1), label_name(["no", "yes"], UNKNOWN_LABEL)
    ('yes', 'unknown (new class)')
    """
    return UNKNOWN_CLASS_NAME if int(label) < 0 else str(class_names[int(label)])


SHIFT_KINDS = ("cor", "acq", "man", "sub", "prev", "ood", "shift")

_VALUE = r"[A-Za-z0-9_.+\-<>=,: ]+"
_PATTERNS = {
    "cor": re.compile(r"^cor/(?P<corruption>[a-z0-9_]+)/(?P<severity>[1-5])$"),
    "acq": re.compile(rf"^acq/(?P<value>{_VALUE})$"),
    "man": re.compile(rf"^man/(?P<value>{_VALUE})$"),
    "sub": re.compile(r"^sub/(?P<attribute>[A-Za-z0-9_.\-]+)=(?P<value>[^/]+)$"),
    "prev": re.compile(rf"^prev/(?P<value>{_VALUE})$"),
    "ood": re.compile(rf"^ood/(?P<value>{_VALUE})$"),
    "shift": re.compile(rf"^shift/(?P<value>{_VALUE})$"),
}


@dataclass(frozen=True)
class TestSetName:
    """A parsed test-set name.

    Examples
    --------
    >>> parse_test_set("cor/gaussian_noise/3")
    TestSetName(name='cor/gaussian_noise/3', kind='cor', value='gaussian_noise', severity=3, attribute=None)
    >>> parse_test_set("sub/sex=Female").attribute
    'sex'
    """

    __test__ = False  # not a pytest test class despite the name

    name: str
    kind: str
    value: str | None = None
    severity: int | None = None
    attribute: str | None = None

    @property
    def is_shift(self) -> bool:
        return self.kind in SHIFT_KINDS


def parse_test_set(name: str) -> TestSetName:
    """Parse a test-set name, raising a ValueError that shows the convention if it is invalid."""
    if name in (VALIDATION, IID):
        return TestSetName(name=name, kind=name)
    kind = name.split("/", 1)[0]
    pattern = _PATTERNS.get(kind)
    match = pattern.match(name) if pattern else None
    if match is None:
        raise ValueError(
            f"unknown test-set name {name!r}; use 'val', 'iid', 'cor/<corruption>/<1-5>', "
            "'acq/<value>', 'man/<value>', 'sub/<attribute>=<value>', 'prev/<value>', 'ood/<value>' or 'shift/<value>'"
        )
    groups = match.groupdict()
    if kind == "cor":
        return TestSetName(name, kind, value=groups["corruption"], severity=int(groups["severity"]))
    return TestSetName(name, kind, value=groups["value"], attribute=groups.get("attribute"))


def is_valid_test_set(name: str) -> bool:
    """Whether ``name`` follows the test-set naming convention."""
    try:
        parse_test_set(name)
    except ValueError:
        return False
    return True


_KIND_ORDER = {kind: i for i, kind in enumerate((VALIDATION, IID, *SHIFT_KINDS))}


def test_set_sort_key(name: str) -> tuple:
    """Sort key giving ``val``, ``iid``, then shifts grouped by kind, name and severity."""
    try:
        parsed = parse_test_set(name)
    except ValueError:
        return (len(_KIND_ORDER), name, 0)
    return (_KIND_ORDER[parsed.kind], parsed.value or "", parsed.severity or 0, name)


test_set_sort_key.__test__ = False  # type: ignore[attr-defined]
