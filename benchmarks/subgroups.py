"""Evidence for the subgroup analysis and the misclassification predictor.

Two parts, each printed as markdown (and written with --out):

1. Known truth (simulated classifier outputs on the real ODIR-5K metadata, many seeds): does
   the planted risk group (age >= 65, confident errors) come out, does a pure-noise
   attribute stay unreported, is a confounder kept from being called an independent risk
   factor? Baseline in the same run: per-group chi-square tests at p < 0.05 without FDR
   control or adjustment, the quick analysis a user would otherwise run.
2. Real classifiers (audit stores written by ``silentscope train``): subgroup tables,
   the learned predictor (CSF ``MisPred``) against MSR (AUROC_f, AURC, paired bootstrap
   CIs), and flipping/abstention gains with paired bootstrap CIs, MSR as the baseline risk.

    python benchmarks/subgroups.py --seeds 20 --positive-class melanoma \\
        --acquisition-shift site=site_B \\
        --store odir=runs/odir/audit:age,sex,eye:patient_id:age=40,65 \\
        --store synthetic=runs/synthetic/audit:age,sex,site,skin_tone,body_site:patient_id:age=40,70 \\
        --out docs/subgroups_results.md

A store is ``NAME=STORE:attributes[:cluster[:bins]]``; the stores come from ``silentscope
train`` (commands in docs/subgroups_results.md). Without ``--store`` only the known-truth
part runs (about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from silentscope.audit.store import load_audit
from silentscope.cli.subgroups import parse_bins
from silentscope.predictor import (
    compare_confidences,
    estimate_risk,
    feature_importances,
    selective_correction,
)
from silentscope.subgroups import analyze_subgroups

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the simulation lives with the tests, so both use the same one
from tests.support.planted import load_odir_metadata, simulate_audit  # noqa: E402


def naive_discoveries(audit, attributes) -> set[tuple[str, str]]:
    """Baseline: every group whose chi-square test against the rest has p < 0.05, unadjusted."""
    from scipy import stats

    iid = audit.select("iid")
    found = set()
    for name in attributes:
        values = iid.metadata[name]
        groups = (
            np.where(values >= 65, ">=65", "<65")
            if name == "age"
            else values.astype(str).to_numpy()
        )
        for group in np.unique(groups):
            inside = groups == group
            table = [[(~iid.correct[inside]).sum(), iid.correct[inside].sum()],
                     [(~iid.correct[~inside]).sum(), iid.correct[~inside].sum()]]  # fmt: skip
            if stats.chi2_contingency(table, correction=False).pvalue < 0.05:
                found.add((name, str(group)))
    return found


def known_truth(odir_root: Path, seeds: int) -> str:
    meta = load_odir_metadata(odir_root)
    attributes = ["age", "sex", "eye", "scanner", "clinic"]
    counts = {
        key: 0
        for key in (
            "planted",
            "noise",
            "confounder_independent",
            "naive_planted",
            "naive_noise",
            "naive_confounder",
        )
    }
    start = time.perf_counter()
    for seed in range(seeds):
        audit = simulate_audit(meta, seed)
        result = analyze_subgroups(
            audit, attributes, bins={"age": [40, 65]}, cluster="patient_id", random_state=seed
        )
        groups = result.groups.set_index(["attribute", "group"])
        table = result.attributes.set_index("attribute")
        counts["planted"] += bool(
            groups.loc[("age", ">=65"), "significant"]
            and groups.loc[("age", ">=65"), "odds_ratio"] > 1
        )
        counts["noise"] += bool(
            result.groups.query("attribute == 'scanner'")["significant"].any()
            or table.loc["scanner", "associated"]
        )
        counts["confounder_independent"] += bool(table.loc["clinic", "independent"])
        naive = naive_discoveries(audit, attributes)
        counts["naive_planted"] += ("age", ">=65") in naive
        counts["naive_noise"] += any(a == "scanner" for a, _ in naive)
        counts["naive_confounder"] += ("clinic", "geriatric") in naive
    seconds = (time.perf_counter() - start) / seeds
    rows = [
        (
            "planted group age >= 65 reported (higher risk)",
            counts["planted"],
            counts["naive_planted"],
        ),
        ("pure-noise attribute `scanner` reported", counts["noise"], counts["naive_noise"]),
        (
            "confounder `clinic` reported as a risk factor",
            counts["confounder_independent"],
            counts["naive_confounder"],
        ),
    ]
    lines = [
        f"### Known truth: simulated classifier on real ODIR-5K metadata ({seeds} seeds)",
        "",
        "Real age, sex, eye and patient of the 6,113 distinct ODIR images; simulated binary outputs with",
        "error rate 8 % outside and 30 % inside the planted group age >= 65, whose errors are confident;",
        "`scanner` is random (3 levels), `clinic` follows the risk group (80 % vs 15 % 'geriatric').",
        "silentscope: `analyze_subgroups(..., bins={'age': [40, 65]}, cluster='patient_id')`, significant =",
        "BH q <= 0.05 over all tests, a confounder counts only if independent in the multivariable model.",
        "Baseline: per-group chi-square against the rest at p < 0.05, no FDR, no adjustment.",
        "",
        f"| finding (seeds out of {seeds}) | silentscope | baseline |",
        "|---|---|---|",
        *[f"| {name} | {ours} | {theirs} |" for name, ours, theirs in rows],
        "",
        f"Time per analysis: {seconds:.2f} s (6,113 samples, 5 attributes, cluster-robust).",
        "",
    ]
    return "\n".join(lines)


def _fmt(row, estimate, low, high, digits=3) -> str:
    if not np.isfinite(row[estimate]):
        return "-"
    return f"{row[estimate]:.{digits}f} [{row[low]:.{digits}f}, {row[high]:.{digits}f}]"


def real_store(
    name, store: Path, attributes, cluster, bins, positive_class, n_bootstrap, shift
) -> str:
    return audit_report(f"{name}: a real classifier (`{store}`)", load_audit(store), attributes, cluster,
                        bins, positive_class, n_bootstrap, shift)  # fmt: skip


def audit_report(
    title, audit, attributes, cluster, bins, positive_class, n_bootstrap, shift
) -> str:
    lines = [f"### {title}", ""]
    column, _, value = (shift or "").partition("=")
    if column and audit.metadata is not None and column in audit.metadata.columns:
        # The dataset declares these iid samples an acquisition shift; test them as one.
        moved = (audit.test_set == "iid") & (audit.metadata[column].astype(str) == value).to_numpy()
        audit = replace(audit, test_set=np.where(moved, f"acq/{value}", audit.test_set))
        attributes = [a for a in attributes if a != column]
        lines += [
            f"The {int(moved.sum())} `iid` samples with {column} = {value} form test set `acq/{value}`.",
            "",
        ]
    lines += ["```", repr(audit), "```", ""]
    lines += ["| test set | n | accuracy |", "|---|---|---|"]
    lines += [f"| {r.test_set} | {r.n} | {r.accuracy:.3f} |" for r in audit.summary().itertuples()]
    lines += subgroup_lines(audit, attributes, cluster, bins)
    lines += predictor_lines(audit, attributes, cluster, positive_class, n_bootstrap)
    return "\n".join(lines) + "\n"


def subgroup_lines(audit, attributes, cluster, bins) -> list[str]:
    start = time.perf_counter()
    result = analyze_subgroups(
        audit, attributes, bins=bins, per_class=True, per_test_set=True, cluster=cluster
    )
    seconds = time.perf_counter() - start
    n_significant = int(result.groups["significant"].sum())
    lines = [
        "",
        f"**Subgroups** (`analyze_subgroups(audit, {attributes}, bins={bins}, per_class=True, "
        f"per_test_set=True, cluster={cluster!r})`, {seconds:.1f} s): {n_significant} of "
        f"{len(result.groups)} group rows significant at FDR 0.05; the 12 first of the ranked table:",
        "",
        "| test set | class | group | n | error rate [95% CI] | OR vs rest [95% CI] | q | sig. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in result.groups.head(12).iterrows():
        lines.append(
            f"| {r['test_set']} | {r['class']} | {r['attribute']} = {r['group']} | {r['n']} | "
            f"{_fmt(r, 'error_rate', 'error_rate_low', 'error_rate_high')} | "
            f"{_fmt(r, 'odds_ratio', 'or_low', 'or_high', 2)} | {r['q_value']:.2g} | "
            f"{'yes' if r['significant'] else 'no'} |"
        )
    overall = result.attributes[result.attributes["class"] == "all"]
    lines += [
        "",
        "Attributes, all classes (associated: univariable test; independent: multivariable model):",
        "",
        "| test set | attribute | test | q | associated | adjusted q | independent |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in overall.iterrows():
        lines.append(
            f"| {r['test_set']} | {r['attribute']} | {r['test']} | {r['q_value']:.2g} | "
            f"{'yes' if r['associated'] else 'no'} | {r['adjusted_q_value']:.2g} | "
            f"{'yes' if r['independent'] else 'no'} |"
        )
    per_class = result.attributes[
        (result.attributes["class"] != "all") & result.attributes["associated"]
    ]
    found = ", ".join(
        f"{r['attribute']} ({r['test_set']}, class {r['class']})" for _, r in per_class.iterrows()
    )
    lines += ["", f"Per class, associated: {found or 'none'}."]
    if len(result.interactions):
        sig = result.interactions[result.interactions["significant"]]
        found = ", ".join(
            f"{r['attribute']} x {r['test_set']} (class {r['class']})" for _, r in sig.iterrows()
        )
        lines += [f"Attribute x test-set interactions: {len(sig)} of {len(result.interactions)} significant"
                  + (f": {found}." if found else ".")]  # fmt: skip
    if result.skipped:
        shown = "; ".join(f"{s.what}: {s.reason}" for s in result.skipped[:4])
        lines += [f"Skipped ({len(result.skipped)}), e.g.: {shown}."]
    return lines


def predictor_lines(audit, attributes, cluster, positive_class, n_bootstrap) -> list[str]:
    msr = audit.probabilities.max(axis=1)
    evaluation = [t for t in audit.test_sets if t != "val"]
    confidences, estimates = {"MSR": msr}, {}
    variants = (
        ("MisPred (outputs)", None, "hgb"),
        ("MisPred (outputs + metadata)", attributes, "hgb"),
        ("MisPred logreg (outputs + metadata)", attributes, "logreg"),
    )
    for label, metadata, model in variants:
        start = time.perf_counter()
        estimates[label] = estimate_risk(audit, model=model, metadata=metadata, cluster=cluster)
        estimates[label].seconds = time.perf_counter() - start
        confidences[label] = estimates[label].confidence
    table = compare_confidences(audit, confidences, test_sets=evaluation, n_resamples=n_bootstrap)
    lines = [
        "",
        "**Misclassification predictor vs MSR** (HGB unless named, trained on `val` "
        f"({int((~audit.correct[audit.test_set == 'val']).sum())} errors), cross-fitted there; "
        f"{n_bootstrap} paired bootstrap resamples, 95% CI; AURC on the 0-1 scale, lower is better):",
        "",
        "| test set | CSF | AUROC_f | AURC | ΔAUROC_f vs MSR | ΔAURC vs MSR |",
        "|---|---|---|---|---|---|",
    ]
    for (test_set, csf), rows in table.groupby(["test_set", "csf"], sort=False):
        by = rows.set_index("metric")
        au, ar = by.loc["auroc_f"], by.loc["aurc"]
        delta = "-" if csf == "MSR" else _fmt(au, "delta", "delta_low", "delta_high")
        delta_r = "-" if csf == "MSR" else _fmt(ar, "delta", "delta_low", "delta_high", 4)
        lines.append(
            f"| {test_set} | {csf} | {_fmt(au, 'estimate', 'low', 'high')} | "
            f"{_fmt(ar, 'estimate', 'low', 'high', 4)} | {delta} | {delta_r} |"
        )
    best = estimates["MisPred (outputs + metadata)"]
    importance = feature_importances(best, audit.test_set == "iid").head(6)
    lines += [
        "",
        "Permutation importance on iid (AUROC drop): "
        + ", ".join(f"{r.feature} {r.importance:.3f}" for r in importance.itertuples())
        + f". Training time (5-fold cross-fit + full model): {estimates['MisPred (outputs)'].seconds:.1f} s "
        f"(outputs), {best.seconds:.1f} s (+ metadata).",
    ]
    plans = [("abstain", "risk=0.05", None, best.risk)]
    if audit.n_classes == 2:
        plans = [
            ("flip", "f1", None, best.risk),
            ("flip", "balanced_accuracy", None, best.risk),
            *plans,
        ]
    elif positive_class in audit.class_names:
        ovr = estimate_risk(
            audit, metadata=attributes, cluster=cluster, positive_class=positive_class
        )
        plans = [("flip", "f1", positive_class, ovr.risk), *plans]
    lines += [
        "",
        "**Flip and abstain** (threshold chosen on `val`; change on each test set with a paired "
        "bootstrap 95% CI; baseline: the same threshold search on 1 - MSR):",
        "",
        "| action | risk from | test set | changed | metric | before | after | change [95% CI] | real gain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for action, objective, positive, learned in plans:
        for source, risk in (("MisPred (+ metadata)", learned), ("1 - MSR", 1 - msr)):
            res = selective_correction(
                audit, risk, action=action, objective=objective, positive_class=positive,
                cluster=cluster, n_bootstrap=n_bootstrap,
            )  # fmt: skip
            what = f"{action} ({objective}{', ' + positive + ' vs rest' if positive else ''})"
            notes += [f"{what}, {source}: {note}" for note in res.notes]
            for _, r in res.table.iterrows():
                lines.append(
                    f"| {what} | {source} | {r['test_set']} | {r['changed']}/{r['n']} | {r['metric']} | "
                    f"{r['before']:.4f} | {r['after']:.4f} | {_fmt(r, 'delta', 'delta_low', 'delta_high', 4)} | "
                    f"{'yes' if r['significant'] else 'no'} |"
                )
    lines += [""] + [f"Note: {note}." for note in notes]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odir-root", type=Path, default=REPO.parent / "shared" / "data" / "odir")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--store", action="append", default=[], help="NAME=STORE:attr1,attr2[:cluster]"
    )
    parser.add_argument("--positive-class", help="Class to flip one-vs-rest in multi-class stores.")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument(
        "--acquisition-shift", help="COLUMN=VALUE: iid samples with it become test set acq/VALUE."
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    command = "python benchmarks/subgroups.py " + " ".join(sys.argv[1:])
    parts = [
        "## Which patients fail, and catching failures at run time",
        "",
        f"Produced by `{command}`.",
        "",
    ]
    if (args.odir_root / "metadata.csv").is_file():
        parts.append(known_truth(args.odir_root, args.seeds))
        simulated = simulate_audit(load_odir_metadata(args.odir_root), 0)
        title = (
            "Known truth, whole pipeline: the simulated classifier of seed 0 on all ODIR metadata"
        )
        parts.append(audit_report(title, simulated, ["age", "sex", "eye", "scanner"], "patient_id",
                                  {"age": [40.0, 65.0]}, None, args.n_bootstrap, None))  # fmt: skip
    else:
        parts.append(f"(ODIR metadata not found at {args.odir_root}: known-truth part skipped)\n")
    for spec in args.store:
        name, _, rest = spec.partition("=")
        path, _, rest = rest.partition(":")
        attributes, _, rest = rest.partition(":")
        cluster, _, bins = rest.partition(":")
        parts.append(
            real_store(
                name,
                Path(path),
                attributes.split(","),
                cluster or None,
                parse_bins(bins.split(";")) if bins else {"age": [40.0, 65.0]},
                args.positive_class,
                args.n_bootstrap,
                args.acquisition_shift,
            )  # fmt: skip
        )
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
