"""Rank uncertainty of a study's CSFs, and paired comparisons with MSR and with the best.

From the joint resamples of a table (:mod:`silentscope.study.resampling`) each CSF gets a
rank in each column on every resample: its rank distribution (median, 95% interval, the
share of resamples in which it is best) says how firm its place is. The paired
difference of a CSF and MSR (or the column's best) on the same resamples gives a
percentile interval: when it holds 0 the data do not tell them apart. A CSF is "tied with
the best" when the interval of its difference from the column's best holds 0.

Cells with a degenerate classifier among their seeds take no rank unless asked (as in the
tables), partial ones too (their mean over the healthy seeds is over another set of seeds
than the other cells'); :attr:`Ranking.not_ranked` names each such cell and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from silentscope.study.resampling import Resamples, study_resamples

#: The CSF every other one is compared with, when the table has it.
REFERENCE = "MSR"
#: What "tied with the best" means, for captions and files.
TIED_DEFINITION = (
    "tied with the best: the {level:.0%} paired bootstrap interval of its difference from the "
    "column's best CSF holds 0 (resampled over {over})"
)
#: The row of the rank over all columns.
OVERALL = ("all", "mean rank")


@dataclass(frozen=True)
class Ranking:
    """Rank distributions and paired comparisons of one metric's table.

    Attributes
    ----------
    metric : str
    ranks : DataFrame
        One row per (dataset, kind, csf) ranked, and per csf for the rank of its mean rank
        over the columns (dataset ``all``): value, rank (of the table's value),
        rank_median, rank_low, rank_high, p_best, best, tied_with_best.
    pairwise : DataFrame
        One row per (dataset, kind, csf) other than the reference: difference
        (csf - reference, metric units), ci_low, ci_high, p_better and a verdict
        (``better``, ``worse`` or ``no clear difference``).
    over, notes, n_resamples, confidence_level : as in :class:`Resamples`
    not_ranked : DataFrame
        One row per (dataset, kind, csf) cell with a value but no rank (a degenerate seed
        among its seeds, unless ``include_degenerate``): ``reason`` says why.
    """

    metric: str
    ranks: pd.DataFrame
    pairwise: pd.DataFrame
    reference: str | None
    over: str
    notes: list[str]
    n_resamples: int
    confidence_level: float
    check: float
    include_degenerate: bool = False
    not_ranked: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tied(self) -> dict[tuple[str, str], set[str]]:
        """(dataset, kind) -> CSFs that are best or tied with the best."""
        if self.ranks.empty:  # nothing ranked, e.g. every network degenerate
            return {}
        rows = self.ranks[self.ranks["best"] | self.ranks["tied_with_best"]]
        out: dict[tuple[str, str], set[str]] = {}
        for r in rows.itertuples(index=False):
            out.setdefault((r.dataset, r.kind), set()).add(r.csf)
        return out

    def caption(self) -> str:
        return TIED_DEFINITION.format(level=self.confidence_level, over=self.over)


def _ranks(values: np.ndarray, higher_is_better: bool, method: str) -> np.ndarray:
    """Ranks along axis 0 (1 = best); a value undefined on a resample ranks last."""
    signed = -values if higher_is_better else values
    return rankdata(np.where(np.isnan(signed), np.inf, signed), axis=0, method=method)


def _interval(x: np.ndarray, level: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return np.nan, np.nan
    low, high = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def rank_study(
    resamples: Resamples,
    higher_is_better: bool,
    include_degenerate: bool = False,
    confidence_level: float = 0.95,
    reference: str = REFERENCE,
) -> Ranking:
    """Rank distributions and paired comparisons of one metric's resampled table.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 0.01, 500)
    >>> values = np.stack([0.20 + noise, 0.20 + noise, 0.10 + noise])[:, None, :]
    >>> resamples = Resamples("aurc", ["MSR", "PE", "good"], [("d", "iid")],
    ...     values.mean(2), values, np.zeros((3, 1), bool), "test samples only (one seed)")
    >>> ranking = rank_study(resamples, higher_is_better=False)
    >>> ranking.pairwise[["csf", "verdict"]].values.tolist()
    [['PE', 'no clear difference'], ['good', 'better']]
    >>> ranking.tied()[("d", "iid")]
    {'good'}
    """
    r = resamples
    labels = np.asarray(r.labels)
    usable = np.isfinite(r.point) & (include_degenerate | ~r.degenerate)
    level = confidence_level
    rank_rows, pair_rows = [], []
    column_ranks = np.full(r.values.shape, np.nan)
    ref = labels.tolist().index(reference) if reference in labels else None
    for c, (dataset, kind) in enumerate(r.columns):
        at = np.flatnonzero(usable[:, c])
        if not len(at):
            continue
        values = r.values[at, c]
        ranks = _ranks(values, higher_is_better, "average")
        column_ranks[at, c] = ranks
        first = _ranks(values, higher_is_better, "min") == 1
        point_ranks = _ranks(r.point[at, c], higher_is_better, "average")
        best = at[int(np.argmin(point_ranks))]
        for j, i in enumerate(at):
            low, high = _interval(r.values[i, c] - r.values[best, c], level)
            rank_rows.append(
                {
                    "dataset": dataset,
                    "kind": kind,
                    "csf": labels[i],
                    "value": r.point[i, c],
                    "rank": point_ranks[j],
                    "rank_median": float(np.median(ranks[j])),
                    "rank_low": _interval(ranks[j], level)[0],
                    "rank_high": _interval(ranks[j], level)[1],
                    "p_best": float(first[j].mean()),
                    "best": bool(i == best),
                    "tied_with_best": bool(i != best and low <= 0 <= high),
                }
            )
        if ref is None or not usable[ref, c]:
            continue
        for i in at:
            if i == ref:
                continue
            diff = r.values[i, c] - r.values[ref, c]
            low, high = _interval(diff, level)
            better = diff > 0 if higher_is_better else diff < 0
            if (low > 0 or high < 0) and (low > 0) == higher_is_better:
                verdict = "better"
            elif low > 0 or high < 0:
                verdict = "worse"
            else:
                verdict = "no clear difference"
            pair_rows.append(
                {
                    "dataset": dataset,
                    "kind": kind,
                    "csf": labels[i],
                    "reference": reference,
                    "difference": r.point[i, c] - r.point[ref, c],
                    "ci_low": low,
                    "ci_high": high,
                    "p_better": float(better[np.isfinite(diff)].mean()),
                    "verdict": verdict,
                }
            )
    rank_rows += _overall(labels, column_ranks, r, usable, higher_is_better, level)
    left_out = [
        {"dataset": d, "kind": k, "csf": labels[i], "reason": _left_out_reason(r, i, c)}
        for c, (d, k) in enumerate(r.columns)
        for i in np.flatnonzero(np.isfinite(r.point[:, c]) & ~usable[:, c])
    ]
    return Ranking(
        metric=r.metric,
        ranks=pd.DataFrame(rank_rows),
        pairwise=pd.DataFrame(pair_rows),
        reference=reference if ref is not None else None,
        over=r.over,
        notes=list(r.notes),
        n_resamples=r.n_resamples,
        confidence_level=level,
        check=r.check,
        include_degenerate=include_degenerate,
        not_ranked=pd.DataFrame(left_out, columns=["dataset", "kind", "csf", "reason"]),
    )


def _left_out_reason(r: Resamples, i: int, c: int) -> str:
    """Why cell (i, c) of a table takes no rank: how many of its seeds are degenerate."""
    if r.n_degenerate is None or r.n_seeds is None:
        return "degenerate classifier among its seeds"
    bad, n = int(r.n_degenerate[i, c]), int(r.n_seeds[i, c])
    if bad >= n:
        return f"degenerate classifier in all {n} seeds" if n > 1 else "degenerate classifier"
    return (
        f"degenerate classifier in {bad} of {n} seeds: its mean over the {n - bad} healthy "
        "seeds is over another seed set than the ranked cells'"
    )


def _overall(labels, column_ranks, r: Resamples, usable, higher_is_better, level) -> list[dict]:
    """The rank of each CSF's mean rank over its columns, on every resample."""
    ranked = np.flatnonzero(usable.any(axis=1))
    if not len(ranked) or r.values.shape[1] < 2:
        return []
    with np.errstate(all="ignore"):
        mean_rank = np.nanmean(column_ranks[ranked], axis=1)  # (csf, resample)
        point = np.nanmean(
            np.stack(
                [
                    np.where(
                        usable[ranked, c],
                        _point_column_ranks(r, usable, c, higher_is_better)[ranked],
                        np.nan,
                    )
                    for c in range(r.values.shape[1])
                ],
                axis=1,
            ),
            axis=1,
        )
    ranks = _ranks(mean_rank, False, "average")
    first = _ranks(mean_rank, False, "min") == 1
    point_ranks = _ranks(point, False, "average")
    best = int(np.argmin(point))
    rows = []
    for j, i in enumerate(ranked):
        low, high = _interval(mean_rank[j] - mean_rank[best], level)
        rows.append(
            {
                "dataset": OVERALL[0],
                "kind": OVERALL[1],
                "csf": labels[i],
                "value": point[j],
                "rank": point_ranks[j],
                "rank_median": float(np.median(ranks[j])),
                "rank_low": _interval(ranks[j], level)[0],
                "rank_high": _interval(ranks[j], level)[1],
                "p_best": float(first[j].mean()),
                "best": j == best,
                "tied_with_best": bool(j != best and low <= 0 <= high),
            }
        )
    return rows


def _point_column_ranks(r: Resamples, usable, c: int, higher_is_better: bool) -> np.ndarray:
    out = np.full(len(r.labels), np.nan)
    at = np.flatnonzero(usable[:, c])
    out[at] = _ranks(r.point[at, c], higher_is_better, "average")
    return out


def write_ranking(rankings: dict[str, Ranking], out: Path) -> dict[str, Path]:
    """``ranking_<metric>.csv``, ``pairwise_<metric>.csv`` and ``ranking.json`` in ``out``."""
    written, payload = {}, {}
    for metric, ranking in rankings.items():
        # the cells not ranked are rows too, with their reason, not a silent absence
        ranks = ranking.ranks
        if len(ranking.not_ranked):
            left_out = ranking.not_ranked.rename(columns={"reason": "not_ranked"})
            ranks = pd.concat([ranks, left_out], ignore_index=True) if len(ranks) else left_out
        for name, frame in (("ranking", ranks), ("pairwise", ranking.pairwise)):
            path = out / f"{name}_{metric}.csv"
            frame.assign(metric=metric, resampled_over=ranking.over).to_csv(path, index=False)
            written[f"{name}_{metric}"] = path
        payload[metric] = {
            "resampled_over": ranking.over,
            "n_resamples": ranking.n_resamples,
            "confidence_level": ranking.confidence_level,
            "reference": ranking.reference,
            "include_degenerate": ranking.include_degenerate,
            "tied_with_best": ranking.caption(),
            "notes": ranking.notes,
            "largest_difference_from_evaluation_rows": ranking.check,
            "ranks": json.loads(ranking.ranks.to_json(orient="records")),
            "pairwise": json.loads(ranking.pairwise.to_json(orient="records")),
            "not_ranked": json.loads(ranking.not_ranked.to_json(orient="records")),
        }
    written["ranking"] = out / "ranking.json"
    written["ranking"].write_text(json.dumps(payload, indent=2))
    return written


def ranking_lines(ranking: Ranking, top: int = 5) -> list[str]:
    """A few lines for the terminal: what was resampled, and the overall rank intervals."""
    lines = [f"{ranking.metric}: ranks over {ranking.n_resamples} resamples of {ranking.over}"]
    overall = ranking.ranks[ranking.ranks["dataset"] == OVERALL[0]].sort_values("rank")
    for r in overall.head(top).itertuples(index=False):
        lines.append(
            f"  {r.csf}: rank {r.rank:.3g} (median {r.rank_median:.3g}, "
            f"{ranking.confidence_level:.0%} interval {r.rank_low:.3g}-{r.rank_high:.3g}, "
            f"best in {r.p_best:.0%})"
        )
    lines += [f"  note: {n}" for n in ranking.notes]
    return lines


def study_rankings(dirs, long, metrics, include_degenerate, n_resamples, random_state) -> dict:
    """metric -> :class:`~silentscope.study.ranking.Ranking` (empty when ``n_resamples`` is 0)."""
    from silentscope.metrics.registry import get_metric

    if not n_resamples:
        return {}
    resamples = study_resamples(dirs, long, metrics, n_resamples, random_state)
    return {
        m: rank_study(r, get_metric(m).higher_is_better, include_degenerate)
        for m, r in resamples.items()
    }


def read_ranking(path: str | Path, metric: str) -> Ranking:
    """The :class:`Ranking` of ``metric`` from a ``ranking.json`` written by :func:`write_ranking`."""
    payload = json.loads(Path(path).read_text())
    if metric not in payload:
        raise ValueError(f"{path} holds no ranking of {metric!r}; it has {sorted(payload)}")
    data = payload[metric]
    return Ranking(
        metric=metric,
        ranks=pd.DataFrame(data["ranks"]),
        pairwise=pd.DataFrame(data["pairwise"]),
        reference=data["reference"],
        over=data["resampled_over"],
        notes=list(data["notes"]),
        n_resamples=int(data["n_resamples"]),
        confidence_level=float(data["confidence_level"]),
        check=float(data["largest_difference_from_evaluation_rows"]),
        include_degenerate=bool(data.get("include_degenerate", False)),
        not_ranked=pd.DataFrame(data.get("not_ranked", [])),
    )


def _rank_cell(rank_median: float, low: float, high: float, p_best: float) -> str:
    """``median [low-high] · best%`` of one rank distribution.

    Examples
    --------
    >>> _rank_cell(2.0, 1.0, 4.5, 0.3)
    '2 [1-4.5] · 30%'
    """

    def text(x: float) -> str:
        return f"{x:.1f}".removesuffix(".0")

    return f"{text(rank_median)} [{text(low)}-{text(high)}] · {p_best:.0%}"


def ranking_markdown(ranking: Ranking, labels: list[str], scale: float = 1.0) -> str:
    """The rank uncertainty and the paired comparison with the reference as Markdown tables.

    The first table gives, per CSF (rows in ``labels`` order) and column, the rank median,
    its 95% interval and the share of resamples in which the CSF is best, and the same for
    its mean rank over all columns. The second gives each CSF's paired difference from
    the reference (x ``scale``) with its interval and verdict. A cell a column does not
    rank or compare (a degenerate classifier among its seeds, or no value) says so, and
    :attr:`Ranking.not_ranked`'s reasons are listed below the tables.
    """
    from silentscope.study.results import DEGENERATE_MARK, _markdown

    ranks = ranking.ranks
    left_out = _not_ranked_lines(ranking)
    if ranks.empty:
        return f"\nNo CSF ranked on {ranking.metric} (every cell degenerate or empty).\n" + "".join(
            left_out
        )
    unranked = set()
    if len(ranking.not_ranked):
        unranked = set(
            zip(*(ranking.not_ranked[k] for k in ("csf", "dataset", "kind")), strict=True)
        )
    level = f"{ranking.confidence_level:.0%}"
    columns = list(dict.fromkeys(zip(ranks["dataset"], ranks["kind"], strict=True)))
    columns = [c for c in columns if c != OVERALL] + [c for c in columns if c == OVERALL]
    by_cell = ranks.set_index(["csf", "dataset", "kind"])
    rows = {}
    for label in labels:
        cells = []
        for dataset, kind in columns:
            if (label, dataset, kind) not in by_cell.index:
                cells.append(f"not ranked{DEGENERATE_MARK}" if kind != OVERALL[1] else "")
                continue
            r = by_cell.loc[(label, dataset, kind)]
            cells.append(_rank_cell(r["rank_median"], r["rank_low"], r["rank_high"], r["p_best"]))
        rows[label] = cells
    names = [
        "all columns (rank of mean rank)" if c == OVERALL else f"{c[0]} {c[1]}" for c in columns
    ]
    out = [
        f"\nRank of each CSF on {ranking.n_resamples} joint bootstrap resamples of "
        f"{ranking.over}: median [{level} interval] · share of resamples in which it is best.\n\n",
        _markdown("CSF", names, rows),
    ]
    pairs = ranking.pairwise
    if ranking.reference is not None and len(pairs):
        pair_columns = list(dict.fromkeys(zip(pairs["dataset"], pairs["kind"], strict=True)))
        by_pair = pairs.set_index(["csf", "dataset", "kind"])
        rows = {}
        for label in labels:
            if label == ranking.reference:
                continue
            cells = []
            for dataset, kind in pair_columns:
                if (label, dataset, kind) not in by_pair.index:
                    unpaired = (label, dataset, kind) in unranked
                    cells.append(f"not compared{DEGENERATE_MARK}" if unpaired else "")
                    continue
                p = by_pair.loc[(label, dataset, kind)]
                cells.append(
                    f"{p['difference'] * scale:+.1f} [{p['ci_low'] * scale:+.1f}, "
                    f"{p['ci_high'] * scale:+.1f}] {p['verdict']}"
                )
            if any(cells):
                rows[label] = cells
        counts = pairs["verdict"].value_counts()
        out += [
            f"\nEach CSF minus {ranking.reference} (x{scale:g}) on the same resamples, with the "
            f"{level} paired interval: {counts.get('better', 0)} better, "
            f"{counts.get('worse', 0)} worse, {counts.get('no clear difference', 0)} with no "
            "clear difference (interval holds 0).\n\n",
            _markdown("CSF", [f"{d} {k}" for d, k in pair_columns], rows),
        ]
    out += left_out + [f"\nNote: {note}\n" for note in ranking.notes]
    return "".join(out)


def _not_ranked_lines(ranking: Ranking) -> list[str]:
    """Markdown lines naming the cells :attr:`Ranking.not_ranked`, grouped by reason."""
    from silentscope.study.results import DEGENERATE_MARK

    if not len(ranking.not_ranked):
        return []
    lines = [f"\n{DEGENERATE_MARK} Not ranked or compared:\n\n"]
    for reason, rows in ranking.not_ranked.groupby("reason", sort=False):
        # CSFs left out of the same columns named once, with those columns
        columns = rows.assign(column=rows["dataset"] + " " + rows["kind"])
        by_csf = columns.groupby("csf", sort=False)["column"].agg(", ".join)
        for where, csfs in by_csf.groupby(by_csf, sort=False):
            lines.append(f"- {reason}: {', '.join(csfs.index)} in {where}\n")
    return lines
