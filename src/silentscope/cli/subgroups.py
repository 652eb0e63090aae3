"""``silentscope subgroups`` and ``silentscope predictor``: which patients fail, and catching it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from silentscope.cli._common import console, err_console, user_errors

#: Below this many training errors the CLI suggests comparing with the logistic model.
FEW_ERRORS = 100

STORE_ARGUMENT = typer.Argument(..., help="Audit store folder (see `silentscope import`).")


def parse_bins(values: list[str]) -> dict[str, int | list[float]]:
    """``age=40,65`` (cut points) or ``age=q4`` (quantile bins) to a bins mapping.

    Examples
    --------
    >>> parse_bins(["age=40,65", "bmi=q3"])
    {'age': [40.0, 65.0], 'bmi': 3}
    """
    bins: dict[str, int | list[float]] = {}
    for value in values:
        name, _, spec = value.partition("=")
        try:
            if spec.startswith("q"):
                bins[name] = int(spec[1:])
            else:
                bins[name] = [float(v) for v in spec.split(",")]
        except ValueError:
            spec = ""
        if not name or not spec:
            raise ValueError(
                f"--bins {value!r} is not valid; write age=40,65 (cut points) or age=q4 (quantile bins)"
            )
    return bins


def _fmt(value: float, digits: int = 3) -> str:
    import pandas as pd

    return "-" if pd.isna(value) else f"{value:.{digits}g}"


def _interval(row, estimate: str, low: str, high: str, digits: int = 3) -> str:
    return f"{_fmt(row[estimate], digits)} [{_fmt(row[low], digits)}, {_fmt(row[high], digits)}]"


def _print_skipped(skipped) -> None:
    for item in skipped:
        err_console.print(f"[yellow]skipped[/] {item.what}: {item.reason}")


def subgroups(
    store: Path = STORE_ARGUMENT,
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute", "-a", help="Metadata column to analyse (repeatable; default: all)."
        ),
    ] = None,
    test_set: Annotated[
        list[str] | None, typer.Option("--test-set", help="Primary test set(s) (default: iid).")
    ] = None,
    per_class: bool = typer.Option(
        False, "--per-class", help="Also analyse each true class on its own."
    ),
    per_test_set: bool = typer.Option(
        False,
        "--per-test-set",
        help="Also analyse each test set and test attribute x shift interactions.",
    ),
    bins: Annotated[
        list[str] | None,
        typer.Option(
            "--bins",
            help="Binning of a numeric column: age=40,65 (cut points) or age=q4 (quantiles).",
        ),
    ] = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", help="Numeric column to treat as categorical."),
    ] = None,
    numeric: str = typer.Option(
        "bins", help="Test numeric columns across bins, or 'continuous' (odds ratio per SD)."
    ),
    cluster: str | None = typer.Option(
        None, help="Metadata column of the patient, for cluster-robust tests."
    ),
    min_group_size: int = typer.Option(10, help="Smaller groups are shown but not tested."),
    alpha: float = typer.Option(0.05, help="False discovery rate (Benjamini-Hochberg)."),
    plot: Annotated[
        Path | None, typer.Option(help="Write a forest plot of the ranked groups (.png or .svg).")
    ] = None,
    top: int = typer.Option(15, help="Rows of the ranked table to print."),
    seed: int = typer.Option(0, help="Seed of the Monte-Carlo exact tests."),
) -> None:
    """Which patients does the classifier fail? Error rates, tests and odds ratios per group.

    Saves the ranked table and the attribute, multivariable, interaction and skipped tables as artifacts of the store (subgroups, subgroups_attributes, ...).

    Example: silentscope subgroups audit_store -a age -a sex --bins age=40,65 --per-class --plot forest.png
    """
    from silentscope.audit.store import load_audit, write_artifact
    from silentscope.subgroups import analyze_subgroups, forest_plot

    with user_errors():
        audit = load_audit(store)
        result = analyze_subgroups(
            audit,
            attribute or None,
            test_sets=test_set or None,
            per_class=per_class,
            per_test_set=per_test_set,
            bins=parse_bins(bins or []),
            categorical=categorical or (),
            numeric=numeric,
            cluster=cluster,
            min_group_size=min_group_size,
            alpha=alpha,
            random_state=seed,
        )
        for name, table in result.artifacts().items():
            write_artifact(store, name, table)
        write_artifact(store, "subgroups_settings", result.settings)
        if plot is not None:
            if plot.suffix.lower() not in (".png", ".svg"):
                raise ValueError(f"--plot {plot} must end in .png or .svg")
            tested = result.groups[result.groups["odds_ratio"].notna()]
            if len(tested):
                plot.write_bytes(forest_plot(tested, format=plot.suffix.lower()[1:]))
                console.print(f"[green]wrote[/] {plot}")
            else:
                err_console.print(f"[yellow]note[/] no group was tested, so {plot} was not written")
    _print_subgroups(result, top)
    console.print(f"saved artifacts {', '.join(result.artifacts())} in {store}")


def _print_subgroups(result, top: int) -> None:
    groups = result.groups
    table = Table(
        title=f"groups ranked by risk ({int(groups['significant'].sum())} significant at FDR {result.settings['alpha']})"
    )
    for column in (
        "scope",
        "group",
        "n",
        "error rate [95% CI]",
        "odds ratio [95% CI]",
        "q",
        "sig.",
    ):
        table.add_column(column)
    for _, row in groups.head(top).iterrows():
        table.add_row(
            f"{row['test_set']}, {row['class']}",
            f"{row['attribute']} = {row['group']}",
            str(row["n"]),
            _interval(row, "error_rate", "error_rate_low", "error_rate_high", 2),
            _interval(row, "odds_ratio", "or_low", "or_high", 2),
            _fmt(row["q_value"], 2),
            "[bold red]yes[/]" if row["significant"] else "",
        )
    console.print(table)
    attributes = Table(title="attributes: univariable (associated) and multivariable (independent)")
    for column in ("scope", "attribute", "test", "q", "associated", "adjusted q", "independent"):
        attributes.add_column(column)
    for _, row in result.attributes.iterrows():
        attributes.add_row(
            f"{row['test_set']}, {row['class']}",
            row["attribute"],
            str(row["test"]),
            _fmt(row["q_value"], 2),
            "yes" if row["associated"] else "",
            _fmt(row["adjusted_q_value"], 2),
            "yes" if row["independent"] else "",
        )
    console.print(attributes)
    if len(result.interactions):
        grows = result.interactions[result.interactions["significant"]]
        console.print(
            f"attribute x test-set interactions: {len(grows)} of {len(result.interactions)} significant"
        )
    _print_skipped(result.skipped)


def predictor(
    store: Path = STORE_ARGUMENT,
    model: str = typer.Option("hgb", help="hgb (gradient boosting) or logreg."),
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="Metadata column to use as a feature (repeatable)."),
    ] = None,
    flip: bool = typer.Option(
        False, "--flip", help="Flip binary decisions with a high predicted risk."
    ),
    abstain: bool = typer.Option(
        False, "--abstain", help="Abstain on predictions with a high predicted risk."
    ),
    objective: str | None = typer.Option(
        None, help="f1, balanced_accuracy or accuracy (flip); risk=0.05 (abstain)."
    ),
    positive_class: str | None = typer.Option(
        None, help="Positive class of the binary decision (one-vs-rest)."
    ),
    train_split: str | None = typer.Option(
        None, help="Test set the predictor learns from (default: val, else cross-fitted on iid)."
    ),
    cluster: str | None = typer.Option(
        None, help="Metadata column of the patient: folds and bootstrap by patient."
    ),
    n_splits: int = typer.Option(5, help="Folds of the cross-fitting on the training split."),
    n_bootstrap: int = typer.Option(1000, help="Bootstrap resamples of every interval."),
    seed: int = typer.Option(0, help="Seed of folds, models and bootstrap."),
) -> None:
    """Train a misclassification predictor (a learned CSF) and optionally flip or abstain with it.

    Reports AUROC_f and AURC of the predictor against MSR with paired bootstrap CIs, the permutation importance of each feature, and with --flip/--abstain the change in the objective on every test set with a paired bootstrap 95% CI (thresholds on the predicted risk and, as a baseline, on 1 - MSR).

    Example: silentscope predictor audit_store -m age -m sex --flip --objective f1
    """
    import pandas as pd

    from silentscope.audit.store import load_audit, write_artifact
    from silentscope.audit.test_sets import VALIDATION
    from silentscope.predictor import compare_confidences, estimate_risk, feature_importances

    with user_errors():
        if flip and abstain:
            raise ValueError("choose one of --flip and --abstain")
        audit = load_audit(store)
        notes = []
        if train_split is None:
            train_split = _default_train_split(audit, notes)
        with console.status("training the misclassification predictor (cross-fitted)"):
            estimate = estimate_risk(
                audit,
                model=model,
                metadata=metadata or None,
                train_split=train_split,
                positive_class=positive_class,
                n_splits=n_splits,
                cluster=cluster,
                random_state=seed,
            )
        n_errors = int(estimate.target[estimate.train_mask].sum())
        if n_errors < FEW_ERRORS:
            notes.append(
                f"the predictor learnt from {n_errors} errors only; with so few, compare --model "
                "logreg (fewer parameters) and trust the intervals, not the point estimates"
            )
        msr = audit.probabilities.max(axis=1)
        # Every sample's risk is out of sample, so every test set but val can be evaluated.
        comparison = compare_confidences(
            audit,
            {"MSR": msr, "MisPred": estimate.confidence},
            correct=~estimate.target,
            test_sets=[name for name in audit.test_sets if name != VALIDATION],
            n_resamples=n_bootstrap,
            random_state=seed,
        )
        held_out = ~estimate.train_mask if (~estimate.train_mask).any() else None
        importance = feature_importances(estimate, held_out, random_state=seed)
        risk_table = pd.DataFrame(
            {
                "sample_id": audit.sample_id,
                "test_set": audit.test_set,
                "risk": estimate.risk,
                "fold": estimate.fold,
            }
        )
        write_artifact(store, "predictor_risk", risk_table)
        write_artifact(store, "predictor_comparison", comparison)
        write_artifact(store, "predictor_importance", importance)
        write_artifact(store, "predictor_settings", estimate.settings)
        corrections = None
        if flip or abstain:
            if train_split != VALIDATION and not audit.has_validation:
                notes.append(
                    "--flip/--abstain skipped: the threshold must be chosen on a validation split "
                    "that is not evaluated; add test set 'val'"
                )
            else:
                action = "flip" if flip else "abstain"
                objective = objective or ("f1" if flip else "risk=0.05")
                corrections = _corrections(
                    audit,
                    estimate,
                    msr,
                    action,
                    objective,
                    train_split,
                    positive_class,
                    cluster,
                    n_bootstrap,
                    seed,
                    notes,
                )
                write_artifact(store, "predictor_correction", corrections)
    _print_predictor(comparison, importance, corrections, estimate)
    for note in notes:
        err_console.print(f"[yellow]note[/] {note}")


def _default_train_split(audit, notes: list[str]) -> str:
    from silentscope.audit.test_sets import IID, VALIDATION

    if audit.has_validation:
        return VALIDATION
    split = IID if IID in audit.test_sets else audit.test_sets[0]
    notes.append(
        f"no validation split: the predictor is cross-fitted on {split!r}, each sample scored by a "
        "model that never saw it; samples of other test sets that share images or patients with it "
        "are only kept apart with --cluster"
    )
    return split


def _corrections(
    audit,
    estimate,
    msr,
    action,
    objective,
    fit_on,
    positive_class,
    cluster,
    n_bootstrap,
    seed,
    notes,
):
    """Flip or abstain with the learned risk and, as the baseline, with 1 - MSR."""
    import pandas as pd

    from silentscope.predictor import selective_correction

    tables = []
    for source, risk in (("MisPred", estimate.risk), ("MSR", 1.0 - msr)):
        result = selective_correction(
            audit,
            risk,
            action=action,
            objective=objective,
            fit_on=fit_on,
            positive_class=positive_class,
            cluster=cluster,
            n_bootstrap=n_bootstrap,
            random_state=seed,
        )
        tables.append(result.table.assign(risk_from=source, threshold=result.corrector.threshold_))
        notes += [f"({source}) {note}" for note in result.notes]
    return pd.concat(tables, ignore_index=True)


def _print_predictor(comparison, importance, corrections, estimate) -> None:
    table = Table(
        title="failure detection: misclassification predictor vs MSR (paired bootstrap 95% CI)"
    )
    for column in ("test set", "metric", "MSR", "MisPred", "MisPred - MSR"):
        table.add_column(column)
    for (test_set, metric), rows in comparison.groupby(["test_set", "metric"], sort=False):
        by_csf = rows.set_index("csf")
        mispred = by_csf.loc["MisPred"]
        table.add_row(
            test_set,
            metric,
            _interval(by_csf.loc["MSR"], "estimate", "low", "high"),
            _interval(mispred, "estimate", "low", "high"),
            _interval(mispred, "delta", "delta_low", "delta_high"),
        )
    console.print(table)
    top = Table(title=f"permutation importance (AUROC drop, held out, n={importance['n'].iloc[0]})")
    top.add_column("feature")
    top.add_column("importance")
    for _, row in importance.head(10).iterrows():
        top.add_row(row["feature"], f"{row['importance']:.4f} ± {row['importance_std']:.4f}")
    console.print(top)
    if corrections is not None:
        result = Table(
            title="selective correction on each test set (threshold chosen on validation)"
        )
        for column in (
            "risk from",
            "test set",
            "changed",
            "metric",
            "before",
            "after",
            "change [95% CI]",
            "real gain",
        ):
            result.add_column(column)
        for _, row in corrections.iterrows():
            result.add_row(
                row["risk_from"],
                row["test_set"],
                f"{row['changed']}/{row['n']}",
                row["metric"],
                _fmt(row["before"], 4),
                _fmt(row["after"], 4),
                _interval(row, "delta", "delta_low", "delta_high", 3),
                "[bold green]yes[/]" if row["significant"] else "no",
            )
        console.print(result)
    _print_skipped(estimate.skipped)


def register(app: typer.Typer) -> None:
    app.command("subgroups")(subgroups)
    app.command("predictor")(predictor)
