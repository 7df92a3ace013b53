"""A random forest of shallow trees on each treatment's transformed outcome, residualised on a pooled baseline.

In a randomized experiment with a known share e of treatment t among the users of t and control, the
transformed outcome Z = (y − m(x)) · (T/e − (1 − T)/(1 − e)) has E[Z | x] = uplift of t at x for any m that
does not depend on the arm (Athey & Imbens 2015, "Machine learning methods for estimating heterogeneous causal
effects"; the residual on m, a baseline learned out of fold from every user of every arm, only cuts Z's
variance). A regression forest on Z therefore estimates the uplift itself: every leaf is an estimate of a
subgroup's effect, so an effect that switches on where a feature crosses a threshold is one split, not the
small difference of two outcome models. A few thousand users per arm allow only big leaves and depth 2;
averaging 200 bagged trees (LightGBM's random forest mode) smooths the thresholds. Categorical columns are
split natively (a category set per split), so "gold or platinum in the north or east" is two splits rather
than a chain of one-hot columns. It works for 0/1 and continuous outcomes alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lightgbm import LGBMRegressor
from sklearn.model_selection import KFold

from uplift.errors import UpliftError
from uplift.lgbm_models import lgbm_model

BASELINE_FOLDS = 3
DEPTH, LEAVES = 2, 4
MAX_MIN_LEAF, LEAF_SHARE = 800, 15  # at most 800 users a leaf, and at least 1/15 of the arm pair's users


def pooled_baseline(X: np.ndarray, y: np.ndarray, binary: bool, categorical: list[int], seed: int) -> np.ndarray:
    """Every user's outcome predicted by a model that did not see them, arms pooled (K-fold)."""
    out = np.zeros(len(y))
    for train, test in KFold(BASELINE_FOLDS, shuffle=True, random_state=seed).split(X):
        if binary:
            classifier = lgbm_model("classifier", 100, 0.05, seed)
            classifier.fit(X[train], y[train], categorical_feature=categorical or "auto")
            out[test] = np.asarray(classifier.predict_proba(X[test]), float)[:, 1]
        else:
            regressor = lgbm_model("regressor", 100, 0.05, seed)
            regressor.fit(X[train], y[train], categorical_feature=categorical or "auto")
            out[test] = np.asarray(regressor.predict(X[test]), float)
    return out


def transformed_outcome(y: np.ndarray, baseline: np.ndarray, treated: np.ndarray, e: float) -> np.ndarray:
    """Z = (y − m(x)) · (T/e − (1 − T)/(1 − e)): its mean given x is the uplift at x (Athey & Imbens 2015)."""
    return (y - baseline) * (treated / e - (1.0 - treated) / (1.0 - e))


@dataclass(frozen=True)
class PairOutcomes:
    """Per treatment: which users are in it or in control (`rows`) and their transformed outcome Z (`z`)."""

    X: np.ndarray
    treatments: list[str]
    rows: dict[str, np.ndarray]
    z: dict[str, np.ndarray]


def pair_outcomes(X: np.ndarray, treatment: np.ndarray, y: np.ndarray, *, control: str,
                  propensity: dict[str, float], categorical: list[int], seed: int) -> PairOutcomes:
    """The transformed outcome of every treatment against control, residualised on one pooled out-of-fold baseline:
    what the pseudo-outcome learners fit (`PseudoOutcomeForest`, `uplift.pseudo_rules.PseudoOutcomeRules`)."""
    X, arm, y = np.asarray(X, float), np.asarray(treatment).astype(str), np.asarray(y, float)
    treatments = sorted(set(arm) - {control})
    missing = [t for t in treatments if t not in propensity]
    if missing:
        raise UpliftError(f"no propensity for treatment(s) {', '.join(missing)}")
    binary = bool(np.isin(np.unique(y), [0, 1]).all())
    baseline = pooled_baseline(X, y, binary, categorical, seed)
    rows = {t: (arm == t) | (arm == control) for t in treatments}
    z = {t: transformed_outcome(y[r], baseline[r], (arm[r] == t).astype(float), propensity[t]) for t, r in rows.items()}
    return PairOutcomes(X, treatments, rows, z)


class PseudoOutcomeForest:
    """`fit(X, treatment, y)` and `predict(X)` (n × treatments, sorted), the interface UpliftModel gives causalml's learners."""

    def __init__(self, propensity: dict[str, float], control_name: str = "control", n_estimators: int = 200,
                 min_child_samples: int | None = None, categorical: list[int] | None = None, seed: int = 0):
        self.propensity = propensity  # P(t | t or control), known from the arm weights
        self.control_name = control_name
        self.n_estimators = n_estimators
        self.min_child_samples = min_child_samples
        self.categorical = categorical or []
        self.seed = seed

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> PseudoOutcomeForest:
        data = pair_outcomes(X, treatment, y, control=self.control_name, propensity=self.propensity,
                             categorical=self.categorical, seed=self.seed)
        self.treatments_ = data.treatments
        self.forests_ = {}
        for t in self.treatments_:
            rows = data.rows[t]
            min_leaf = self.min_child_samples or max(20, min(MAX_MIN_LEAF, int(rows.sum()) // LEAF_SHARE))
            forest = LGBMRegressor(boosting_type="rf", n_estimators=self.n_estimators, num_leaves=LEAVES, max_depth=DEPTH,
                                   min_child_samples=min_leaf, min_data_per_group=max(10, min_leaf // 4), cat_smooth=50,
                                   subsample=0.632, subsample_freq=1, colsample_bytree=1.0, random_state=self.seed,
                                   n_jobs=1, verbose=-1)
            self.forests_[t] = forest.fit(data.X[rows], data.z[t], categorical_feature=self.categorical or "auto")
        return self

    def predict(self, X: np.ndarray, **_: object) -> np.ndarray:
        """The forest's uplift estimate per user, one column per treatment (sorted)."""
        X = np.asarray(X, float)
        return np.column_stack([self.forests_[t].predict(X) for t in self.treatments_])
