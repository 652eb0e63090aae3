"""``evaluate``: every CSF x every test set x every metric, with bootstrap confidence intervals."""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silentscope.audit import AuditSet
from silentscope.audit.health import model_health
from silentscope.audit.shift_change import records_change
from silentscope.confidence import ConfidenceScorer, fit_score_csfs
from silentscope.evaluation.continuous_risk import (
    LOSS_METRICS,
    RISK_FACTS_DEFINITION,
    risk_facts,
    risk_metrics,
    segmentation_csfs,
)
from silentscope.evaluation.correctness import (
    MC_CORRECTNESS,
    MC_CORRECTNESS_DEFINITIONS,
    OOD_CONVENTIONS,
    OOD_DEFINITIONS,
    check_convention,
    has_unknown_labels,
    is_mc_csf,
    judged_rows,
    mc_mean_correct,
)
from silentscope.evaluation.groups import EvaluationGroup, evaluation_groups, select_test_sets
from silentscope.evaluation.kinds import KIND_MEAN_DEFINITION
from silentscope.evaluation.result import EvaluationResult
from silentscope.metrics import (
    BOOTSTRAP_METRICS,
    CLASSIFICATION_BOOTSTRAP_METRICS,
    METRICS,
    PAIRED_METRICS,
    balanced_accuracy,
    get_metric,
    paired_bootstrap_ci,
)

#: Failure-detection metrics computed by default: those with a vectorised bootstrap. The
#: class-balanced AURC/AUGRC are computed on request (their CIs need one call per resample).
DEFAULT_FD_METRICS = tuple(name for name in BOOTSTRAP_METRICS if name in METRICS)
#: Classification metrics computed per test set by default (failure-detection-free).
DEFAULT_CLASSIFICATION_METRICS = tuple(
    name for name, spec in METRICS.items() if spec.kind == "classification"
)
#: Metrics that compare a confidence with accuracy: computed only for CSFs whose value is a
#: probability of being correct (``ConfidenceScorer.probability_valued``), never reported as
#: undefined for the others (``settings["not_computed"]`` lists them).
PROBABILITY_METRICS = ("ece", "mce", "fail_nll")


