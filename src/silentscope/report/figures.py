"""Figures of the report, drawn with matplotlib and returned as inline SVG text."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display needed; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from silentscope.audit.test_sets import parse_test_set  # noqa: E402

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
]
plt.rcParams.update(
    {
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "svg.fonttype": "none",
    }
)


def to_svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog so the SVG can be inlined


def risk_coverage_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], title: str
) -> str:
    """Selective and generalized risk vs coverage, one line per CSF.

    ``curves`` maps a CSF name to (coverage, selective risk, generalized risk) arrays.
    """
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.2, 3.0))
    for i, (name, (coverage, risk, generalized)) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        left.plot(coverage, risk, color=colour, lw=1.4, label=name)
        right.plot(coverage, generalized, color=colour, lw=1.4, label=name)
    left.set(xlabel="coverage", ylabel="selective risk", title="risk-coverage", xlim=(0, 1))
    right.set(
        xlabel="coverage", ylabel="generalized risk", title="generalized risk-coverage", xlim=(0, 1)
    )
    left.set_ylim(bottom=0)
    right.set_ylim(bottom=0)
    right.legend(frameon=False, fontsize=8, loc="upper left")
    figure.suptitle(title, fontsize=10)
    return to_svg(figure)


def severity_figure(
    long: pd.DataFrame, metric: str, scale: float, label: str, title: str = ""
) -> str | None:
    """A metric vs corruption severity (mean over corruption types), one line per row label.

    ``long`` holds one dataset's rows with a ``label`` column (the CSF, qualified by its
    training objective where that is not plain CE), so objectives are never averaged.
    """
    rows = long[(long["metric"] == metric) & long["test_set"].str.startswith("cor/")]
    rows = rows[rows["test_set"].map(_parses)]
    if rows.empty:
        return None
    rows = rows.assign(severity=rows["test_set"].map(lambda n: parse_test_set(n).severity))
    iid = (
        long[(long["metric"] == metric) & (long["test_set"] == "iid")]
        .groupby("label")["value"]
        .mean()
    )
    mean = rows.groupby(["label", "severity"])["value"].mean().unstack("severity")
    figure, axis = plt.subplots(figsize=(5.2, 3.2))
    for i, (name, values) in enumerate(mean.iterrows()):
        xs = [0, *values.index.tolist()] if name in iid else values.index.tolist()
        ys = [iid[name], *values.tolist()] if name in iid else values.tolist()
        axis.plot(
            xs,
            np.asarray(ys) * scale,
            marker="o",
            ms=3,
            lw=1.3,
            color=PALETTE[i % len(PALETTE)],
            label=name,
        )
    axis.set(
        xlabel="corruption severity (0 = iid)",
        ylabel=label,
        title=f"{title + ': ' if title else ''}{label} under corruptions",
    )
    axis.legend(frameon=False, fontsize=7, ncol=2)
    return to_svg(figure)


def accuracy_figure(summary: pd.DataFrame) -> str:
    """Accuracy per test set as horizontal bars (validation split excluded)."""
    summary = summary[summary["test_set"] != "val"]
    figure, axis = plt.subplots(figsize=(5.2, 0.28 * len(summary) + 0.9))
    colours = [PALETTE[0] if kind == "iid" else PALETTE[1] for kind in summary["kind"]]
    axis.barh(summary["test_set"], summary["accuracy"], color=colours)
    axis.invert_yaxis()
    axis.set(xlabel="accuracy", xlim=(0, 1), title="accuracy per test set")
    for y, value in enumerate(summary["accuracy"]):
        axis.text(min(value + 0.01, 0.93), y, f"{value:.2f}", va="center", fontsize=7)
    return to_svg(figure)


def reliability_figure(panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, float]]) -> str:
    """Reliability diagrams: per test set, (bin confidence, bin accuracy, bin count, ECE)."""
    n = len(panels)
    figure, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.7), squeeze=False)
    for axis, (name, (confidence, accuracy, counts, ece)) in zip(
        axes[0], panels.items(), strict=True
    ):
        keep = counts > 0
        axis.plot([0, 1], [0, 1], color="#999", lw=0.8, ls="--")
        axis.bar(
            confidence[keep],
            accuracy[keep],
            width=1 / len(counts),
            alpha=0.7,
            color=PALETTE[0],
            edgecolor="white",
        )
        axis.set(
            xlim=(0, 1), ylim=(0, 1), xlabel="confidence (MSR)", title=f"{name}\nECE {ece:.3f}"
        )
    axes[0][0].set_ylabel("accuracy")
    return to_svg(figure)


def _parses(name: str) -> bool:
    try:
        parse_test_set(name)
    except ValueError:
        return False
    return True
