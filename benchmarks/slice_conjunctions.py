"""How much of the network's failure does a conjunction scenario's planted group hold?

A conjunction scenario puts an artifact on 16% of the images and makes the labels
unreliable only for some of those patients (hazy images of women). The benchmark scores
slices against that planted group. But the trained network may fail on the artifact's
other images too (it learned that hazy images are unreliable), and then a slice of every
hazy image is a true failure that the group's Jaccard index scores low. This prints, per
ODIR conjunction scenario and draw, the held-out error rate of the planted group, of the
artifact's other images and of the clean images; with ``--discover``, also the default's
best Jaccard index with the planted group and with every artifact image (seed 0).

Run (reuses the benchmark's cached networks; trains the missing ones):

    python benchmarks/slice_conjunctions.py [--draws 2] [--set "held-out"] [--discover]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import slice_scenarios as scen
from slices import DEFAULT, reported_slices  # the benchmark's own reading of a report

from silentscope.slices import discover_slices


def best_jaccard(members: np.ndarray, group: np.ndarray) -> float:
    """The highest Jaccard index of any slice (a column of ``members``) with ``group``."""
    if members.shape[1] == 0:
        return 0.0
    inter = (members & group[:, None]).sum(axis=0)
    union = (members | group[:, None]).sum(axis=0)
    return float((inter / np.maximum(union, 1)).max())


def rates(scenario, draw: int, discover: bool) -> dict:
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
    if discover:
        report = discover_slices(audit, random_state=0)
        members = reported_slices(audit, DEFAULT, 0, report)
        row["Jaccard planted"] = best_jaccard(members, planted)
        row["Jaccard artifact"] = best_jaccard(members, marked)
    return row


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--set", action="append", help="only these sets (e.g. held-out)")
    parser.add_argument("--discover", action="store_true", help="also run the default")
    args = parser.parse_args(argv)
    chosen = [
        s for s in scen.scenarios()
        if s.dataset == "odir" and s.kind in scen.CONJUNCTION_KINDS
        and (not args.set or s.set in args.set)
    ]  # fmt: skip
    table = pd.DataFrame([rates(s, d, args.discover) for s in chosen for d in range(args.draws)])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        numeric = table.drop(columns=["scenario", "set", "draw"])
        print("\nmean over scenarios and draws:")
        print(numeric.mean().round(3).to_string())
    return table


if __name__ == "__main__":
    main()