def evaluate(
    audit: AuditSet,
    csfs: Sequence[str | ConfidenceScorer] | None = None,
    metrics: Sequence[str] | None = None,
    test_sets: Sequence[str] | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state: int | None = 0,
    progress: bool | None = None,
    mc_correctness: str = "deterministic",
    ood_convention: str = "fdshifts",
) -> EvaluationResult:
    """Evaluate confidence scoring functions on every test set of an AuditSet.

    CSFs are fitted once on ``audit`` (fitted CSFs use only its validation split or
    training features) and then judged, per test set and per pooled shift kind, by
    failure-detection metrics of their confidences against the AuditSet's correctness.
    The classifier itself is described per test set by classification metrics.

    Parameters
    ----------
    audit : AuditSet
    csfs : sequence of str or ConfidenceScorer, optional
        CSF names (exact) or configured CSF objects; default every registered CSF and every
        external confidence of ``audit``. CSFs whose inputs are missing are listed in
        ``result.unavailable`` with the reason.
    metrics : sequence of str, optional
        Metric registry names (see :data:`silentscope.metrics.METRICS`). Failure-detection
        metrics go to ``result.table``, classification metrics to
        ``result.classification``. Default: :data:`DEFAULT_FD_METRICS` and
        :data:`DEFAULT_CLASSIFICATION_METRICS`.
    test_sets : sequence of str, optional
        Test sets to evaluate; default every test set except the validation split ``val``.
    n_bootstrap : int, default 1000
        Bootstrap resamples for the percentile intervals; 0 gives point estimates only.
    confidence_level : float, default 0.95
    random_state : int or None, default 0
        Seed of the bootstrap. Each group's resamples are seeded from it and the group's
        name, so adding or removing a test set leaves the others' numbers unchanged.
        ``None`` draws a fresh seed, which is recorded in ``result.settings``.
    progress : bool, optional
        Show a rich progress bar on stderr; default only when stderr is a terminal.
    mc_correctness : {"deterministic", "mc_mean"}, default "deterministic"
        Which prediction's correctness MC-dropout CSFs are judged against: the deterministic
        one, or the MC-averaged one as FD-Shifts does (:mod:`~silentscope.evaluation.correctness`).
        Recorded in ``settings["mc_correctness"]`` and in the note of each row it changes.
    ood_convention : {"fdshifts", "all_iid"}, default "fdshifts"
        How a new-class test set (``ood/``) is judged: with the correctly classified iid
        samples (FD-Shifts' new-class study) or with every iid sample; every ood sample is
        a failure either way. Recorded in ``settings["ood_convention"]`` and in the rows'
        note; classification metrics are undefined on such groups (no known class).

    Returns
    -------
    EvaluationResult
        ``table`` (columns csf, test_set, test_set_kind, pooled, metric, value, ci_low,
        ci_high, n, n_errors, accuracy, balanced_accuracy, shift_change, note),
        ``classification``, ``unavailable``, ``csf_params``, ``settings`` and ``health``
        (whether the classifier is degenerate, with the reason; a
        :class:`DegenerateModelWarning` when it is). A metric undefined on a group (e.g.
        AUROC_f when every prediction is correct) has value NaN and says why in ``note``.
        Calibration metrics (ECE) have rows only for probability-valued CSFs;
        ``settings["not_computed"]`` names the others once, with the reason.
        ``settings["resampling"]`` says how the intervals were drawn: the CSFs of a test
        set (and its classification metrics) share one set of resamples (paired); metrics
        without a vectorised bootstrap are listed in ``loop_metrics`` with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(200, 2)) * 2
    >>> labels = np.where(rng.random(200) < 0.9, logits.argmax(1), 1 - logits.argmax(1))
    >>> audit = AuditSet(sample_id=[str(i) for i in range(200)], test_set=["iid"] * 200,
    ...                  label=labels, logits=logits, class_names=["no", "yes"])
    >>> result = evaluate(audit, csfs=["MSR", "MLS"], metrics=["aurc", "accuracy"],
    ...                   n_bootstrap=100)
    >>> result.table[["csf", "test_set", "metric", "n", "n_errors"]].values.tolist()
    [['MSR', 'iid', 'aurc', 200, 13], ['MLS', 'iid', 'aurc', 200, 13]]
    >>> sorted(result.unavailable)
    []
    """
    fd_metrics, clf_metrics = _split_metrics(metrics)
    segmentation = audit.task == "segmentation"
    if audit.risk is not None and metrics is None:
        fd_metrics = LOSS_METRICS  # the metrics defined on a continuous risk
    if segmentation:
        clf_metrics = ()  # per-volume logits summarise class volumes: no classifier to score
        csfs, refused = segmentation_csfs(audit, csfs)
    n_bootstrap = _check_n_bootstrap(n_bootstrap)
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    if random_state is None:
        random_state = secrets.randbits(32)
    elif isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ValueError(f"random_state must be an int or None, got {random_state!r}")
    check_convention(mc_correctness, MC_CORRECTNESS, "mc_correctness")
    check_convention(ood_convention, OOD_CONVENTIONS, "ood_convention")
    selected = select_test_sets(audit, test_sets)
    groups = evaluation_groups(audit, selected)
    if mc_correctness == "mc_mean" and audit.mc_logits is None:
        raise ValueError(
            "mc_correctness='mc_mean' judges MC-dropout CSFs against the MC-averaged prediction, but this "
            "AuditSet has no mc_logits; use mc_correctness='deterministic'"
        )

    with _progress_bar(progress) as bar:
        task = bar.add_task("fitting CSFs", total=None)
        confidences, unavailable, fitted = fit_score_csfs(
            audit, csfs, on_step=lambda name: bar.update(task, description=f"fitting {name}")
        )
        if segmentation:
            unavailable.update(refused)
        bar.update(task, total=len(groups) * (len(confidences) + 1), completed=0)
        applicable, not_computed = _applicable(fitted, fd_metrics)
        rows, classification_rows = [], []
        probabilities = audit.probabilities
        mc_csfs = [c for c, scorer in fitted.items() if is_mc_csf(scorer, audit)]
        correctness = {"deterministic": audit.correct}
        if mc_correctness == "mc_mean" and mc_csfs:
            correctness["mc_mean"] = mc_mean_correct(audit)
        for group in groups:
            seed = _group_seed(int(random_state), group.name)
            judged = {}  # per correctness convention: rows judged, their facts, the note
            for convention, correct_all in correctness.items():
                judged_at, note = judged_rows(
                    audit, group.rows, group.kind, correct_all, ood_convention
                )
                if convention == "mc_mean":
                    note = "; ".join(
                        filter(None, [note, "correctness of the MC-averaged prediction"])
                    )
                judged[convention] = (
                    judged_at,
                    _group_facts(audit, group, judged_at, correct_all),
                    note,
                )
            rows_at, facts, _ = judged["deterministic"]
            bar.update(task, description=f"resampling {group.name}")
            bootstrap = {"n_bootstrap": n_bootstrap, "level": confidence_level, "seed": seed}
            known = not has_unknown_labels(audit, rows_at)
            # One set of resamples per correctness convention, shared by its CSFs and (for
            # the deterministic one) the classification metrics: paired intervals.
            paired = {}
            for convention in judged:
                if audit.risk is not None:  # continuous risk: risk_metrics resamples below
                    paired[convention] = None
                    continue
                members = [
                    c
                    for c in confidences
                    if ("mc_mean" if c in mc_csfs and "mc_mean" in correctness else "deterministic")
                    == convention
                ]
                at = judged[convention][0]
                paired[convention] = _paired(
                    {c: confidences[c][at] for c in members},
                    correctness[convention][at],
                    {c: applicable[c] for c in members},
                    (probabilities[at], audit.label[at], clf_metrics)
                    if convention == "deterministic" and known
                    else None,
                    **bootstrap,
                )
            if not known:
                values = {m: _undefined(UNKNOWN_CLASS) for m in clf_metrics}
            else:
                values = _classification_metrics(
                    probabilities[rows_at],
                    audit.label[rows_at],
                    clf_metrics,
                    paired=paired["deterministic"],
                    **bootstrap,
                )
            classification_rows += [{**facts, "metric": m, **v} for m, v in values.items()]
            bar.advance(task)
            for csf, confidence in confidences.items():
                bar.update(task, description=f"{csf} on {group.name}")
                convention = (
                    "mc_mean" if csf in mc_csfs and "mc_mean" in correctness else "deterministic"
                )
                at, csf_facts, note = judged[convention]
                if audit.risk is not None:  # continuous risk, through the metrics' loss=
                    values = risk_metrics(
                        confidence[at], audit.risk[at], applicable[csf], **bootstrap
                    )
                else:
                    values = _failure_detection_metrics(
                        confidence[at],
                        correctness[convention][at],
                        audit.label[at],
                        applicable[csf],
                        paired=paired[convention],
                        csf=csf,
                        **bootstrap,
                    )
                rows += [
                    {"csf": csf, **csf_facts, "metric": m, **v, "note": _joined(v["note"], note)}
                    for m, v in values.items()
                ]
                bar.advance(task)

    settings = {
        "csfs": list(confidences),
        "fd_metrics": list(fd_metrics),
        "classification_metrics": list(clf_metrics),
        "test_sets": list(selected),
        "pooled_groups": {g.name: list(g.members) for g in groups if g.pooled},
        "kind_mean": KIND_MEAN_DEFINITION,
        "n_bootstrap": n_bootstrap,
        "confidence_level": confidence_level,
        "resampling": _resampling(fd_metrics, clf_metrics),
        "random_state": int(random_state),
        "n_samples": audit.n_samples,
        # a store opened with --no-verify (or an old one without hashes) says so in the result
        "store_check": audit.store_check,
        "not_computed": not_computed,
        "mc_correctness": {
            "convention": mc_correctness,
            "definition": MC_CORRECTNESS_DEFINITIONS[mc_correctness],
            "mc_csfs": [c for c in confidences if c in mc_csfs],
        },
        "ood_convention": {
            "convention": ood_convention,
            "definition": OOD_DEFINITIONS[ood_convention],
        },
    }
    if audit.risk is not None:
        settings["risk"] = {
            "kind": "continuous",
            "measures": audit.provenance.get("risk", "a continuous per-sample risk in [0, 1]"),
            "facts": RISK_FACTS_DEFINITION,
        }
    if segmentation:
        settings["not_computed"]["classification"] = {
            "csfs": [],
            "reason": "classification metrics are not computed for a segmentation AuditSet: its "
            "per-volume logits summarise class volumes; Dice per class is in audit.outcomes",
        }
    health = model_health(audit)
    health.warn("the evaluated classifier", stacklevel=2)
    return EvaluationResult(
        table=_frame(rows, with_csf=True),
        classification=_frame(classification_rows, with_csf=False),
        unavailable=unavailable,
        csf_params={name: _csf_params(scorer) for name, scorer in fitted.items()},
        settings=settings,
        health=health,
    )


