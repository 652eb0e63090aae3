"""Which patients does the classifier fail? Subgroup analysis of misclassification.

For every metadata attribute, in every scope (the primary test sets, and on request each
class and each test set): the error rate of each group with its Wilson interval, the
group-vs-rest odds ratio and test, the omnibus test of the attribute, a multivariable
logistic model of all attributes together (so that a confounded attribute is not reported
as an independent risk factor), and on request the interaction of each attribute with each
shifted test set. One Benjamini-Hochberg family covers every p-value the result reports,
and a group is reported only when its attribute's own test is significant too
(hierarchical testing, as post-hoc comparisons after a significant global test).

This is the analysis of CheXbreak (Chen et al., MLHC 2021), which found patient attributes
associated with misclassification of chest X-ray models, with the multiplicity control
and confounder adjustment that make such findings trustworthy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from silentscope.audit.auditset import AuditSet, require
from silentscope.audit.health import model_health, warn_degenerate_analysis
from silentscope.audit.roles import roles_of, source_ids
from silentscope.audit.test_sets import IID, VALIDATION, parse_test_set
from silentscope.subgroups.association import categorical_test, group_rows, trend_test
from silentscope.subgroups.attributes import (
    MAX_NUMERIC_LEVELS_AS_CATEGORICAL,
    MISSING,
    Attribute,
    Skipped,
    prepare_attributes,
    quantile_cut_points,
)
from silentscope.subgroups.logistic import SeparationError
from silentscope.subgroups.multivariable import fit_multivariable, interaction_test
from silentscope.subgroups.result import SubgroupResult, finish

ALL_CLASSES = "all"
NUMERIC_MODES = ("bins", "continuous")


@dataclass
class _Scope:
    test_set: str
    class_name: str
    mask: np.ndarray


def analyze_subgroups(
    audit: AuditSet,
    attributes: Sequence[str] | None = None,
    *,
    test_sets: Sequence[str] | None = None,
    per_class: bool = False,
    per_test_set: bool = False,
    bins: Mapping[str, int | Sequence[float]] | None = None,
    categorical: Sequence[str] = (),
    numeric: str = "bins",
    cluster: str | None = None,
    min_group_size: int = 10,
    max_levels: int = 20,
    alpha: float = 0.05,
    confidence: float = 0.95,
    random_state: int | None = 0,
    pool: bool = False,
    keep_label_derived: bool = False,
) -> SubgroupResult:
    """Test which metadata groups are misclassified more often, with FDR control.

    Parameters
    ----------
    audit : AuditSet
        Needs metadata.
    attributes : list of str, optional
        Metadata columns to analyse; all usable ones by default.
    test_sets : list of str, optional
        The primary scopes, one per test set (or one pooled scope with ``pool``). Default:
        ``iid`` where present, else each test set except ``val`` and the corrupted copies,
        on its own: different shift sets are never pooled unless asked, since a group
        found only in one set would be compared with samples of another.
    per_class : bool, default False
        Also analyse each true class on its own (the error rate is then the miss rate of
        that class): a subgroup can fail on one disease only.
    per_test_set : bool, default False
        Also analyse each test set on its own, and test whether each attribute's effect
        differs between each shifted test set and the reference (``iid``).
    bins : mapping of column to int or cut points, optional
        Quantile bins (int) or clinical cut points of numeric columns, e.g.
        ``{"age": [40, 65]}``. Default: 4 quantile bins.
    categorical : list of str
        Numeric columns to treat as categorical.
    numeric : {"bins", "continuous"}, default "bins"
        Test numeric attributes across their bins (catches U-shaped risk) or by logistic
        regression per standard deviation (more power for a monotone trend); the
        multivariable model uses the same form.
    cluster : str, optional
        Metadata column identifying a patient (or another unit with correlated errors,
        e.g. two eyes of one patient). Tests then use cluster-robust logistic models.
    min_group_size : int, default 10
        Smaller groups are shown but not tested.
    max_levels : int, default 20
        Categorical columns with more distinct values are skipped.
    alpha : float, default 0.05
        False discovery rate at which ``significant`` is set.
    confidence : float, default 0.95
        Level of every interval.
    random_state : int, optional
        Seed of the Monte-Carlo exact tests.
    pool : bool, default False
        Analyse the chosen ``test_sets`` as one scope. Corrupted copies of one image then
        count once: tests cluster on the source image (unless ``cluster`` is given).
    keep_label_derived : bool, default False
        Also test metadata columns that restate the label (role ``label_derived``, see
        :mod:`silentscope.audit.roles`); they are skipped with the reason by default.

    Numeric attributes without ``bins`` are cut at the quartiles of every distinct image
    of the AuditSet, so the bins do not change with the scope or the options; the cut
    points used are in ``result.settings["bins"]``.

    Returns
    -------
    SubgroupResult

    Raises
    ------
    AuditSetError
        If the AuditSet has no metadata.
    ValueError
        If an argument is invalid or names an absent column or test set.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> meta = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "smoker": rng.choice(["no", "yes"], n)})
    >>> label = rng.integers(0, 2, n)
    >>> wrong = rng.random(n) < np.where(meta["smoker"] == "yes", 0.4, 0.05)
    >>> logits = np.eye(2)[np.where(wrong, 1 - label, label)] * 2.0
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), test_set=["iid"] * n, label=label,
    ...                  logits=logits, class_names=["neg", "pos"], metadata=meta)
    >>> result = analyze_subgroups(audit)
    >>> result.significant_groups()[["attribute", "group"]].values.tolist()
    [['smoker', 'yes'], ['smoker', 'no']]
    >>> result.attributes.set_index("attribute")["independent"].to_dict()
    {'smoker': True, 'sex': False}
    """
    require(audit, ("metadata",), "subgroup analysis")
    _check_arguments(numeric, min_group_size, alpha, confidence)
    if cluster is not None and attributes is not None and cluster in attributes:
        raise ValueError(f"{cluster!r} is the cluster column and cannot also be an attribute")
    primary_scopes = _primary_scopes(audit, test_sets, pool)
    scope_sets = list(primary_scopes)
    if per_test_set:
        scope_sets += [(name,) for name in audit.evaluation_sets() if (name,) not in scope_sets]
    analysed = np.isin(audit.test_set, sorted({name for names in scope_sets for name in names}))
    metadata = audit.metadata.loc[analysed].reset_index(drop=True)
    cluster_ids = _cluster_ids(metadata, cluster)
    sources = source_ids(audit.sample_id, audit.test_set)[analysed]
    copies = cluster_ids is None and len(np.unique(sources)) < len(sources)
    bins = {**_fixed_quantile_bins(audit, categorical, bins), **dict(bins or {})}
    prepared, skipped = prepare_attributes(
        metadata,
        attributes,
        bins=bins,
        categorical=categorical,
        exclude=() if cluster is None else (cluster,),
        max_levels=max_levels,
        roles=roles_of(audit),
        keep_label_derived=keep_label_derived,
    )
    if cluster is None:
        skipped += _cluster_hint(audit, metadata, sources)
    used = {a.name for a in prepared}
    # a degenerate classifier's errors are the samples of the classes it never predicts:
    # its "risky groups" are where those classes are common, not where it fails
    health = model_health(audit)
    warn_degenerate_analysis(health, "subgroup error rates")
    settings = {
        "health": health.to_dict(),
        "test_sets": [name for names in primary_scopes for name in names],
        "scopes": ["+".join(names) for names in scope_sets],
        "pool": pool,
        "per_class": per_class,
        "per_test_set": per_test_set,
        "numeric": numeric,
        "bins": {name: cuts for name, cuts in bins.items() if name in used},
        "keep_label_derived": keep_label_derived,
        "cluster": cluster,
        "copies": "a scope holding several copies of one image (corrupted test sets) clusters "
        "its tests on the source image, so the copies count once"
        if copies
        else "each image appears once",
        "min_group_size": min_group_size,
        "alpha": alpha,
        "confidence": confidence,
        "random_state": random_state,
        "fdr": "Benjamini-Hochberg over every p-value in the result",
    }
    if not prepared:
        skipped.append(Skipped("subgroup analysis", "no testable attribute"))
        return finish([], [], [], [], skipped, settings, alpha)
    options = _Options(numeric, min_group_size, confidence, np.random.default_rng(random_state))
    errors = ~audit.correct[analysed]
    test_set = audit.test_set[analysed]
    label = audit.label[analysed]
    group_rows_, attribute_rows, term_tables = [], [], []
    for scope in _scopes(scope_sets, test_set, label, audit.class_names, per_class):
        scope_cluster = _scope_cluster(cluster_ids, sources, scope.mask)
        rows, tests, terms, notes = _analyse_scope(
            scope, prepared, errors[scope.mask], scope_cluster, options
        )
        group_rows_ += rows
        attribute_rows += tests
        term_tables.append(terms)
        skipped += notes
    interaction_rows = []
    if per_test_set:
        primary = list(primary_scopes[0]) if len(primary_scopes) == 1 else []
        interaction_rows, notes = _interactions(
            prepared, errors, test_set, label, audit, primary, per_class, options,
            cluster_ids, sources,
        )  # fmt: skip
        skipped += notes
    return finish(
        group_rows_, attribute_rows, term_tables, interaction_rows, skipped, settings, alpha
    )


@dataclass(frozen=True)
class _Options:
    numeric: str
    min_group_size: int
    confidence: float
    rng: np.random.Generator


def _analyse_scope(
    scope: _Scope, prepared: list[Attribute], errors: np.ndarray, cluster, options: _Options
):
    """Group rows, attribute tests (with their adjusted tests) and model terms of one scope."""
    where = f"{scope.test_set}, class {scope.class_name}"
    labels = {"test_set": scope.test_set, "class": scope.class_name}
    if errors.all() or not errors.any():
        outcome = "no errors" if not errors.any() else "only errors"
        reason = f"{outcome} among its {len(errors)} samples; nothing to explain"
        return [], [], pd.DataFrame(), [Skipped(f"scope {where}", reason)]
    group_rows_, attribute_rows, tested, skipped = [], [], [], []
    for attribute in prepared:
        sub = attribute.subset(scope.mask)
        rows, test, notes = _analyse_attribute(sub, errors, options, cluster)
        skipped += [Skipped(f"{attribute.name} in {where}", note) for note in notes]
        names = {**labels, "attribute": attribute.name, "kind": attribute.kind}
        group_rows_ += [{**row, **names} for row in rows]
        if test is not None:
            attribute_rows.append({**test, **names})
            tested.append(sub)
    if not tested:
        return group_rows_, attribute_rows, pd.DataFrame(), skipped
    terms, adjusted, notes = fit_multivariable(
        tested,
        errors,
        numeric=options.numeric,
        min_group_size=options.min_group_size,
        confidence=options.confidence,
        cluster=cluster,
    )
    skipped += [Skipped(f"{s.what} in {where}", s.reason) for s in notes]
    adjusted = adjusted.set_index("attribute")
    for row in attribute_rows:
        if row["attribute"] in adjusted.index:
            row.update(adjusted.loc[row["attribute"]].to_dict())
    return group_rows_, attribute_rows, terms.assign(**labels), skipped


def _check_arguments(numeric: str, min_group_size: int, alpha: float, confidence: float) -> None:
    if numeric not in NUMERIC_MODES:
        raise ValueError(f"numeric must be one of {', '.join(NUMERIC_MODES)}, got {numeric!r}")
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be at least 1, got {min_group_size}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _primary_scopes(
    audit: AuditSet, test_sets: Sequence[str] | None, pool: bool
) -> list[tuple[str, ...]]:
    """The primary scopes: one per test set, or the chosen sets pooled when asked."""
    if test_sets is not None:
        test_sets = [test_sets] if isinstance(test_sets, str) else list(test_sets)
        missing = [name for name in test_sets if name not in audit.test_sets]
        if missing or not test_sets:
            raise ValueError(
                f"test set(s) {missing} not in this AuditSet; available: {', '.join(audit.test_sets)}"
            )
        return [tuple(test_sets)] if pool else [(name,) for name in test_sets]
    if IID in audit.test_sets:
        return [(IID,)]
    evaluation = list(audit.evaluation_sets())
    clean = [name for name in evaluation if parse_test_set(name).kind != "cor"]
    chosen = clean or evaluation or [VALIDATION]
    return [tuple(chosen)] if pool else [(name,) for name in chosen]


def _fixed_quantile_bins(audit: AuditSet, categorical, bins) -> dict[str, list[float]]:
    """Quartile cut points of each numeric column over the distinct images of the AuditSet."""
    first = np.unique(source_ids(audit.sample_id, audit.test_set), return_index=True)[1]
    metadata = audit.metadata.iloc[np.sort(first)]
    fixed = {}
    for name in metadata.columns:
        column = metadata[name]
        if name in categorical or name in (bins or {}):
            continue
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        if column.nunique() <= MAX_NUMERIC_LEVELS_AS_CATEGORICAL:
            continue
        fixed[name] = quantile_cut_points(column.to_numpy(dtype=float, na_value=np.nan))
    return {name: cuts for name, cuts in fixed.items() if cuts}


def _cluster_hint(audit: AuditSet, metadata: pd.DataFrame, sources: np.ndarray) -> list[Skipped]:
    """Say so when an identifier column holds several images each (e.g. two eyes a patient).

    Its samples are then not independent and the tests are too confident unless clustered;
    corrupted copies of one image are counted once (they are clustered on their source).
    """
    for name, role in roles_of(audit).items():
        if role.role != "identifier" or name not in metadata.columns:
            continue
        ids = metadata[name]
        if ids.isna().any():
            continue
        images = pd.Series(sources).groupby(ids.to_numpy()).nunique()
        if (images > 1).any():
            return [
                Skipped(
                    "clustering",
                    f"{int((images > 1).sum())} of {len(images)} {name} values hold several "
                    f"images (up to {int(images.max())}): their samples are not independent "
                    f"and the tests treat them as if they were; pass cluster={name!r} "
                    f"(CLI: --cluster {name})",
                )
            ]
    return []


def _cluster_ids(metadata: pd.DataFrame, cluster: str | None) -> np.ndarray | None:
    if cluster is None:
        return None
    if cluster not in metadata.columns:
        raise ValueError(
            f"cluster column {cluster!r} not in the metadata; available: {', '.join(metadata.columns)}"
        )
    column = metadata[cluster]
    if column.isna().any():
        raise ValueError(
            f"cluster column {cluster!r} has missing values; every sample needs a cluster id"
        )
    return pd.factorize(column)[0]


def _scopes(scope_sets, test_set, label, class_names, per_class) -> list[_Scope]:
    scopes = []
    for names in scope_sets:
        in_sets = np.isin(test_set, list(names))
        scopes.append(_Scope("+".join(names), ALL_CLASSES, in_sets))
        if per_class:
            scopes += [
                _Scope("+".join(names), name, in_sets & (label == c))
                for c, name in enumerate(class_names)
            ]
    return [s for s in scopes if s.mask.any()]


def _analyse_attribute(
    attribute: Attribute, errors: np.ndarray, options: _Options, cluster
) -> tuple[list[dict], dict | None, list[str]]:
    """Group rows, the omnibus test (None if untestable) and notes on what was skipped."""
    min_group_size = options.min_group_size
    rows = group_rows(
        attribute.groups,
        errors,
        attribute.levels,
        min_group_size=min_group_size,
        confidence=options.confidence,
        rng=options.rng,
        cluster=cluster,
    )
    notes = []
    tiny = [f"{r['group']} (n={r['n']})" for r in rows if r["n"] < min_group_size]
    if tiny:
        notes.append(
            f"groups smaller than min_group_size={min_group_size} not tested: {', '.join(tiny)}"
        )
    testable = [row["group"] for row in rows if row["n"] >= min_group_size]
    base = {
        "n": len(errors),
        "n_missing": int(np.sum(attribute.groups == MISSING)),
        "n_groups": len(attribute.levels),
    }
    if attribute.kind == "numeric" and options.numeric == "continuous":
        present = ~np.isnan(attribute.values)
        try:
            trend = trend_test(
                attribute.values[present],
                errors[present],
                options.confidence,
                None if cluster is None else cluster[present],
            )
            return rows, {**base, **trend}, notes
        except SeparationError as error:
            notes.append(f"continuous test not estimable ({error}); tested across its bins instead")
    if len(testable) < 2:
        notes.append("fewer than two groups reach min_group_size; attribute not tested")
        return rows, None, notes
    in_testable = np.isin(attribute.groups, testable)
    test = categorical_test(
        attribute.groups[in_testable],
        errors[in_testable],
        testable,
        options.rng,
        None if cluster is None else cluster[in_testable],
    )
    if test.pop("note"):
        notes.append(
            "cluster-robust model not estimable (separation); the exact test ignores clustering"
        )
    return rows, {**base, **test}, notes


def _scope_cluster(cluster_ids, sources, mask) -> np.ndarray | None:
    """The user's clusters, else the source image where a scope holds copies of one image."""
    if cluster_ids is not None:
        return cluster_ids[mask]
    scope_sources = sources[mask]
    if len(np.unique(scope_sources)) < len(scope_sources):
        return pd.factorize(scope_sources)[0]
    return None


