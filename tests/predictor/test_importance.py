"""Permutation importance of the predictor's features, measured on held-out rows."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.predictor import estimate_risk, feature_importances
from tests.support.planted import simulate_audit


@pytest.fixture(scope="module")
def estimate_and_audit(odir_metadata):
    audit = simulate_audit(odir_metadata, 0, n_patients=900)
    return estimate_risk(audit, model="logreg", metadata=["age", "scanner"]), audit


def test_the_planted_attribute_matters_and_the_noise_attribute_does_not(estimate_and_audit):
    estimate, audit = estimate_and_audit
    for held_out in (audit.test_set == "iid", None):  # test rows, or the cross-fitting folds
        table = feature_importances(estimate, held_out, n_repeats=3).set_index("feature")
        assert table.loc["meta.age", "importance"] > 0.03
        assert (
            abs(table.loc["meta.scanner", "importance"]) < table.loc["meta.age", "importance"] / 5
        )
    assert table["n"].iloc[0] == estimate.train_mask.sum()


def test_importance_is_never_measured_on_training_rows(estimate_and_audit):
    estimate, audit = estimate_and_audit
    with pytest.raises(ValueError, match="overlap the training split"):
        feature_importances(estimate, np.ones(audit.n_samples, dtype=bool))
