"""The churn risk model: LightGBM boosted from a logistic RFM base, with calibrated probabilities.

Why a logistic base: trees cannot extrapolate, and at scoring time recency and tenure run past the
values seen at training (scoring is later than training). Boosting from a logistic regression on
recency, frequency and monetary value (LightGBM's `init_score`) keeps the linear trend outside the
training range while the trees add interactions and the behaviour signals. Calibration is
scikit-learn's CalibratedClassifierCV (cross-fitted), so `risk` is a probability of churning within
the horizon. Follows the scikit-learn habit: __init__ stores parameters, fit returns self, fitted
attributes end in '_'.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churn.errors import ChurnError

Calibration = Literal["sigmoid", "isotonic"]
MIN_PER_CLASS = 10
BASE_COLUMNS = ("recency", "log_orders", "log_spend", "log_order_days")


def base_design(features: pd.DataFrame) -> pd.DataFrame:
    """The logistic base's inputs: recency (tenure for never-buyers) and log frequency / monetary."""
    return pd.DataFrame({
        "recency": features["recency_days"].fillna(features["tenure_days"]).to_numpy(dtype=float),
        "log_orders": np.log1p(features["orders"].to_numpy(dtype=float)),
        "log_spend": np.log1p(features["spend"].to_numpy(dtype=float)),
        "log_order_days": np.log1p(features["order_days"].to_numpy(dtype=float)),
    }, index=features.index)


class BoostedLogit(ClassifierMixin, BaseEstimator):
    """Logistic regression on the first `n_base` columns, then LightGBM on the rest from its log-odds."""

    def __init__(self, n_base: int = len(BASE_COLUMNS), n_estimators: int = 150, learning_rate: float = 0.03,
                 num_leaves: int = 7, min_child_samples: int = 100, random_state: int = 0, n_jobs: int = 1):
        self.n_base = n_base
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: np.ndarray, y: np.ndarray) -> BoostedLogit:
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=int)
        self.classes_ = np.unique(y)
        self.base_ = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:, : self.n_base], y)
        self.booster_ = LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
            reg_lambda=1.0, random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1,
        ).fit(X[:, self.n_base:], y, init_score=self.base_.decision_function(X[:, : self.n_base]))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return self.base_.decision_function(X[:, : self.n_base]) + self.booster_.predict(X[:, self.n_base:], raw_score=True)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Logistic-base LightGBM + probability calibration; predicts P(no order within the horizon).

    A scikit-learn classifier (`get_params`, `clone`, `Pipeline`, `GridSearchCV`) on a DataFrame of one row per
    user with named columns: the RFM base reads `recency_days`, `tenure_days`, `orders`, `spend` and `order_days`
    by name, so a Pipeline step before it must keep column names (`set_output(transform="pandas")`).
    """

    def __init__(
        self, *, calibration: Calibration = "sigmoid", cv: int = 3, n_estimators: int = 150,
        learning_rate: float = 0.03, num_leaves: int = 7, min_child_samples: int = 100,
        random_state: int = 0, n_jobs: int = 1,
    ):
        self.calibration = calibration
        self.cv = cv
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _design(self, features: pd.DataFrame) -> np.ndarray:
        return np.hstack([base_design(features).to_numpy(), features[self.features_].to_numpy(dtype=float)])

    def fit(self, features: pd.DataFrame, churned: pd.Series | np.ndarray) -> ChurnModel:
        """Fit on one row per user (numeric features, including the RFM columns) and 0/1 churn labels."""
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ChurnError(f"calibration must be 'sigmoid' or 'isotonic', got {self.calibration!r}")
        features = _named(features, "fit")
        missing = [c for c in BASE_INPUTS if c not in features.columns]
        if missing:
            raise ChurnError(f"the churn model's RFM base needs the columns {', '.join(missing)}; "
                             "compute them with churn.features.compute_features")
        y = _labels(churned)
        if len(y) != len(features):
            raise ChurnError(f"{len(features)} feature rows but {len(y)} labels")
        counts = np.bincount(y, minlength=2)
        need = max(MIN_PER_CLASS, self.cv)
        if counts.min() < need:
            raise ChurnError(
                f"too few users to learn from: {counts[1]} churned and {counts[0]} retained "
                f"(need at least {need} of each); pick an earlier as-of date or more data"
            )
        self.features_ = list(features.columns)
        self.feature_names_in_ = np.asarray(self.features_, dtype=object)
        self.n_features_in_ = len(self.features_)
        self.classes_ = np.array([0, 1])
        booster = BoostedLogit(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, random_state=self.random_state, n_jobs=self.n_jobs,
        )
        # ensemble=False: out-of-fold scores fit the calibrator, one booster fitted on all users ranks them
        self.estimator_ = CalibratedClassifierCV(booster, method=self.calibration, cv=self.cv, ensemble=False)
        self.estimator_.fit(self._design(features), y)
        return self

    def predict_risk(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn) for each row; the columns must include those seen in fit."""
        if not hasattr(self, "estimator_"):
            raise ChurnError("the churn model is not fitted yet")
        features = _named(features, "scoring")
        missing = [c for c in self.features_ if c not in features.columns]
        if missing:
            raise ChurnError(f"features missing for scoring: {', '.join(missing[:5])}")
        return np.asarray(self.estimator_.predict_proba(self._design(features))[:, 1])

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """scikit-learn's form of `predict_risk`: columns P(retained), P(churned)."""
        risk = self.predict_risk(features)
        return np.column_stack([1.0 - risk, risk])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """1 where the calibrated risk exceeds one half (flagging uses per-stage thresholds instead)."""
        return (self.predict_risk(features) > 0.5).astype(int)

    def feature_importance(self) -> pd.Series:
        """Mean split gain of each tree feature over the cross-fitted boosters, largest first."""
        gains = np.mean(
            [c.estimator.booster_.booster_.feature_importance("gain") for c in self.estimator_.calibrated_classifiers_],
            axis=0,
        )
        return pd.Series(gains, index=self.features_).sort_values(ascending=False)


BASE_INPUTS = ("recency_days", "tenure_days", "orders", "spend", "order_days")


def _named(features: object, step: str) -> pd.DataFrame:
    """The features as a DataFrame with named columns, or a ChurnError saying how to keep the names."""
    if not isinstance(features, pd.DataFrame):
        raise ChurnError(f"the churn model needs a DataFrame with named feature columns for {step}, got "
                         f"{type(features).__name__}; in a Pipeline, keep names with set_output(transform='pandas')")
    return features


def _labels(churned: pd.Series | np.ndarray) -> np.ndarray:
    """0/1 churn labels as ints; anything else refused."""
    y = np.asarray(churned)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ChurnError("churn labels must be one 0 (retained) or 1 (churned) per user")
    return y.astype(int)
