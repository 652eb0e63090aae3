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
        # past the palette, the line style changes: no two CSFs share colour and style
        colour, style = PALETTE[i % len(PALETTE)], ("-", "--", ":")[i // len(PALETTE) % 3]
        left.plot(coverage, risk, color=colour, ls=style, lw=1.4, label=name)
        right.plot(coverage, generalized, color=colour, ls=style, lw=1.4, label=name)
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
    """A metric vs corruption severity (mean over corruption types), one panel per CSF family.

    ``long`` holds one dataset's rows with a ``label`` column (the CSF, qualified by its
    training objective where that is not plain CE) and an ``objective`` column, so
    objectives are never averaged. Each objective (family) gets its own small panel with a
    few lines; a CSF keeps one colour in every panel, and the legend sits below the
    panels, never over a line.
    """
    rows = long[(long["metric"] == metric) & long["test_set"].str.startswith("cor/")]
    rows = rows[rows["test_set"].map(_parses)]
    if rows.empty:
        return None
    rows = rows.assign(severity=rows["test_set"].map(lambda n: parse_test_set(n).severity))
    if "csf" not in rows or "objective" not in rows:  # labels only: "MCD-MI (devries)"
        parts = rows["label"].str.extract(r"^(.*?)(?: \((.+)\))?$")
        rows = rows.assign(csf=parts[0], objective=parts[1].fillna("ce"))
    at_iid = long[(long["metric"] == metric) & (long["test_set"] == "iid")]
    iid = at_iid.groupby("label")["value"].mean()
    family = rows.drop_duplicates("label").set_index("label")["objective"]
    names = list(dict.fromkeys(rows["csf"]))
    colour = {csf: PALETTE[i % len(PALETTE)] for i, csf in enumerate(names)}
    style = {csf: ("-", "--", ":", "-.")[i // len(PALETTE) % 4] for i, csf in enumerate(names)}
    mean = rows.groupby(["label", "severity"])["value"].mean().unstack("severity")
    families = list(dict.fromkeys(family))
    figure, axes = plt.subplots(
        1,
        len(families),
        figsize=(2.9 * len(families) + 0.4, 2.9),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    csf_of = rows.drop_duplicates("label").set_index("label")["csf"]
    for axis, objective in zip(axes[0], families, strict=True):
        for name in [n for n in mean.index if family[n] == objective]:
            values = mean.loc[name].dropna()
            xs = [0, *values.index.tolist()] if name in iid else values.index.tolist()
            ys = [iid[name], *values.tolist()] if name in iid else values.tolist()
            csf = csf_of[name]
            axis.plot(xs, np.asarray(ys) * scale, marker="o", ms=3, lw=1.3,
                      color=colour[csf], ls=style[csf], label=csf)  # fmt: skip
        axis.set(xlabel="corruption severity (0 = iid)", title=str(objective))
    axes[0][0].set_ylabel(label)
    handles = {}
    for axis in axes[0]:
        for handle, name in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    figure.legend(
        handles.values(), handles.keys(), loc="outside lower center",
        ncol=min(len(handles), 6), frameon=False, fontsize=8,
    )  # fmt: skip
    figure.suptitle(f"{title + ': ' if title else ''}{label} under corruptions", fontsize=10)
    return to_svg(figure)


def rank_figure(
    ranks: pd.DataFrame, title: str, max_panels: int = 20, per_row: int = 5
) -> str | None:
    """Each CSF's rank: a dot at the median over resamples and its 95% interval, per column.

    ``ranks`` is :attr:`silentscope.study.ranking.Ranking.ranks` (columns dataset, kind,
    csf, rank_median, rank_low, rank_high, p_best). The first panel is the rank of the
    mean rank over all columns when present; CSFs are ordered by it.
    """
    if ranks.empty:
        return None
    panels = list(dict.fromkeys(zip(ranks["dataset"], ranks["kind"], strict=True)))
    panels = sorted(panels, key=lambda p: p[0] != "all")[:max_panels]
    first = ranks[(ranks["dataset"] == panels[0][0]) & (ranks["kind"] == panels[0][1])]
    order = list(first.sort_values(["rank_median", "rank"])["csf"])
    order += [c for c in dict.fromkeys(ranks["csf"]) if c not in order]
    height = 0.22 * len(order) + 1.1
    n_cols = min(per_row, len(panels))
    n_rows = -(-len(panels) // n_cols)
    figure, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(2.2 * n_cols + 1.4, height * n_rows),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for axis in axes.ravel()[len(panels) :]:
        axis.set_visible(False)
    y = {csf: i for i, csf in enumerate(order)}
    for axis, (dataset, kind) in zip(axes.ravel(), panels, strict=False):
        at = ranks[(ranks["dataset"] == dataset) & (ranks["kind"] == kind)]
        ys = at["csf"].map(y).to_numpy()
        axis.hlines(ys, at["rank_low"], at["rank_high"], color=PALETTE[0], lw=2.2, alpha=0.45)
        axis.scatter(at["rank_median"], ys, s=12 + 40 * at["p_best"], color=PALETTE[0], zorder=3)
        axis.set(title="all columns" if dataset == "all" else f"{dataset} {kind}", xlabel="rank")
        axis.set_xlim(0.5, max(float(ranks["rank_high"].max()), 2) + 0.5)
    for row in axes:
        row[0].set_yticks(range(len(order)), order)
    axes[0][0].invert_yaxis()  # shared: every panel lists the best first
    figure.suptitle(title, fontsize=10)
    return to_svg(figure)


def dice_severity_figure(dice: pd.DataFrame, title: str = "") -> str | None:
    """Dice vs severity, one panel per corruption, one line (with its CI band) per variant.

    ``dice`` holds one dataset's rows of
    :func:`~silentscope.study.segmentation_results.dice_table`; severity 0 is iid.
    """
    corruptions = [c for c in dict.fromkeys(dice["corruption"]) if c]
    if not corruptions:
        return None
    iid = dice[dice["test_set"] == "iid"].set_index("objective")
    columns = min(3, len(corruptions))
    rows_n = -(-len(corruptions) // columns)
    figure, axes = plt.subplots(
        rows_n, columns, figsize=(2.7 * columns, 2.3 * rows_n), squeeze=False, sharey=True
    )
    variants = list(dict.fromkeys(dice["objective"]))
    for axis, corruption in zip(axes.flat, corruptions, strict=False):
        for i, variant in enumerate(variants):
            rows = dice[(dice["corruption"] == corruption) & (dice["objective"] == variant)]
            rows = rows.sort_values("severity")
            xs, ys = rows["severity"].tolist(), rows["value"].tolist()
            lows, highs = rows["ci_low"].tolist(), rows["ci_high"].tolist()
            if variant in iid.index:
                xs, ys = [0, *xs], [iid.at[variant, "value"], *ys]
                lows, highs = (
                    [iid.at[variant, "ci_low"], *lows],
                    [iid.at[variant, "ci_high"], *highs],
                )
            colour = PALETTE[i % len(PALETTE)]
            axis.plot(xs, ys, marker="o", ms=3, lw=1.3, color=colour, label=variant)
            axis.fill_between(xs, lows, highs, color=colour, alpha=0.15, lw=0)
        axis.set(title=corruption, xlabel="severity (0 = iid)")
    for axis in axes.flat[len(corruptions) :]:
        axis.set_visible(False)
    axes[0][0].set_ylabel("Dice")
    axes[0][0].legend(frameon=False, fontsize=7)
    if title:
        figure.suptitle(f"{title}: Dice under unseen corruptions", fontsize=10)
    figure.tight_layout()
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
