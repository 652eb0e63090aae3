"""What each API route accepts, checked in one place before any query runs.

Every malformed request becomes one :class:`ValueError` sentence naming the field (the
server answers it with HTTP 400): JSON that does not parse or nests too deeply, numbers
that overflow (``1e400``) or are not numbers, fields of the wrong type, unknown fields.

Examples
--------
>>> route_body("failures", b'{"filter": {"correctness": "incorrect"}, "k": 3}')
{'filter': {'correctness': 'incorrect'}, 'csf': None, 'k': 3}
>>> route_body("failures", b'{"k": 1e400}')
Traceback (most recent call last):
...
ValueError: the request body is not valid JSON: 1e400 is not a finite number
"""

from __future__ import annotations

import json
from collections.abc import Callable

#: Request bodies larger than this are refused with HTTP 413 (the largest legitimate body,
#: a bit mask of the selection, is 1.25 MB for ten million samples).
MAX_BODY_BYTES = 10 * 1024 * 1024


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(raw: bytes | str, what: str = "the request body"):
    """``raw`` parsed as strict JSON (no NaN, no infinities), or one ValueError sentence."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{what} nests too deeply to be a request of this viewer") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None
    except ValueError as error:  # JSONDecodeError, and the number checks above
        raise ValueError(f"{what} is not valid JSON: {error}") from None


def _filter(value):
    if value is not None and not isinstance(value, dict):
        raise ValueError(
            f'field \'filter\' must be an object such as {{"correctness": "incorrect"}} '
            f"or null, got {type(value).__name__}"
        )
    return value


def _csf(value):
    if value is not None and not isinstance(value, str):
        raise ValueError(
            f"field 'csf' must be the name of a confidence score, got {type(value).__name__}"
        )
    return value


def _count(default: int, most: int = 1000) -> Callable:
    def check(value):
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ValueError(f"field 'k' must be a whole number from 1 to {most}, got {value!r}")
        return value

    return check


#: The fields of each JSON route, each with its check (which also gives the default).
ROUTES: dict[str, dict[str, Callable]] = {
    "filter": {"filter": _filter},
    "risk_coverage": {"filter": _filter, "csf": _csf},
    "failures": {"filter": _filter, "csf": _csf, "k": _count(8)},
    "representatives": {"filter": _filter, "k": _count(6)},
}


def route_body(route: str, raw: bytes) -> dict:
    """The checked fields of a JSON request body to ``route`` (missing ones at their default).

    Raises
    ------
    ValueError
        One sentence naming what is wrong: not JSON, not an object, an unknown field or a
        field of the wrong type.
    """
    fields = ROUTES[route]
    value = parse_json(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ValueError(f"the request body must be a JSON object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; this route takes {', '.join(fields)}")
    return {name: check(value.get(name)) for name, check in fields.items()}


def query_filter(text: str | None) -> dict | None:
    """The filter given as a JSON query parameter (``?filter=...``), checked like a body's."""
    if not text:
        return None
    return _filter(parse_json(text, "the filter parameter"))


__all__ = ["MAX_BODY_BYTES", "ROUTES", "parse_json", "query_filter", "route_body"]