# ------------------------------------------------------------------ argument handling
def _split_metrics(metrics: Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if metrics is None:
        return DEFAULT_FD_METRICS, DEFAULT_CLASSIFICATION_METRICS
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError("metrics is empty; name at least one metric or pass None for the defaults")
    specs = [get_metric(name) for name in dict.fromkeys(names)]
    fd = tuple(spec.name for spec in specs if spec.kind == "failure_detection")
    clf = tuple(spec.name for spec in specs if spec.kind == "classification")
    return fd, clf


def _check_n_bootstrap(n_bootstrap) -> int:
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, int | np.integer)
        or n_bootstrap < 0
    ):
        raise ValueError(
            f"n_bootstrap must be a non-negative integer (0 for no CIs), got {n_bootstrap!r}"
        )
    return int(n_bootstrap)


def _group_seed(random_state: int, name: str) -> int:
    # Derived from the name, not the position, so a group's resamples do not depend on
    # which other test sets are evaluated alongside it.
    sequence = np.random.SeedSequence([random_state, zlib.crc32(name.encode())])
    return int(sequence.generate_state(1)[0])


def _group_facts(
    audit: AuditSet, group: EvaluationGroup, rows: np.ndarray, correct_all: np.ndarray
) -> dict:
    correct = correct_all[rows]
    known = not has_unknown_labels(audit, rows)
    return {
        "test_set": group.name,
        "test_set_kind": group.kind,
        "pooled": group.pooled,
        "n": len(rows),
        "n_errors": int((~correct).sum()),
        "accuracy": float(correct.mean()),
        # undefined where new-class samples have no class the classifier knows
        "balanced_accuracy": (
            balanced_accuracy(audit.predictions[rows], audit.label[rows]) if known else np.nan
        ),
        # measured change from the clean images (grey levels; NaN where none is recorded):
        # a corrupted set that did not change is not a shift (silentscope.audit.is_negligible_shift)
        "shift_change": (
            float("nan") if audit.shift_params is None else records_change(audit.shift_params[rows])
        ),
        # a continuous risk (segmentation): 1 - mean risk and samples with risk > 0
        **({} if audit.risk is None else risk_facts(audit.risk[rows])),
    }