def _interactions(
    prepared, errors, test_set, label, audit, primary, per_class, options, cluster_ids, sources
):
    """Attribute x test-set interaction tests of every shifted test set against the reference."""
    rows, notes = [], []
    reference = primary[0] if len(primary) == 1 else None
    if reference is None:
        notes.append(
            Skipped("interaction tests", "need a single reference test set; pass test_sets=['iid']")
        )
        return rows, notes
    shifted_sets = [name for name in audit.evaluation_sets() if name != reference]
    if not shifted_sets:
        notes.append(
            Skipped("interaction tests", f"no test set besides the reference {reference!r}")
        )
    classes = [(ALL_CLASSES, None)] + (
        [(n, c) for c, n in enumerate(audit.class_names)] if per_class else []
    )
    for name in shifted_sets:
        for class_name, c in classes:
            pair = np.isin(test_set, [reference, name]) & (True if c is None else label == c)
            for attribute in prepared:
                sub = attribute.subset(pair)
                shifted = test_set[pair] == name
                try:
                    result = interaction_test(
                        sub,
                        errors[pair],
                        shifted,
                        numeric=options.numeric,
                        min_group_size=options.min_group_size,
                        cluster=_scope_cluster(cluster_ids, sources, pair),
                    )
                except SeparationError as error:
                    notes.append(
                        Skipped(
                            f"interaction {attribute.name} x {name}, class {class_name}", str(error)
                        )
                    )
                    continue
                result.update(
                    {
                        "test_set": name,
                        "reference": reference,
                        "class": class_name,
                        "attribute": attribute.name,
                        "error_rate_reference": float(errors[pair][~shifted].mean()),
                        "error_rate_shift": float(errors[pair][shifted].mean()),
                    }
                )
                rows.append(result)
    return rows, notes
