"""The result of :func:`~silentscope.evaluation.evaluate`: tidy tables, reasons, files."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from silentscope.audit.health import ModelHealth
from silentscope.audit.jsonsafe import json_safe
from silentscope.metrics import get_metric

FORMAT = "silentscope-evaluation"
SCHEMA_VERSION = 1


def health_columns(result: EvaluationResult) -> dict[str, Any]:
    """Columns that label every row of a run's results with the classifier's health.

    ``degenerate`` (bool), ``health`` (the reason, one sentence) and ``imbalanced`` (the
    checked split's largest class is at least twice its smallest, so balanced accuracy
    belongs beside accuracy). Study tables, the report and ranks read them.

    Examples
    --------
    >>> import pandas as pd
    >>> health_columns(EvaluationResult(pd.DataFrame(), pd.DataFrame()))
    {'degenerate': False, 'health': '', 'imbalanced': False}
    """
    health = result.health
    return {
        "degenerate": bool(result.degenerate),
        "health": "" if health is None else health.reason,
        "imbalanced": bool(health is not None and health.imbalanced),
    }


def metric_label(metric: str) -> str:
    """Display name of a metric with the scale its table values are shown on.

    Examples
    --------
    >>> metric_label("aurc"), metric_label("auroc_f"), metric_label("nll")
    ('AURC (x1000)', 'AUROC_f (%)', 'NLL')
    """
    spec = get_metric(metric)
    if spec.table_scale == 1:
        return spec.display_name
    if spec.table_scale == 100:
        return f"{spec.display_name} (%)"
    return f"{spec.display_name} (x{spec.table_scale:g})"


@dataclass
class EvaluationResult:
    """CSF x test set x metric results, with what could not be computed and why.

    Attributes
    ----------
    table : DataFrame
        One row per CSF, group (test set or pooled shift kind) and failure-detection metric:
        csf, test_set, test_set_kind, pooled, metric, value, ci_low, ci_high, n, n_errors,
        accuracy, shift_change (mean change from the clean images in grey levels, NaN where
        none is recorded; :func:`~silentscope.audit.is_negligible_shift` says when a
        corrupted set is no shift), note. Values are on the 0-1 scale of the metrics package.
    classification : DataFrame
        One row per group and classification metric (same columns without csf).
    unavailable : dict of str to str
        CSF name -> the reason it could not be computed.
    csf_params : dict of str to dict
        Hyper-parameters and scalar fitted values (e.g. ``temperature_``) per CSF.
    settings : dict
        Metrics, test sets, pooled groups, bootstrap settings and seed used.
    health : ModelHealth, optional
        Whether the classifier is degenerate (one class predicted, or no better than the
        majority class; :func:`~silentscope.audit.health.model_health`). The numbers of a
        degenerate classifier's CSFs rank noise around one class: :attr:`degenerate` says
        so, and study tables, the report and ``silentscope evaluate`` label them.
    """

    table: pd.DataFrame
    classification: pd.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    csf_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    health: ModelHealth | None = None

    @property
    def degenerate(self) -> bool:
        """Whether the evaluated classifier is degenerate (see :attr:`health`)."""
        return self.health is not None and self.health.degenerate

    @property
    def csfs(self) -> list[str]:
        """The CSFs evaluated, in order."""
        return list(dict.fromkeys(self.table["csf"]))

    @property
    def groups(self) -> list[str]:
        """Test sets then pooled groups, in order."""
        frame = self.table if len(self.table) else self.classification
        return list(dict.fromkeys(frame["test_set"]))

    @property
    def metrics(self) -> list[str]:
        """Failure-detection metrics in ``table``, in order."""
        return list(dict.fromkeys(self.table["metric"]))

    def wide(self, metric: str, column: str = "value") -> pd.DataFrame:
        """CSF x test-set pivot of one metric, on the scale the metric registry gives tables.

        AURC-type metrics are multiplied by 1000 and AUROC-type ones by 100, exactly as
        :attr:`MetricSpec.table_scale` says; the unit is in the columns' label
        (``columns.name``, e.g. ``"AURC (x1000)"``).

        Parameters
        ----------
        metric : str
            A metric name present in ``table`` (or in ``classification``, giving one row).
        column : {"value", "ci_low", "ci_high"}, default "value"

        Examples
        --------
        >>> import pandas as pd
        >>> table = pd.DataFrame({"csf": ["MSR", "MSR"], "test_set": ["iid", "cor (pooled)"],
        ...                       "metric": ["aurc", "aurc"], "value": [0.0123, 0.05]})
        >>> wide = EvaluationResult(table, pd.DataFrame()).wide("aurc")
        >>> wide.columns.name, wide.loc["MSR"].round(1).tolist()
        ('AURC (x1000)', [12.3, 50.0])
        """
        if column not in ("value", "ci_low", "ci_high"):
            raise ValueError(f"column must be 'value', 'ci_low' or 'ci_high', got {column!r}")
        spec = get_metric(metric)
        rows = self._rows(metric)
        wide = rows.pivot(index="csf", columns="test_set", values=column) * spec.table_scale
        wide = wide.reindex(
            index=list(dict.fromkeys(rows["csf"])), columns=list(dict.fromkeys(rows["test_set"]))
        )
        wide.columns.name = metric_label(metric)
        return wide

    def kind_means(self, metric: str) -> pd.DataFrame:
        """``metric`` averaged over the test sets of each shift kind that has two or more.

        This is the paper's "cor" (Bungert et al. 2023: each corruption test set weighs the
        same), from :func:`~silentscope.evaluation.kind_means`; the pooled groups (``cor
        (pooled)``) in :attr:`table` treat the kind's samples as one set instead.

        Returns
        -------
        DataFrame
            ``csf`` (``classifier`` for a classification metric), ``kind``, ``value`` (on
            the 0-1 scale), ``n_test_sets`` and ``n_unchanged`` (corrupted sets left out
            because their images did not change).

        Examples
        --------
        >>> table = pd.DataFrame({"csf": ["MSR"] * 3, "metric": ["aurc"] * 3,
        ...     "test_set": ["cor/noise/1", "cor/blur/1", "cor (pooled)"], "value": [0.1, 0.3, 0.25]})
        >>> EvaluationResult(table, pd.DataFrame()).kind_means("aurc").round(3).values.tolist()
        [['MSR', 'cor', 0.2, 2, 0]]
        """
        from silentscope.evaluation.kinds import kind_means

        rows = self._rows(metric)
        means = kind_means(rows, by=["csf"])
        return means[means["n_test_sets"] >= 2].reset_index(drop=True)

    def summary_groups(self, max_groups: int = 10) -> tuple[list[str], int]:
        """The groups a printed summary shows, and how many single corruption sets it leaves out.

        Up to ``max_groups`` groups, all are shown; beyond, single corruption test sets
        are left out (their mean and pooled groups stay).
        """
        from silentscope.audit import parse_test_set

        pooled = set(self.settings.get("pooled_groups", {}))

        def single_corruption(name: str) -> bool:
            return name not in pooled and parse_test_set(name).kind == "cor"

        groups = self.groups
        if len(groups) <= max_groups:
            return groups, 0
        shown = [name for name in groups if not single_corruption(name)]
        return shown, len(groups) - len(shown)

    def _rows(self, metric: str) -> pd.DataFrame:
        spec = get_metric(metric)
        if spec.kind == "classification":
            source = self.classification.assign(csf="classifier")
        else:
            source = self.table
        rows = source[source["metric"] == metric] if len(source) else source
        if rows.empty:
            present = sorted(
                set(self.table.get("metric", [])) | set(self.classification.get("metric", []))
            )
            raise ValueError(
                f"metric {metric!r} was not evaluated; available: {', '.join(present) or 'none'}"
            )
        return rows

    # ------------------------------------------------------------------ files
    def to_csv(self, path: str | os.PathLike) -> list[Path]:
        """Write ``table`` to ``path`` and ``classification`` beside it (``<stem>.classification.csv``)."""
        return self._write_frames(Path(path), lambda frame, p: frame.to_csv(p, index=False))

    def to_parquet(self, path: str | os.PathLike) -> list[Path]:
        """Write ``table`` to ``path`` and ``classification`` beside it (``<stem>.classification.parquet``)."""
        return self._write_frames(Path(path), lambda frame, p: frame.to_parquet(p, index=False))

    def _write_frames(self, path: Path, write) -> list[Path]:
        path.parent.mkdir(parents=True, exist_ok=True)
        sibling = path.with_name(f"{path.stem}.classification{path.suffix}")
        write(self.table, path)
        write(self.classification, sibling)
        return [path, sibling]

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write everything (tables, unavailable CSFs with reasons, parameters, settings) as one JSON file.

        NaN values are written as ``null``. Read it back with :func:`read_evaluation`.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "settings": self.settings,
            "unavailable": self.unavailable,
            "csf_params": self.csf_params,
            "health": None if self.health is None else self.health.to_dict(),
            "table": _records(self.table),
            "classification": _records(self.classification),
        }
        path.write_text(json.dumps(json_safe(document), indent=1) + "\n")
        return path

    def __repr__(self) -> str:
        return (
            f"EvaluationResult(csfs={self.csfs}, groups={len(self.groups)}, metrics={self.metrics}, "
            f"rows={len(self.table)}, unavailable={sorted(self.unavailable)}"
            + (f", DEGENERATE: {self.health.reason}" if self.degenerate else "")
            + ")"
        )


def read_evaluation(path: str | os.PathLike) -> EvaluationResult:
    """Load an :class:`EvaluationResult` written by :meth:`EvaluationResult.to_json`."""
    path = Path(path)
    document = json.loads(path.read_text())
    if document.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a silentscope evaluation file (written by EvaluationResult.to_json)"
        )
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has evaluation schema version {document.get('schema_version')}, this "
            f"silentscope reads version {SCHEMA_VERSION}; re-run the evaluation"
        )

    def frame(records: list[dict]) -> pd.DataFrame:
        data = pd.DataFrame.from_records(records)
        for column in (
            "value",
            "ci_low",
            "ci_high",
            "accuracy",
            "balanced_accuracy",
            "shift_change",
        ):
            if column in data:
                data[column] = data[column].astype("float64")
        return data

    return EvaluationResult(
        table=frame(document["table"]),
        classification=frame(document["classification"]),
        unavailable=document["unavailable"],
        csf_params=document["csf_params"],
        settings=document["settings"],
        health=None if not document.get("health") else ModelHealth.from_dict(document["health"]),
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in row.items()
        }
        for row in frame.to_dict(orient="records")
    ]