#: How the intervals of a group are resampled (recorded in ``settings["resampling"]``).
PAIRED_DEFINITION = (
    "percentile bootstrap; within a test set (or pooled group), every CSF judged against the "
    "same correctness and the classification metrics are evaluated on the same resamples "
    "(paired: resample i holds the same samples for every CSF, so CSFs can be compared "
    "resample by resample), drawn from the group's seed"
)


def _resampling(fd_metrics: Sequence[str], clf_metrics: Sequence[str]) -> dict:
    """Which metrics share the paired resamples and which are resampled one call at a time."""
    vectorised = [m for m in fd_metrics if m in PAIRED_METRICS]
    vectorised += [m for m in clf_metrics if m in CLASSIFICATION_BOOTSTRAP_METRICS]
    loop = [m for m in (*fd_metrics, *clf_metrics) if m not in vectorised]
    record = {"definition": PAIRED_DEFINITION, "paired_metrics": vectorised, "loop_metrics": loop}
    if loop:
        record["loop_reason"] = (
            f"{', '.join(loop)} have no vectorised bootstrap (e.g. a convex hull or per-class "
            "weights per resample): their intervals come from calling the metric once per "
            "resample, on resamples drawn independently of the paired ones (same seed, another "
            "stream), so they are not paired with the other metrics and take far longer on "
            "large test sets"
        )
    return record


