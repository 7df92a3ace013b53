"""A T-learner whose arms start from a pooled baseline: each arm learns only how it differs from every user's outcome.

A plain T-learner fits each arm's outcome from that arm's users alone, so on a small arm the baseline (what
retains a user whatever they get) is learned again, noisily, by every arm, and the difference of two noisy
baselines drowns the effect. Here one LightGBM model learns the baseline from every user of every arm; each
arm's model (control included) is then boosted from that baseline's log-odds (`init_score`) on the arm's users,
with small, strongly regularised trees, so what it adds is the arm's deviation: the effect, shrunk toward the
pooled outcome by the regularisation. Uplift of t = σ(b(x) + g_t(x)) − σ(b(x) + g_control(x)); it can be
negative where a treatment harms.
"""
from __future__ import annotations

import numpy as np
from lightgbm import LGBMClassifier

from uplift.errors import UpliftError
from uplift.lgbm_models import lgbm_model


class PooledTLearner:
    """`fit(X, treatment, y)` and `predict(X)` (n × treatments, sorted), the interface UpliftModel gives causalml's learners."""

    def __init__(self, control_name: str = "control", n_estimators: int = 100, learning_rate: float = 0.05,
                 num_leaves: int = 4, min_child_samples: int = 200, reg_lambda: float = 10.0, seed: int = 0):
        self.control_name = control_name
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.seed = seed

    def _model(self, n_estimators: int, num_leaves: int, min_child_samples: int, reg_lambda: float) -> LGBMClassifier:
        return lgbm_model("classifier", n_estimators, self.learning_rate, self.seed, num_leaves, min_child_samples,
                          reg_lambda)

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> PooledTLearner:
        X, arm, y = np.asarray(X, float), np.asarray(treatment).astype(str), np.asarray(y, float)
        if not np.isin(np.unique(y), [0, 1]).all():
            raise UpliftError("the pooled_t learner needs a 0/1 outcome; use learner s, t, x or dr for continuous outcomes")
        self.treatments_ = sorted(set(arm) - {self.control_name})
        self.baseline_ = self._model(self.n_estimators, 15, 50, 0.0).fit(X, y.astype(int))
        base = np.asarray(self.baseline_.predict(X, raw_score=True), float)
        self.arms_ = {}
        for key in [self.control_name, *self.treatments_]:
            mine = arm == key
            if len(np.unique(y[mine])) < 2:
                raise UpliftError(f"arm '{key}' has only one outcome value; the pooled_t learner needs both 0 and 1")
            model = self._model(self.n_estimators, self.num_leaves, self.min_child_samples, self.reg_lambda)
            self.arms_[key] = model.fit(X[mine], y[mine].astype(int), init_score=base[mine])
        return self

    def predict(self, X: np.ndarray, **_: object) -> np.ndarray:
        """σ(baseline + arm deviation) of each treatment minus that of control, one column per treatment (sorted)."""
        X = np.asarray(X, float)
        base = np.asarray(self.baseline_.predict(X, raw_score=True), float)

        def outcome(key: str) -> np.ndarray:
            margin = base + np.asarray(self.arms_[key].predict(X, raw_score=True), float)
            return 1.0 / (1.0 + np.exp(-margin))

        control = outcome(self.control_name)
        return np.column_stack([outcome(t) - control for t in self.treatments_])
