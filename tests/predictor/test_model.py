"""The misclassification predictor as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from silentscope.predictor import MisclassificationPredictor


def frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "msr": rng.random(n),
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.normal(60, 10, n)),
            "sex": pd.Categorical(rng.choice(["F", "M"], n)),
        }
    )
    risk = 0.6 * (1 - X["msr"]) + 0.3 * (X["age"].fillna(60) > 70)
    y = (rng.random(n) < risk).astype(int)
    return X, y


@pytest.mark.parametrize("model", ["hgb", "logreg"])
def test_learns_the_risk_with_missing_values_and_categories(model):
    X, y = frame(1200)
    predictor = MisclassificationPredictor(model, random_state=0).fit(X.iloc[:800], y[:800])
    risk = predictor.predict_risk(X.iloc[800:])
    assert risk.shape == (400,) and ((risk >= 0) & (risk <= 1)).all()
    assert roc_auc_score(y[800:], risk) > 0.7
    assert predictor.predict_proba(X.iloc[800:]).shape == (400, 2)
    assert predictor.categorical_features_ == ["sex"]


@pytest.mark.parametrize("model", ["hgb", "logreg"])
def test_unseen_categories_and_column_order_are_handled(model):
    X, y = frame()
    predictor = MisclassificationPredictor(model).fit(X, y)
    new = X.iloc[:5][["sex", "age", "msr"]].copy()
    new["sex"] = ["X", "F", None, "M", "F"]
    assert np.isfinite(predictor.predict_risk(new)).all()


def test_same_seed_same_predictions_and_clone_keeps_parameters():
    X, y = frame()
    first = MisclassificationPredictor("hgb", random_state=3).fit(X, y).predict_risk(X)
    second = clone(MisclassificationPredictor("hgb", random_state=3)).fit(X, y).predict_risk(X)
    np.testing.assert_array_equal(first, second)
    assert clone(MisclassificationPredictor("logreg", C=0.1)).get_params()["C"] == 0.1


def test_invalid_inputs_are_refused_with_the_fix():
    X, y = frame()
    with pytest.raises(ValueError, match="model must be one of hgb, logreg"):
        MisclassificationPredictor("forest").fit(X, y)
    with pytest.raises(ValueError, match="at least 5 of each: use a larger split"):
        MisclassificationPredictor().fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="y must be binary"):
        MisclassificationPredictor().fit(X, np.full(len(X), 2))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        MisclassificationPredictor().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="infinite values"):
        MisclassificationPredictor().fit(X.assign(msr=np.inf), y)
    fitted = MisclassificationPredictor("logreg").fit(X, y)
    with pytest.raises(ValueError, match=r"lacks the feature column\(s\) \['age'\]"):
        fitted.predict_risk(X.drop(columns="age"))