# ------------------------------------------------------------------ metric values
def _applicable(
    fitted: dict[str, ConfidenceScorer], names: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """The metrics computed for each CSF, and the calibration metrics left out with the reason.

    Calibration metrics (ECE) read a confidence as the probability of being correct, so they
    are computed only for CSFs that declare ``probability_valued``; for any other CSF they
    would measure nothing, and they are left out rather than reported as undefined.
    """
    applicable: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    for csf, scorer in fitted.items():
        applicable[csf] = []
        for name in names:
            if name in PROBABILITY_METRICS and not scorer.probability_valued:
                left_out.setdefault(name, []).append(csf)
            else:
                applicable[csf].append(name)
    not_computed = {
        name: {
            "csfs": csfs,
            "reason": f"{METRICS[name].display_name} is not computed for {', '.join(csfs)}: the "
            "values of these CSFs are not probabilities of being correct (it is computed only for "
            "CSFs whose values are, such as MSR)",
        }
        for name, csfs in left_out.items()
    }
    return applicable, not_computed


def _paired(confidences, correct, metrics, classification, *, n_bootstrap, level, seed):
    """The vectorised bootstrap of one group's CSFs (and classification), on shared resamples.

    None without resamples, without a metric to resample, or on data it refuses.
    """
    fast = {c: [m for m in names if m in PAIRED_METRICS] for c, names in metrics.items()}
    fast = {c: names for c, names in fast.items() if names}
    if classification is not None:
        probs, labels, names = classification
        names = [m for m in names if m in CLASSIFICATION_BOOTSTRAP_METRICS]
        classification = (probs, labels, names) if names else None
    if not n_bootstrap or not (fast or classification):
        return None
    try:
        return paired_bootstrap_ci(
            {c: confidences[c] for c in fast},
            correct,
            fast,
            classification=classification,
            n_resamples=n_bootstrap,
            confidence_level=level,
            random_state=seed,
        )
    except ValueError:
        # Data the metrics cannot take (e.g. an empty group): every metric is then computed
        # on its own below, which reports the reason in its row.
        return None


def _failure_detection_metrics(
    confidence, correct, labels, names, *, paired, csf, n_bootstrap, level, seed
) -> dict[str, dict]:
    results = {}
    if paired is not None and csf in paired.results:
        for name, result in paired.results[csf].items():
            results[name] = _from_bootstrap(result)
        for name, reason in paired.undefined.get(csf, {}).items():
            results[name] = _undefined(reason)
    for name in names:
        if name in results:
            continue
        spec = METRICS[name]
        arguments = (confidence, correct, labels) if spec.needs_labels else (confidence, correct)
        results[name] = _resampled(spec.function, arguments, n_bootstrap, level, seed)
    return {name: results[name] for name in names}


def _classification_metrics(probabilities, labels, names, *, paired, n_bootstrap, level, seed):
    results = {}
    if paired is not None:
        results = {name: _from_bootstrap(r) for name, r in paired.classification.items()}
    for name in names:
        if name not in results:
            results[name] = _resampled(
                METRICS[name].function, (probabilities, labels), n_bootstrap, level, seed
            )
    return {name: results[name] for name in names}


def _from_bootstrap(result) -> dict:
    note = ""
    if result.n_excluded:
        valid = result.n_resamples - result.n_excluded
        note = f"CI from the {valid} of {result.n_resamples} resamples where the metric is defined"
    return {"value": result.estimate, "ci_low": result.low, "ci_high": result.high, "note": note}


UNKNOWN_CLASS = "new-class (ood/) samples belong to no class the classifier knows"


def _joined(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _undefined(error: Exception | str) -> dict:
    return {"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "note": f"undefined: {error}"}


def _resampled(function: Callable[..., float], arguments: tuple, n_bootstrap, level, seed) -> dict:
    """Point estimate and percentile interval by calling ``function`` once per resample.

    For the metrics that :func:`paired_bootstrap_ci` does not vectorise. Every such metric
    of a group sees the same resamples (``integers(0, n, n)`` from the group's seed), but
    not the paired ones: ``settings["resampling"]`` says so in the result.
    """
    try:
        estimate = float(function(*arguments))
    except ValueError as error:
        return _undefined(error)
    if not n_bootstrap:
        return {"value": estimate, "ci_low": np.nan, "ci_high": np.nan, "note": ""}
    rng = np.random.default_rng(seed)
    n = len(arguments[0])
    samples = np.full(n_bootstrap, np.nan)
    for i in range(n_bootstrap):
        rows = rng.integers(0, n, size=n)
        try:
            samples[i] = function(*(np.asarray(a)[rows] for a in arguments))
        except ValueError:
            continue  # undefined on this resample (e.g. one class only); counted below
    valid = samples[~np.isnan(samples)]
    alpha = (1 - level) / 2
    low, high = np.quantile(valid, [alpha, 1 - alpha]) if valid.size else (np.nan, np.nan)
    note = ""
    if valid.size < n_bootstrap:
        note = f"CI from the {valid.size} of {n_bootstrap} resamples where the metric is defined"
    return {"value": estimate, "ci_low": float(low), "ci_high": float(high), "note": note}


# ------------------------------------------------------------------ assembly
_COLUMNS = [
    "csf", "test_set", "test_set_kind", "pooled", "metric", "value", "ci_low", "ci_high",
    "n", "n_errors", "accuracy", "balanced_accuracy", "shift_change", "note",
]  # fmt: skip


def _frame(rows: list[dict], with_csf: bool) -> pd.DataFrame:
    columns = _COLUMNS if with_csf else _COLUMNS[1:]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"n": "int64", "n_errors": "int64", "pooled": "bool"})


def _csf_params(scorer: ConfidenceScorer) -> dict:
    """Hyper-parameters and scalar fitted values (e.g. the temperature) of a fitted CSF."""
    params = {
        key: value
        for key, value in scorer.get_params().items()
        if value is None or isinstance(value, bool | int | float | str | tuple)
    }
    for key, value in vars(scorer).items():
        if key.endswith("_") and isinstance(value, int | float | np.integer | np.floating):
            params[key] = value.item() if isinstance(value, np.generic) else value
    return params


class _NoProgress:
    """Stands in for a rich Progress when progress is off."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass

    def advance(self, *args, **kwargs):
        pass


def _progress_bar(progress: bool | None):
    console = Console(stderr=True)
    if progress is None:
        progress = console.is_terminal
    if not progress:
        return _NoProgress()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
