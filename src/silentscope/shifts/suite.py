"""Which corruption test sets to build: the one expansion of ``"default"`` and of severities.

Every caller that turns a user's corruption request into names (``silentscope train``,
``audit-model``, ``shifts preview``, a study's ``corruptions:``) goes through
:func:`expand_corruptions`, so ``default`` means the same suite everywhere, and
:func:`test_set_severities` checks the severities of ``cor/<name>/<severity>`` sets.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

from silentscope.shifts.registry import default_suite, get_corruption
from silentscope.shifts.severity import SEVERITIES

#: The word that stands for a modality's default suite, and the one that asks for none.
DEFAULT, NONE = "default", "none"


def expand_corruptions(
    names: str | Iterable[str] | None,
    modality: str = "generic",
    channels: int | None = None,
) -> list[str]:
    """Corruption names with ``"default"`` replaced by the modality's suite, each checked.

    Parameters
    ----------
    names : str, sequence of str or None
        ``"default"``, ``"none"``, one name, or names among which ``"default"`` may appear
        (it is replaced in place by the suite; duplicates are dropped). None or ``"none"``
        gives no corruptions.
    modality : str, default "generic"
        Whose default suite ``"default"`` stands for.
    channels : int, optional
        1 or 3: the suite leaves out corruptions the channel count does not support, and a
        named corruption that does not support it is refused.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For an unknown name (with the closest registered one) or a corruption that does not
        support ``channels``.

    Examples
    --------
    >>> expand_corruptions("default", "xray", channels=1)[:2]
    ['gaussian_noise', 'shot_noise']
    >>> expand_corruptions(["pixelate", "default"], "xray", 1) == ["pixelate"] + [
    ...     n for n in expand_corruptions("default", "xray", 1) if n != "pixelate"]
    True
    >>> expand_corruptions("none")
    []
    """
    if names is None or names == NONE:
        return []
    requested = [names] if isinstance(names, str) else list(names)
    expanded: list[str] = []
    for name in requested:
        if name == DEFAULT:
            expanded += [c.name for c in default_suite(modality, channels)]
            continue
        corruption = get_corruption(name, modality)
        if channels is not None and channels not in corruption.channels:
            raise ValueError(
                f"corruption {name!r} needs {'RGB' if corruption.channels == (3,) else 'grey'} "
                f"images but the data has {channels} channel(s); choose another corruption"
            )
        expanded.append(name)
    return list(dict.fromkeys(expanded))


def test_set_severities(severities: Iterable[int] | None) -> tuple[int, ...]:
    """The severities of corruption test sets: integers 1-5 (None or empty: all five).

    Examples
    --------
    >>> test_set_severities([1, 3])
    (1, 3)
    >>> test_set_severities(None)
    (1, 2, 3, 4, 5)
    >>> test_set_severities([0, 6])
    Traceback (most recent call last):
    ...
    ValueError: corruption test-set severities must be integers 1-5, got [0, 6]
    """
    values = tuple(severities or ())
    bad = [
        s
        for s in values
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 1 <= s <= 5
    ]
    if bad:
        raise ValueError(f"corruption test-set severities must be integers 1-5, got {bad}")
    return tuple(int(s) for s in values) or SEVERITIES


test_set_severities.__test__ = False  # a function, not a pytest test, despite its name
