"""The tables of a subgroup analysis: one FDR family over all of them, and the risk ranking."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from silentscope.metrics.statistics import benjamini_hochberg
from silentscope.subgroups.attributes import Skipped
from silentscope.subgroups.forest import forest_plot


@dataclass
class SubgroupResult:
    """Tables of a subgroup analysis.

    Attributes
    ----------
    groups : DataFrame
        The ranked table: one row per (test_set, class, attribute, group) with ``n``,
        ``errors``, ``error_rate`` and its Wilson interval, the group-vs-rest
        ``odds_ratio`` with interval, ``test``, ``p_value``, ``q_value`` and
        ``significant`` (the group's q-value and its attribute's test, both at the FDR
        level). Significant risk groups come first, by odds ratio.
    attributes : DataFrame
        One row per (test_set, class, attribute): the univariable test (``p_value``,
        ``q_value``, ``associated``) and the multivariable one (``adjusted_p_value``,
        ``adjusted_q_value``, ``independent``).
    multivariable : DataFrame
        Adjusted odds ratios of every term of the multivariable model, per scope;
        ``significant`` needs the term's q-value and its attribute's adjusted test.
    interactions : DataFrame
        Per shifted test set and attribute: the test that the attribute's effect differs
        from the reference test set (empty unless ``per_test_set``).
    skipped : list of Skipped
        What was left out and why.
    settings : dict
        The parameters of the analysis.
    """

    groups: pd.DataFrame
    attributes: pd.DataFrame
    multivariable: pd.DataFrame
    interactions: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def significant_groups(self) -> pd.DataFrame:
        """Rows of :attr:`groups` whose group-vs-rest test survives FDR control."""
        return self.groups[self.groups["significant"]]

    def forest_plot(self, table: str = "groups", *, format: str = "png") -> bytes:
        """Forest plot of the tested ``groups`` (odds ratio vs rest) or the ``multivariable`` terms."""
        if table == "groups":
            return forest_plot(self.groups, format=format)
        if table == "multivariable":
            return forest_plot(
                self.multivariable,
                estimate="adjusted_or",
                low="adjusted_or_low",
                high="adjusted_or_high",
                title="Adjusted odds ratio of misclassification (red: significant after FDR)",
                format=format,
            )
        raise ValueError(f"table must be 'groups' or 'multivariable', got {table!r}")

    def skipped_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"what": s.what, "reason": s.reason} for s in self.skipped], columns=["what", "reason"]
        )

    def artifacts(self) -> dict[str, pd.DataFrame]:
        """Tables to save in an audit store, by artifact name."""
        return {
            "subgroups": self.groups,
            "subgroups_attributes": self.attributes,
            "subgroups_multivariable": self.multivariable,
            "subgroups_interactions": self.interactions,
            "subgroups_skipped": self.skipped_frame(),
        }


_GROUP_COLUMNS = [
    "test_set",
    "class",
    "attribute",
    "kind",
    "group",
    "n",
    "errors",
    "error_rate",
    "error_rate_low",
    "error_rate_high",
    "rest_error_rate",
    "odds_ratio",
    "or_low",
    "or_high",
    "test",
    "p_value",
    "q_value",
    "significant",
    "note",
]
_ATTRIBUTE_COLUMNS = [
    "test_set",
    "class",
    "attribute",
    "kind",
    "n",
    "n_missing",
    "n_groups",
    "test",
    "statistic",
    "df",
    "p_value",
    "q_value",
    "associated",
    "effect_name",
    "effect",
    "effect_low",
    "effect_high",
    "adjusted_test",
    "adjusted_statistic",
    "adjusted_df",
    "adjusted_p_value",
    "adjusted_q_value",
    "independent",
]
_TERM_COLUMNS = [
    "test_set",
    "class",
    "attribute",
    "term",
    "n",
    "adjusted_or",
    "adjusted_or_low",
    "adjusted_or_high",
    "p_value",
    "q_value",
    "significant",
]
_INTERACTION_COLUMNS = [
    "test_set",
    "reference",
    "class",
    "attribute",
    "n",
    "n_left_out",
    "error_rate_reference",
    "error_rate_shift",
    "test",
    "statistic",
    "df",
    "p_value",
    "q_value",
    "significant",
]


def finish(
    group_rows_, attribute_rows, term_tables, interaction_rows, skipped, settings, alpha
) -> SubgroupResult:
    """Assemble the tables: q-values over all of them, significance flags, the risk ranking."""
    groups = pd.DataFrame(
        group_rows_, columns=[c for c in _GROUP_COLUMNS if c not in ("q_value", "significant")]
    )
    attributes = pd.DataFrame(attribute_rows).reindex(
        columns=[
            c
            for c in _ATTRIBUTE_COLUMNS
            if c not in ("q_value", "adjusted_q_value", "associated", "independent")
        ]
    )
    terms = [t for t in term_tables if len(t)]
    multivariable = (
        pd.concat(terms, ignore_index=True) if terms else pd.DataFrame(columns=_TERM_COLUMNS[:-2])
    )
    interactions = pd.DataFrame(interaction_rows).reindex(columns=_INTERACTION_COLUMNS[:-2])

    # One FDR family over every p-value reported, whatever table it sits in.
    families = [
        groups["p_value"],
        attributes["p_value"],
        attributes["adjusted_p_value"],
        multivariable["p_value"],
        interactions["p_value"],
    ]
    sizes = np.cumsum([0] + [len(f) for f in families])
    q = (
        benjamini_hochberg(np.concatenate([f.to_numpy(dtype=float) for f in families]))
        if sizes[-1]
        else np.array([])
    )
    (
        groups["q_value"],
        attributes["q_value"],
        attributes["adjusted_q_value"],
        multivariable["q_value"],
        interactions["q_value"],
    ) = (q[sizes[i] : sizes[i + 1]] for i in range(5))
    attributes["associated"] = attributes["q_value"] <= alpha
    attributes["independent"] = attributes["adjusted_q_value"] <= alpha
    # Hierarchical reporting, as post-hoc comparisons follow a significant global test: a
    # group (or model term) is reported only if its attribute's own test is significant in
    # the same scope. A chance dip of one group of a noise attribute then stays unreported.
    keys = ["test_set", "class", "attribute"]
    gate = attributes.set_index(keys)
    groups["significant"] = (groups["q_value"] <= alpha) & _lookup(groups, gate["associated"], keys)
    multivariable["significant"] = (multivariable["q_value"] <= alpha) & _lookup(
        multivariable, gate["independent"], keys
    )
    interactions["significant"] = interactions["q_value"] <= alpha

    # Significant risk groups first (largest odds ratio first), then significant protective
    # groups (smallest first), then the rest by p-value.
    risk = groups["significant"] & (groups["odds_ratio"] > 1)
    rank = np.where(risk, 0, np.where(groups["significant"], 1, 2))
    key = np.select(
        [rank == 0, rank == 1], [-groups["odds_ratio"], groups["odds_ratio"]], groups["p_value"]
    )
    groups = groups.assign(_rank=rank, _key=key).sort_values(
        ["_rank", "_key"], na_position="last", kind="stable"
    )
    groups = groups.reset_index(drop=True)[_GROUP_COLUMNS]
    attributes = attributes.sort_values("p_value", na_position="last", kind="stable").reset_index(
        drop=True
    )[_ATTRIBUTE_COLUMNS]
    return SubgroupResult(
        groups=groups,
        attributes=attributes,
        multivariable=multivariable.reset_index(drop=True)[_TERM_COLUMNS],
        interactions=interactions.reset_index(drop=True)[_INTERACTION_COLUMNS],
        skipped=skipped,
        settings=settings,
    )


def _lookup(table: pd.DataFrame, flags: pd.Series, keys: list[str]) -> np.ndarray:
    """``flags`` of each row's (test_set, class, attribute); False where the attribute was not tested."""
    if table.empty:
        return np.zeros(0, dtype=bool)
    index = pd.MultiIndex.from_frame(table[keys])
    return flags.astype(bool).reindex(index, fill_value=False).to_numpy(dtype=bool)
