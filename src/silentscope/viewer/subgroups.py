"""The groups of ``silentscope subgroups`` as selectable sets of rows in the viewer.

The subgroup analysis saves one row per group (``subgroups`` artifact: test-set scope,
class, attribute, group label such as ``>=65``, ``[52, 59)`` or ``Female``, its size and
error statistics), not the members. The viewer rebuilds each group's members from the
store's metadata with the same rules (``test_set`` scope joined by ``+``, class ``all``
or a class name, numeric bins ``<a``, ``[a, b)``, ``>=b``, ``<missing>``). A group whose
rebuilt size differs from the size the analysis recorded is left out and named, rather
than shown with members it may not have had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from silentscope.viewer.arrow import arrow_numbers

#: The subgroup analysis' ranked table (written by ``silentscope subgroups``).
SUBGROUPS_ARTIFACT = "subgroups"
#: Most groups listed: the table is ranked, the rest are in the report.
MAX_SUBGROUPS = 30
# The labels silentscope.subgroups writes; not imported from there, because that package
# pulls statsmodels and pandas into the viewer's start (tests/viewer/test_api.py checks they agree).
MISSING = "<missing>"
ALL_CLASSES = "all"
_NUMBER = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
_BELOW = re.compile(rf"^<{_NUMBER}$")
_BETWEEN = re.compile(rf"^\[{_NUMBER}, {_NUMBER}\)$")
_ABOVE = re.compile(rf"^>={_NUMBER}$")


def _as_bool(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return arrow_numbers(pc.cast(values, pa.int8()), missing=0).astype(bool)


def group_mask(group: str, kind: str, column: pa.ChunkedArray) -> np.ndarray | None:
    """Members of one group label of an attribute; None when the label cannot be read.

    Examples
    --------
    >>> ages = pa.chunked_array([[30, 52, 70, None]])
    >>> group_mask(">=65", "numeric", ages).tolist(), group_mask("[50, 65)", "numeric", ages).tolist()
    ([False, False, True, False], [False, True, False, False])
    >>> group_mask("<missing>", "numeric", ages).tolist()
    [False, False, False, True]
    >>> group_mask("F", "categorical", pa.chunked_array([["F", "M", None]])).tolist()
    [True, False, False]
    """
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    if kind != "numeric" or not numeric:
        if group == MISSING:
            return _as_bool(column.is_null())
        if kind == "numeric":
            return None
        return _as_bool(pc.fill_null(pc.equal(pc.cast(column, pa.string()), group), False))
    values = arrow_numbers(column).astype(np.float64)
    missing = np.isnan(values)
    if group == MISSING:
        return missing
    with np.errstate(invalid="ignore"):
        if match := _BELOW.match(group):
            return ~missing & (values < float(match[1]))
        if match := _BETWEEN.match(group):
            return ~missing & (values >= float(match[1])) & (values < float(match[2]))
        if match := _ABOVE.match(group):
            return ~missing & (values >= float(match[1]))
    return ~missing if group == "all" else None


def subgroup_rows(
    table: pa.Table,
    metadata: Mapping[str, pa.ChunkedArray],
    test_set_names: Sequence[str],
    test_set_codes: np.ndarray,
    label: np.ndarray,
    class_names: Sequence[str],
) -> tuple[list[str], list[np.ndarray], list[dict], list[str]]:
    """Names, member rows and summary records of the listed groups, and those left out."""
    names, rows, records, left_out = [], [], [], []
    sample_sets = np.asarray(test_set_names, dtype=object)[test_set_codes]
    for record in table.to_pylist()[:MAX_SUBGROUPS]:
        attribute, group = str(record.get("attribute")), str(record.get("group"))
        scope, cls = str(record.get("test_set")), str(record.get("class", ALL_CLASSES))
        name = f"{attribute} {group}" + (f" · {scope}" if scope != "iid" else "")
        name += f" · class {cls}" if cls != ALL_CLASSES else ""
        column = metadata.get(attribute)
        mask = None if column is None else group_mask(group, str(record.get("kind")), column)
        if mask is not None:
            mask &= np.isin(sample_sets, scope.split("+"))
            if cls != ALL_CLASSES:
                mask &= label == (list(class_names).index(cls) if cls in class_names else -1)
        if mask is None or int(mask.sum()) != int(record.get("n", -1)):
            left_out.append(name)
            continue
        names.append(name)
        rows.append(np.flatnonzero(mask).astype(np.int64))
        records.append({"name": name, **record})
    return names, rows, records, left_out


__all__ = ["MAX_SUBGROUPS", "SUBGROUPS_ARTIFACT", "group_mask", "subgroup_rows"]
