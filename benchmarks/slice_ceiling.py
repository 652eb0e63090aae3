"""How well could one appearance measure name each image-only scenario's planted group?

For every image-only scenario of the slice benchmark (ODIR, both sizes), the best single
cut of one appearance measure (the 1-30% most extreme images on either side, in steps of
1%) is compared with the planted group by Jaccard index; with ``--boosted``, a
gradient-boosted classifier trained on all the measures with the planted group as
its target is scored by 5-fold cross-validated average precision. When no cut names the
group (vignetting; glare and dust specks before round 10), slice discovery cannot report it as a described
slice, and the lever is a measure, not the slicer.

Run (reuses the benchmark's cached networks; trains the missing ones):

    python benchmarks/slice_ceiling.py [--draw 0] [--boosted] [--kind grain --kind dust]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import slice_scenarios as scen

from silentscope.data.appearance import APPEARANCE_COLUMNS


def best_cut(values: np.ndarray, group: np.ndarray) -> tuple[float, str]:
    """(Jaccard, side) of the best cut of one measure at its 1-30% most extreme values."""
    best = (0.0, "")
    for share in np.linspace(0.01, 0.30, 30):
        high, low = np.quantile(values, 1 - share), np.quantile(values, share)
        for side, cut in ((">", values >= high), ("<=", values <= low)):
            jaccard = (cut & group).sum() / max((cut | group).sum(), 1)
            if jaccard > best[0]:
                best = (float(jaccard), side)
    return best


def ceiling(scenario, draw: int, boosted: bool) -> dict:
    audit, causes = scen.trained_scenario(scenario, scen.cache_dir(None), seed=draw)
    (group,) = causes.values()
    measures = audit.metadata[list(APPEARANCE_COLUMNS)].to_numpy(dtype=np.float64)
    cuts = [best_cut(measures[:, j], group) for j in range(measures.shape[1])]
    j = int(np.argmax([c[0] for c in cuts]))
    row = {
        "scenario": scenario.name, "planted": int(group.sum()),
        "best cut Jaccard": round(cuts[j][0], 2), "measure": f"{APPEARANCE_COLUMNS[j]} {cuts[j][1]}",
    }  # fmt: skip
    if boosted:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import average_precision_score
        from sklearn.model_selection import cross_val_predict

        scores = cross_val_predict(
            HistGradientBoostingClassifier(random_state=0), measures, group, cv=5,
            method="predict_proba",
        )[:, 1]  # fmt: skip
        row["boosted AP (5-fold)"] = round(float(average_precision_score(group, scores)), 2)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--boosted", action="store_true")
    parser.add_argument("--kind", action="append", help="image-only kinds (default: all)")
    args = parser.parse_args(argv)
    kinds = args.kind or list(scen.IMAGE_KINDS)
    unknown = sorted(set(kinds) - set(scen.IMAGE_KINDS))
    if unknown:
        parser.error(f"not image-only kinds: {unknown}; choose from {list(scen.IMAGE_KINDS)}")
    rows = [
        ceiling(s, args.draw, args.boosted)
        for s in scen.scenarios()
        if s.dataset == "odir" and s.kind in kinds
    ]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
