"""One way to say "unknown name": the name, the closest registered one, and where to look.

Every registry (datasets, corruptions, objectives, CSFs) words its unknown-name error with
:func:`unknown_name`, so a typo gets one short sentence with a "did you mean" instead of a
page of valid names. This module imports nothing of silentscope: every layer may use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest_name(name: str, choices: Iterable[str]) -> str | None:
    """The registered name closest to ``name`` (case-insensitive first), or None.

    Examples
    --------
    >>> closest_name("gausian_noise", ["gaussian_noise", "shot_noise"])
    'gaussian_noise'
    >>> closest_name("msr", ["MSR", "MLS"])
    'MSR'
    >>> closest_name("xyz", ["MSR"]) is None
    True
    """
    choices = list(choices)
    text = str(name)
    same_case = [c for c in choices if c.lower() == text.lower()]
    if same_case:
        return same_case[0]
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def unknown_name(kind: str, name: object, choices: Iterable[str], listing: str = "") -> str:
    """One sentence for an unknown ``name`` of ``kind``: did-you-mean, else the valid names.

    Parameters
    ----------
    kind : str
        What was looked up, e.g. "corruption".
    name : object
        The name given.
    choices : iterable of str
        The registered names.
    listing : str, optional
        Where the user can see every name (e.g. a command); used instead of the full list
        when a close match exists.

    Examples
    --------
    >>> unknown_name("corruption", "gausian_noise", ["gaussian_noise", "shot_noise"],
    ...              "`silentscope shifts list` shows all")
    "unknown corruption 'gausian_noise'; did you mean 'gaussian_noise'? (`silentscope shifts list` shows all)"
    >>> unknown_name("objective", "foo", ["ce", "dg"])
    "unknown objective 'foo'; valid names: ce, dg"
    """
    choices = list(choices)
    close = closest_name(str(name), choices) if isinstance(name, str) else None
    if close is not None:
        where = f" ({listing})" if listing else ""
        return f"unknown {kind} {name!r}; did you mean {close!r}?{where}"
    return f"unknown {kind} {name!r}; valid names: {', '.join(choices)}"
