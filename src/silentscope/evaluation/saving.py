"""Where an evaluation is written: into the audit store as artifacts, or to a folder as files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from silentscope.evaluation.result import EvaluationResult

#: File formats :func:`save_evaluation` writes to a folder.
FORMATS = ("csv", "parquet", "json")


def parse_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """Formats from a comma-separated string (or a sequence), checked against :data:`FORMATS`.

    Examples
    --------
    >>> parse_formats("csv, json")
    ('csv', 'json')
    """
    parts = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown --format {', '.join(unknown) or formats!r}; choose from {', '.join(FORMATS)}"
        )
    return chosen


def save_evaluation(
    result: EvaluationResult,
    store: str | os.PathLike,
    out: str | os.PathLike | None = None,
    formats: str | Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``result`` into ``store`` as artifacts, or with ``out`` to that folder; the paths written.

    In the store: ``evaluation`` (the table), ``evaluation.classification`` and
    ``evaluation.info`` (unavailable CSFs with reasons, parameters, settings, the
    classifier's health), published together as one commit. In a folder:
    ``evaluation.csv`` / ``.parquet`` (each with its ``.classification`` sibling) and
    ``evaluation.json``, as ``formats`` says.
    """
    chosen = parse_formats(formats)
    if out is None:
        from silentscope.audit.jsonsafe import json_safe
        from silentscope.audit.store import write_artifacts

        info = {
            "unavailable": result.unavailable,
            "csf_params": result.csf_params,
            "settings": result.settings,
            "health": None if result.health is None else result.health.to_dict(),
        }
        info = json_safe(info)
        # One commit: a kill leaves the previous evaluation or this one, never a mix.
        return write_artifacts(
            store,
            {
                "evaluation": result.table,
                "evaluation.classification": result.classification,
                "evaluation.info": info,
            },
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; pass a folder for the result files")
    written: list[Path] = []
    if "csv" in chosen:
        written += result.to_csv(out / "evaluation.csv")
    if "parquet" in chosen:
        written += result.to_parquet(out / "evaluation.parquet")
    if "json" in chosen:
        written.append(result.to_json(out / "evaluation.json"))
    return written


__all__ = ["FORMATS", "parse_formats", "save_evaluation"]
