"""A JSON-serialisable description of an ImageDataset: counts, columns, duplicates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from silentscope.audit.roles import resolve_roles
from silentscope.data.dataset import SPLITS, ImageDataset
from silentscope.data.duplicates import duplicate_report


def class_counts(dataset: ImageDataset) -> pd.DataFrame:
    """Images per class (rows) and split (columns), with totals.

    Examples
    --------
    >>> import numpy as np
    >>> data = ImageDataset("toy", np.zeros((3, 4, 4), np.uint8), [0, 1, 1], ["a", "b"],
    ...                     ["train", "train", "test"], ["x", "y", "z"])
    >>> class_counts(data).to_dict("index")
    {'a': {'train': 1, 'test': 0, 'total': 1}, 'b': {'train': 1, 'test': 1, 'total': 2}, 'total': {'train': 2, 'test': 1, 'total': 3}}
    """
    names = np.asarray(dataset.class_names, dtype=object)[dataset.labels]
    table = pd.crosstab(
        pd.Categorical(names, categories=dataset.class_names),
        pd.Categorical(dataset.split, categories=[s for s in SPLITS if s in set(dataset.split)]),
        margins=True,
        margins_name="total",
        dropna=False,
    )
    table.index.name = table.columns.name = None
    return table.astype(int)


def describe_metadata(
    metadata: pd.DataFrame, max_values: int = 6, roles: dict | None = None
) -> list[dict[str, Any]]:
    """Per column: dtype, missing count, range (numeric) or most common values, and role.

    ``roles`` maps columns to :class:`~silentscope.audit.roles.ColumnRole` (see
    :func:`~silentscope.audit.roles.resolve_roles`): a column's ``role`` entry says whether
    the analyses use it, so that an identifier's "range" is not read as a measurement.

    Examples
    --------
    >>> from silentscope.audit.roles import resolve_roles
    >>> meta = pd.DataFrame({"patient_id": [7, 8, 9, 10], "age": [40, 52, 61, 70]})
    >>> [e["role"] for e in describe_metadata(meta, roles=resolve_roles(meta))]
    ['identifier (not analysed)', 'clinical']
    """
    rows = []
    for column in metadata.columns:
        values = metadata[column]
        entry: dict[str, Any] = {
            "column": str(column),
            "dtype": str(values.dtype),
            "missing": int(values.isna().sum()),
        }
        if roles is not None and column in roles:
            role = roles[column]
            entry["role"] = role.role + ("" if role.analysable else " (not analysed)")
            entry["role_reason"] = role.reason
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            entry["summary"] = f"{values.min()} to {values.max()} (median {values.median():g})"
        else:
            counts = values.astype(str).value_counts()
            shown = ", ".join(f"{k} ({v})" for k, v in counts.head(max_values).items())
            more = f", ... {len(counts) - max_values} more" if len(counts) > max_values else ""
            entry["summary"] = f"{len(counts)} values: {shown}{more}"
        rows.append(entry)
    return rows


def summarize(
    dataset: ImageDataset, duplicates: bool = True, method: str = "auto"
) -> dict[str, Any]:
    """Everything ``silentscope data info`` shows, as JSON-serialisable values."""
    first = dataset.load_images([0])[0] if len(dataset) else None
    summary: dict[str, Any] = {
        "name": dataset.name,
        "n_samples": len(dataset),
        "modality": dataset.modality,
        "image_shape": None if first is None else list(first.shape),
        "class_names": list(dataset.class_names),
        "counts": class_counts(dataset).to_dict("index"),
        "metadata": describe_metadata(
            dataset.metadata,
            roles=resolve_roles(
                dataset.metadata,
                (dataset.info or {}).get("metadata_roles"),
                label=dataset.labels,
            ),
        ),
        "has_text": dataset.text is not None,
        "info": dataset.info,
    }
    if dataset.text is not None:
        summary["example_text"] = str(dataset.text[0])
    if duplicates:
        report = duplicate_report(dataset, method)
        summary["duplicates"] = report.summary()
        groups = report.groups
        summary["duplicate_examples"] = [
            {"labels": g.labels, "splits": g.splits, "sample_ids": g.sample_ids[:4]}
            for g in groups[groups["label_conflict"] | groups["cross_split"]].head(5).itertuples()
        ]
    return summary
