"""dcbench-style discovery scores."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.slices import precision_at_k, score_discovery, score_table


def test_precision_at_k_counts_the_top_samples():
    truth = np.array([1, 1, 0, 1, 0, 0], bool)
    scores = np.array([0.9, 0.1, 0.8, 0.7, 0.2, 0.3])
    assert precision_at_k(truth, scores, 1) == 1.0
    assert precision_at_k(truth, scores, 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(truth, scores, 0)


def test_best_matching_slice_is_credited():
    rng = np.random.default_rng(0)
    truth = rng.random(500) < 0.1
    noise = rng.random((500, 3))
    scores = np.column_stack([noise, truth + 0.1 * rng.random(500)])
    result = score_discovery(truth, scores)
    assert result["best_slice"] == 3
    assert (
        result["precision_at_10"] == result["precision_at_25"] == result["average_precision"] == 1.0
    )
    random_only = score_discovery(truth, noise)
    assert random_only["average_precision"] < 0.3
    assert list(score_table({"t": truth}, scores)["truth"]) == ["t"]
    with pytest.raises(ValueError, match="members"):
        score_discovery(np.zeros(500, bool), scores)
