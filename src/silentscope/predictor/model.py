"""The misclassification predictor: a classifier of the classifier's errors.

A scikit-learn estimator on a feature table (see :mod:`silentscope.predictor.features`)
and a binary target, 1 where the audited classifier was wrong. Numeric columns are used as
they are (missing values allowed); categorical columns are encoded inside the pipeline from
the training rows only, so categories first seen at prediction time are handled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits


class TooFewErrorsError(ValueError):
    """The training rows hold too few errors (or too few correct predictions) to learn from."""


MODELS = ("hgb", "logreg")

#: Below this many rows, boosting runs on one thread: OpenMP start-up and contention with
#: other processes cost more than the parallel work saves (15x slower seen on 2 busy cores).
SINGLE_THREAD_ROWS = 50_000

#: Fewer errors (or fewer correct predictions) than this in the training rows cannot train
#: a predictor worth reporting.
MIN_CLASS_COUNT = 5


class MisclassificationPredictor(ClassifierMixin, BaseEstimator):
    """Predict the probability that the audited classifier's prediction is wrong.

    Parameters
    ----------
    model : {"hgb", "logreg"}, default "hgb"
        ``hgb``: histogram gradient boosting (scikit-learn's
        ``HistGradientBoostingClassifier``, native categorical and missing-value
        handling) with small trees and few iterations: a predictor usually learns from a
        few hundred to a few thousand validation samples, where these defaults generalised
        better than larger trees on the simulated audits of the tests. ``logreg``: L2
        logistic regression on standardised numeric features (median-imputed, with
        missing indicators) and one-hot categories.
    max_iter : int, default 80
        Boosting iterations (``hgb``).
    learning_rate : float, default 0.05
        Shrinkage (``hgb``).
    max_leaf_nodes : int, default 5
        Tree size (``hgb``).
    min_samples_leaf : int, default 40
        Smallest leaf (``hgb``).
    l2_regularization : float, default 1.0
        Leaf-value penalty (``hgb``).
    C : float, default 1.0
        Inverse penalty strength (``logreg``).
    random_state : int, optional
        Seed of every random choice (``hgb`` early-stopping split and binning subsample).

    Attributes
    ----------
    pipeline_ : sklearn Pipeline
    feature_names_in_ : ndarray of str
    categorical_features_ : list of str
    classes_ : ndarray, [0, 1]

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"msr": rng.random(300), "sex": rng.choice(["F", "M"], 300)})
    >>> y = (rng.random(300) < 1 - X["msr"]).astype(int)
    >>> predictor = MisclassificationPredictor(model="logreg").fit(X, y)
    >>> risk = predictor.predict_risk(X)
    >>> bool(risk[X["msr"] < 0.2].mean() > risk[X["msr"] > 0.8].mean())
    True
    """

    def __init__(
        self,
        model: str = "hgb",
        *,
        max_iter: int = 80,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 5,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        C: float = 1.0,
        random_state: int | None = 0,
    ):
        self.model = model
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.C = C
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> MisclassificationPredictor:
        """Fit on features ``X`` and ``y`` (1 = the audited prediction was wrong)."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        X = self._check_frame(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one entry per row of X ({len(X)}), got shape {y.shape}"
            )
        if not np.isin(y, (0, 1)).all():
            raise ValueError(
                "y must be binary: 1 where the audited prediction was wrong, 0 where right"
            )
        n_errors = int(y.sum())
        if min(n_errors, len(y) - n_errors) < MIN_CLASS_COUNT:
            raise TooFewErrorsError(
                f"the training rows hold {n_errors} errors and {len(y) - n_errors} correct predictions; "
                f"a misclassification predictor needs at least {MIN_CLASS_COUNT} of each: use a larger split"
            )
        self.categorical_features_ = [c for c in X.columns if _is_categorical(X[c])]
        numeric = [c for c in X.columns if c not in self.categorical_features_]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.pipeline_ = self._pipeline(numeric, self.categorical_features_)
        with _threads(len(X)):
            self.pipeline_.fit(_as_model_input(X, self.categorical_features_), y.astype(int))
        self.classes_ = np.array([0, 1])
        return self

    def _pipeline(self, numeric: list[str], categorical: list[str]) -> Pipeline:
        if self.model == "hgb":
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
            )
            columns = ColumnTransformer(
                [("numeric", "passthrough", numeric), ("categorical", encoder, categorical)],
                verbose_feature_names_out=False,
            )
            booster = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                categorical_features=[False] * len(numeric) + [True] * len(categorical),
                random_state=self.random_state,
            )
            return Pipeline([("columns", columns), ("model", booster)])
        numeric_steps = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        )
        categorical_steps = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="<missing>"),
            OneHotEncoder(handle_unknown="ignore"),
        )
        columns = ColumnTransformer(
            [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)]
        )
        return Pipeline(
            [("columns", columns), ("model", LogisticRegression(C=self.C, max_iter=2000))]
        )

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Shape (n, 2): probability of a correct prediction, then of a misclassification."""
        check_is_fitted(self, "pipeline_")
        X = self._check_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature column(s) {missing} the predictor was fitted on")
        X = X[list(self.feature_names_in_)]
        with _threads(len(X)):
            return self.pipeline_.predict_proba(_as_model_input(X, self.categorical_features_))

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted probability of misclassification, shape (n,)."""
        return self.predict_proba(X)[:, 1]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where a misclassification is more likely than not."""
        return (self.predict_risk(X) > 0.5).astype(int)

    @staticmethod
    def _check_frame(X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a pandas DataFrame of named features, got {type(X).__name__}"
            )
        if X.shape[1] == 0:
            raise ValueError("X has no feature columns")
        numeric = [c for c in X.columns if not _is_categorical(X[c])]
        bad = [c for c in numeric if np.isinf(X[c].to_numpy(dtype=float)).any()]
        if bad:
            raise ValueError(
                f"feature column(s) {bad} contain infinite values; fix them before fitting"
            )
        return X


def _threads(n_rows: int):
    return threadpool_limits(limits=1 if n_rows < SINGLE_THREAD_ROWS else None, user_api="openmp")


def _is_categorical(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _as_model_input(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical columns as plain object strings (missing as NaN) for the encoders."""
    X = X.copy()
    for column in categorical:
        values = X[column].astype("string")
        X[column] = values.to_numpy(dtype=object, na_value=np.nan)
    return X
