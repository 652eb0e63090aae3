"""The metric registry: exact names, metadata, no substring matching."""

from __future__ import annotations

import numpy as np
import pytest

import silentscope.metrics as sm


def test_registry_names_and_metadata():
    expected = {
        "aurc",
        "e_aurc",
        "augrc",
        "e_augrc",
        "aurc_balanced",
        "augrc_balanced",
        "auroc_f",
        "fpr_at_95_tpr",
        "aupr_success",
        "aupr_error",
        "ece",
        "mce",
        "fail_nll",
        "aurc_achievable",
        "e_aurc_achievable",
        "aurc_partial",
        "aurc_ba",
        "augrc_ba",
        "risk_at_95_coverage",
        "min_risk_at_95_coverage",
        "top_label_ece",
        "nll",
        "brier",
        "accuracy",
        "balanced_accuracy",
    }
    assert set(sm.METRICS) == expected
    for name, spec in sm.METRICS.items():
        assert spec.name == name
        assert spec.kind in ("failure_detection", "classification")
        assert spec.table_scale > 0
    assert sm.get_metric("aurc").table_scale == 1000
    assert not sm.get_metric("aurc").higher_is_better
    assert sm.get_metric("auroc_f").higher_is_better
    assert set(sm.BOOTSTRAP_METRICS) <= set(sm.METRICS)


@pytest.mark.parametrize("name", ["aur", "AURC", "aurc ", "e-aurc", "", None, ["aurc"]])
def test_unknown_names_raise_with_valid_list(name):
    with pytest.raises(ValueError, match="unknown metric .*valid names are: .*aurc"):
        sm.get_metric(name)


def test_every_registered_function_runs_with_its_kind():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=50)
    labels = rng.integers(0, 3, 50)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    for spec in sm.METRICS.values():
        if spec.kind == "classification":
            value = spec.function(probs, labels)
        elif spec.needs_labels:
            value = spec.function(conf, correct, labels)
        else:
            value = spec.function(conf, correct)
        assert isinstance(value, float) and np.isfinite(value), spec.name
