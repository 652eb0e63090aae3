"""Working points: risk at coverage, coverage at risk, a threshold from validation data."""

from __future__ import annotations

import math

import numpy as np
import pytest

import silentscope.metrics as sm

CONF = [0.9, 0.8, 0.7, 0.6]
CORRECT = [1, 1, 0, 1]  # selective risks 0, 0, 1/3, 1/4 at coverages 1/4 .. 1


@pytest.mark.parametrize(
    ("coverage", "risk"),
    [
        (0.0, 0.0),
        (0.25, 0.0),
        (0.3, 0.0),
        (0.5, 0.0),
        (0.51, 1 / 3),
        (0.75, 1 / 3),
        (1.0, 0.25),
    ],
)
def test_risk_at_coverage(coverage, risk):
    assert sm.risk_at_coverage(CONF, CORRECT, coverage) == pytest.approx(risk)


@pytest.mark.parametrize(
    ("risk", "coverage"),
    [
        (0.0, 0.5),
        (0.2, 0.5),
        (0.25, 1.0),
        (0.3, 1.0),
        (1.0, 1.0),
    ],
)
def test_coverage_at_risk(risk, coverage):
    assert sm.coverage_at_risk(CONF, CORRECT, risk) == coverage


def test_ties_cannot_be_split():
    conf, correct = [0.9, 0.9, 0.9, 0.1], [1, 1, 0, 1]
    assert sm.risk_at_coverage(conf, correct, 0.25) == pytest.approx(1 / 3)
    assert sm.coverage_at_risk(conf, correct, 0.2) == 0.0
    assert sm.selective_threshold(conf, correct, 0.2) == math.inf


def test_threshold_chosen_on_validation_evaluated_on_test():
    rng = np.random.default_rng(0)
    n = 20_000
    correct = rng.random(2 * n) < 0.8
    conf = correct + rng.normal(scale=0.8, size=2 * n)
    val, test = slice(0, n), slice(n, None)
    threshold = sm.selective_threshold(conf[val], correct[val], target_risk=0.05)
    curve = sm.RiskCoverageCurve(conf[val], correct[val])
    accepted = conf[val] >= threshold
    assert np.mean(~correct[val][accepted]) <= 0.05
    # The chosen point is the curve's largest coverage within the target.
    assert accepted.mean() == pytest.approx(curve.coverage_at_risk(0.05))
    result = sm.selective_risk_coverage(conf[test], correct[test], threshold)
    assert result.selective_risk == pytest.approx(0.05, abs=0.01)
    assert result.coverage == pytest.approx(accepted.mean(), abs=0.02)


def test_selective_risk_coverage_edge_cases():
    none = sm.selective_risk_coverage(CONF, CORRECT, math.inf)
    assert math.isnan(none.selective_risk) and none.coverage == 0.0
    everything = sm.selective_risk_coverage(CONF, CORRECT, -math.inf)
    assert everything == (0.25, 1.0)
    with pytest.raises(ValueError, match="threshold is NaN"):
        sm.selective_risk_coverage(CONF, CORRECT, float("nan"))
