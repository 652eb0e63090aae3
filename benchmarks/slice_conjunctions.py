"""How much of the network's failure does a conjunction scenario's planted group hold?

A conjunction scenario puts an artifact on 16% of the images and makes the labels
unreliable only for some of those patients (hazy images of women). The benchmark scores
slices against that planted group. But the trained network may fail on the artifact's
other images too (it learned that hazy images are unreliable), and then a slice of every
hazy image is a true failure that the group's Jaccard index scores low. This prints, per
ODIR conjunction scenario and draw, the held-out error rate of the planted group, of the
artifact's other images and of the clean images; with ``--discover``, also the default's
best Jaccard index with the planted group and with every artifact image (seed 0), and how
many images without the artifact the slice most like the artifact holds (and their error rate).

With ``--power``, what the default's confirmation rule lets any slicer say, even one that
found every artifact image exactly, on the default's own fitting / held-out split (seeds 0
and 1): the planted group is its own finding beside the artifact's slice only when it fails
more than the artifact's other images on the held-out split (one-sided Fisher, at 0.05:
one test, the most lenient the default applies), and the artifact's slice may be cut down
to it only when those other images fail no more than the clean ones (fitting split). Where
neither holds, the best slice a report may show is every artifact image, whose
precision@10 is the planted share of it; the "ceiling" columns give that precision@10
(1 where the planted group can be shown alone).

Run (reuses the benchmark's cached networks; trains the missing ones):

    python benchmarks/slice_conjunctions.py [--draws 2] [--set "held-out"] [--discover]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import slice_scenarios as scen
from slices import (
    DEFAULT,
    mostly_within,
    reported_slices,
)  # the benchmark's own reading of a report

from silentscope.slices import discover_slices
from silentscope.slices.consolidate import _fails_more_p
from silentscope.slices.discover import independent_units, split_by_unit

#: The default's significance level and held-out share (``discover_slices``' defaults).
ALPHA, CONFIRM_FRACTION = 0.05, 0.5


def best_jaccard(members: np.ndarray, group: np.ndarray) -> float:
    """The highest Jaccard index of any slice (a column of ``members``) with ``group``."""
    if members.shape[1] == 0:
        return 0.0
    inter = (members & group[:, None]).sum(axis=0)
    union = (members | group[:, None]).sum(axis=0)
    return float((inter / np.maximum(union, 1)).max())


def rates(scenario, draw: int, discover: bool, power: bool = False) -> dict:
    audit, causes = scen.trained_scenario(scenario, scen.cache_dir(None), seed=draw)
    (planted,) = causes.values()
    marked = scen.artifact_rows(scenario, audit, seed=draw)
    errors = ~audit.correct
    others = marked & ~planted
    row = {
        "scenario": scenario.name, "set": scenario.set, "draw": draw,
        "planted": int(planted.sum()), "planted errors": errors[planted].mean(),
        "other artifact images": int(others.sum()), "their errors": errors[others].mean(),
        "clean errors": errors[~marked].mean(),
    }  # fmt: skip
    row["others / clean"] = row["their errors"] / max(row["clean errors"], 1e-9)
    if power:
        for seed in (0, 1):
            row.update(confirmable(audit, planted, marked, seed))
    if discover:
        report = discover_slices(audit, random_state=0)
        members = reported_slices(audit, DEFAULT, 0, report)
        row["Jaccard planted"] = best_jaccard(members, planted)
        row["Jaccard artifact"] = best_jaccard(members, marked)
        row.update(_outsiders(members, marked, errors))
        # the benchmark's "slices per cause" counts slices mostly made of the planted group;
        # a report that repeats the artifact (hazy right eyes, hazy images, hazy women) is
        # one failure read as several, which that count misses
        row["slices mostly artifact"] = mostly_within(members, marked)
    return row


def _outsiders(members, marked, errors) -> dict:
    """The images without the artifact in the slice most like the artifact, and their errors.

    A slice of every hazy image may also hold images blurred by the eye itself (cataract),
    which the network fails too: another failure joined to the artifact's, which the
    planted group's precision counts against the slice.
    """
    if members.shape[1] == 0:
        return {"outsiders in it": 0, "their errors (outsiders)": np.nan}
    inter = (members & marked[:, None]).sum(axis=0)
    union = (members | marked[:, None]).sum(axis=0)
    best = members[:, int(np.argmax(inter / np.maximum(union, 1)))]
    outside = best & ~marked
    return {
        "outsiders in it": int(outside.sum()),
        "their errors (outsiders)": errors[outside].mean() if outside.any() else np.nan,
    }


def confirmable(audit, planted, marked, seed: int) -> dict:
    """Whether the default's rules could show the planted group alone (see the module)."""
    errors = ~audit.correct
    units, _ = independent_units(audit)
    fit, held = (
        np.isin(np.arange(len(errors)), rows)
        for rows in split_by_unit(units, errors, CONFIRM_FRACTION, seed)
    )
    others = marked & ~planted
    # the library's own test of "fails more than" (one-sided Fisher among the given rows)
    p_part = _fails_more_p(planted, others, errors, held)
    p_rest = _fails_more_p(others, ~marked, errors, fit)
    shown = p_part < ALPHA or p_rest >= ALPHA
    return {
        f"p part held-out s{seed}": p_part, f"others fail (fit) s{seed}": p_rest < ALPHA,
        f"ceiling p@10 s{seed}": 1.0 if shown else planted.sum() / marked.sum(),
    }  # fmt: skip


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--set", action="append", help="only these sets (e.g. held-out)")
    parser.add_argument("--discover", action="store_true", help="also run the default")
    parser.add_argument("--power", action="store_true",
                        help="what the confirmation rule lets a report show (module text)")  # fmt: skip
    args = parser.parse_args(argv)
    chosen = [
        s for s in scen.scenarios()
        if s.dataset == "odir" and s.kind in scen.CONJUNCTION_KINDS
        and (not args.set or s.set in args.set)
    ]  # fmt: skip
    table = pd.DataFrame(
        [rates(s, d, args.discover, args.power) for s in chosen for d in range(args.draws)]
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        numeric = table.drop(columns=["scenario", "set", "draw"])
        print("\nmean over scenarios and draws:")
        print(numeric.mean().round(3).to_string())
    return table


if __name__ == "__main__":
    main()
