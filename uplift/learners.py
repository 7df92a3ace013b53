"""Uplift learners for several treatments against one control: causalml meta-learners on LightGBM, causalml's uplift
forest, one penalised logistic regression over every arm (`logit`, `uplift.interaction_logit`), a T-learner whose
arms are boosted from a pooled baseline (`pooled_t`, `uplift.pooled_t`), or a forest of shallow trees on each
treatment's transformed outcome (`pseudo_forest`, `uplift.pseudo_forest`), or bagged two-feature rules on it
(`pseudo_rules`, `uplift.pseudo_rules`).

In a randomized experiment the propensity of each treatment against control is known from the arm
weights, so it is passed to causalml rather than estimated. Categorical columns are one-hot encoded
(scikit-learn) so every learner sees the same numeric matrix; `pseudo_forest` and `pseudo_rules` get them as
category codes instead (LightGBM splits those natively; the rules test each category and its complement).
"""
from __future__ import annotations

import logging
import warnings
from typing import Literal, get_args

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from uplift.errors import UpliftError
from uplift.interaction_logit import InteractionLogit
from uplift.lgbm_models import lgbm_model
from uplift.pooled_t import PooledTLearner
from uplift.pseudo_forest import PseudoOutcomeForest
from uplift.pseudo_rules import PseudoOutcomeRules

ArrayLike = pd.Series | np.ndarray | list
LearnerName = Literal["s", "s_fine", "t", "x", "dr", "forest", "logit", "pooled_t", "pseudo_forest", "pseudo_rules"]
LEARNERS: tuple[str, ...] = get_args(LearnerName)

# causalml logs every fit and prediction at INFO; keep the CLI's output to the progress bars.
logging.getLogger("causalml").setLevel(logging.WARNING)


# The S-learner's "fine" variant: three times as many trees of at most 7 leaves and 200 users each. Effects that
# live in an interaction of two features need many shallow steps; a small experiment needs big leaves.
FINE_TREES_FACTOR, FINE_LEAVES, FINE_MIN_LEAF = 3, 7, 200
LOGIT_LAMBDA = 100.0  # the logit learner's default L2 strength (C = 0.01 in scikit-learn's terms)


def _binary(y: np.ndarray) -> bool:
    return bool(np.isin(np.unique(y), [0, 1]).all())


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """The text, categorical and boolean columns (the ones the encoders do not pass through as numbers)."""
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool]


def build_encoder(frame: pd.DataFrame, codes: bool = False) -> ColumnTransformer:
    """One-hot for text/categorical/boolean columns (or, with `codes`, one column of category codes each, an unseen
    category missing), numbers passed through as they are; the categorical columns come first."""
    categorical = categorical_columns(frame)
    numeric = [c for c in frame.columns if c not in categorical]
    encoder = (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
               if codes else OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    return ColumnTransformer(
        [
            ("categorical", encoder, categorical),
            ("numeric", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    )


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as plain strings so the encoder sees the same dtype at fit and score time."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) or out[column].dtype == bool:
            out[column] = out[column].astype(str)
    return out


class UpliftModel(BaseEstimator):
    """Per-user uplift of each treatment over control, a scikit-learn estimator: `fit(X, y, treatment=...)` returns
    self, fitted attributes end in `_`, and `clone`, `Pipeline` and `GridSearchCV` work on it.

    The LightGBM hyper-parameters left at None take the learner's preset (15 leaves of at least 50 users; `s_fine`:
    3x the trees, 7 leaves of at least 200). With `treatment_col`, the arm is read from that column of X, so a
    search over the parameters needs nothing but `fit(X, y)` (`score` is the mean Qini over the treatments)."""

    def __init__(
        self,
        learner: LearnerName = "t",
        control_name: str = "control",
        arm_weights: dict[str, float] | None = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        random_state: int = 0,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        reg_lambda: float = 0.0,
        treatment_col: str | None = None,
        pairs: bool = False,
    ):
        self.learner = learner
        self.control_name = control_name
        self.arm_weights = arm_weights
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.treatment_col = treatment_col
        self.pairs = pairs

    def _propensities(self, treatment: np.ndarray) -> dict[str, float]:
        """P(treatment t | t or control) per treatment: from the known arm weights, else the arms' observed shares."""
        if self.arm_weights is not None:
            missing = [a for a in [self.control_name, *self.treatments_] if a not in self.arm_weights]
            if missing:
                raise UpliftError(f"arm_weights lacks arm(s) {', '.join(missing)}; give a weight for every arm")
            weights = self.arm_weights
        else:
            arms, counts = np.unique(treatment, return_counts=True)
            weights = dict(zip(arms.tolist(), counts.tolist()))
        control = weights[self.control_name]
        return {t: weights[t] / (weights[t] + control) for t in self.treatments_}

    def _make(self, binary: bool):
        """The causalml estimator for this learner name."""
        from causalml.inference.meta import (
            BaseDRLearner,
            BaseSClassifier,
            BaseSRegressor,
            BaseTClassifier,
            BaseTRegressor,
            BaseXClassifier,
            BaseXRegressor,
        )
        from causalml.inference.tree import UpliftRandomForestClassifier

        n, rate, seed = self.n_estimators, self.learning_rate, self.random_state
        if self.learner == "logit":
            if not binary:
                raise UpliftError("the logit learner needs a 0/1 outcome; use learner s, t, x or dr for continuous outcomes")
            # reg_lambda is the L2 strength of the baseline's terms (1/C); the effects' copies are penalised 4x as much.
            return InteractionLogit(self.control_name, pairs=self.pairs, C=1.0 / (self.reg_lambda or LOGIT_LAMBDA))
        if self.learner == "pseudo_forest":
            return PseudoOutcomeForest(self.propensity_, self.control_name, n, self.min_child_samples,
                                       list(range(self.n_categorical_)), seed)
        if self.learner == "pseudo_rules":
            return PseudoOutcomeRules(self.propensity_, self.control_name, categorical=list(range(self.n_categorical_)),
                                      seed=seed)
        if self.learner == "pooled_t":
            if not binary:
                raise UpliftError("the pooled_t learner needs a 0/1 outcome; use learner s, t, x or dr for continuous outcomes")
            return PooledTLearner(self.control_name, n, rate, self.num_leaves or 4, self.min_child_samples or 200,
                                  self.reg_lambda or 10.0, seed)
        fine = self.learner == "s_fine"
        leaves = self.num_leaves or (FINE_LEAVES if fine else 15)
        min_leaf = self.min_child_samples or (FINE_MIN_LEAF if fine else 50)
        outcome = lgbm_model("classifier" if binary else "regressor", n * (FINE_TREES_FACTOR if fine else 1), rate,
                             seed, leaves, min_leaf, self.reg_lambda)
        effect = lgbm_model("regressor", n, rate, seed, leaves, min_leaf, self.reg_lambda)
        if self.learner in ("s", "s_fine"):
            return (BaseSClassifier if binary else BaseSRegressor)(outcome, control_name=self.control_name)
        if self.learner == "t":
            return (BaseTClassifier if binary else BaseTRegressor)(outcome, control_name=self.control_name)
        if self.learner == "x":
            cls = BaseXClassifier if binary else BaseXRegressor
            if binary:
                return cls(outcome_learner=outcome, effect_learner=effect, control_name=self.control_name)
            return cls(outcome, control_name=self.control_name)
        if self.learner == "dr":
            return BaseDRLearner(effect, control_name=self.control_name)
        if not binary:
            raise UpliftError("the uplift forest needs a 0/1 outcome; use learner s, t, x or dr for continuous outcomes")
        return UpliftRandomForestClassifier(
            control_name=self.control_name, n_estimators=max(10, n // 4), max_depth=6,
            min_samples_leaf=self.min_child_samples or 200,
            evaluationFunction="KL", random_state=seed, n_jobs=1,
        )

    def _split(self, X: pd.DataFrame, treatment: ArrayLike | None) -> tuple[pd.DataFrame, np.ndarray]:
        """The features and the arms: given, or the `treatment_col` column of X (then left out of the features)."""
        if not isinstance(X, pd.DataFrame):
            raise UpliftError("features must be a pandas DataFrame (with column names)")
        if treatment is None:
            if self.treatment_col is None or self.treatment_col not in X.columns:
                raise UpliftError(f"no treatment: pass treatment=<arm per user>, or set treatment_col to a column of X "
                                  f"(treatment_col is {self.treatment_col!r})")
            return X.drop(columns=self.treatment_col), X[self.treatment_col].to_numpy().astype(str)
        if self.treatment_col is not None and self.treatment_col in X.columns:
            X = X.drop(columns=self.treatment_col)
        return X, np.asarray(treatment).astype(str)

    def fit(self, X: pd.DataFrame, y: ArrayLike, treatment: ArrayLike | None = None) -> UpliftModel:
        """Fit on a randomized experiment's users: features X, outcome y, arm names (or `treatment_col` of X)."""
        if self.learner not in LEARNERS:
            raise UpliftError(f"unknown learner '{self.learner}'; choose one of {', '.join(LEARNERS)}")
        X, treatment_np = self._split(X, treatment)
        if X.shape[1] == 0:
            raise UpliftError("features must be a DataFrame with at least one column")
        y_np = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(float)
        if np.isnan(y_np).all() and len(y_np):
            raise UpliftError("the outcome y is not numeric; fit takes (X, y, treatment=arms), outcome before arms")
        if not (len(X) == len(treatment_np) == len(y_np)):
            raise UpliftError(f"features ({len(X)}), treatment ({len(treatment_np)}) and outcome ({len(y_np)}) differ in length")
        if np.isnan(y_np).any():
            raise UpliftError(f"the outcome has {int(np.isnan(y_np).sum())} missing value(s); drop or fill them first")
        if self.control_name not in treatment_np:
            found = ", ".join(sorted(set(treatment_np))[:5])
            raise UpliftError(f"control arm '{self.control_name}' not found in the treatment column (found: {found})")
        self.treatments_ = sorted(set(treatment_np) - {self.control_name})
        if not self.treatments_:
            raise UpliftError("the treatment column holds only the control arm; need at least one treatment")
        self.features_ = list(X.columns)
        self.binary_outcome_ = _binary(y_np)
        self.propensity_ = self._propensities(treatment_np)
        self.encoder_ = build_encoder(X, codes=self.learner in ("pseudo_forest", "pseudo_rules"))
        self.n_categorical_ = len(categorical_columns(X))
        matrix = self.encoder_.fit_transform(as_text(X)).astype(float)
        self.model_ = self._make(self.binary_outcome_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.learner == "forest":
                self.model_.fit(matrix, treatment_np, y_np.astype(int))
            elif self.learner == "x":
                p = {t: np.full(len(matrix), self.propensity_[t]) for t in self.treatments_}
                self.model_.fit(matrix, treatment_np, y_np, p=p)
            elif self.learner == "dr":
                # causalml's DR learner cross-fits with its own KFold: seed it, or refits differ run to run.
                p = {t: np.full(len(matrix), self.propensity_[t]) for t in self.treatments_}
                self.model_.fit(matrix, treatment_np, y_np, p=p, seed=self.random_state)
            else:
                self.model_.fit(matrix, treatment_np, y_np)
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predicted uplift (treatment minus control outcome) per user, one column per treatment."""
        if not hasattr(self, "model_"):
            raise UpliftError("this uplift model is not fitted yet; call fit first")
        if not isinstance(X, pd.DataFrame):
            raise UpliftError("features must be a pandas DataFrame (with column names)")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise UpliftError(f"data lacks the model's feature column(s) {', '.join(missing)}")
        matrix = self.encoder_.transform(as_text(X[self.features_])).astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.learner == "forest":
                out = self.model_.predict(matrix)
                order = [str(c) for c in self.model_.classes_[1:]]
                out = pd.DataFrame(np.asarray(out), columns=order)[self.treatments_].to_numpy()
            else:
                kwargs: dict[str, object] = {"verbose": False}
                if self.learner == "x":
                    kwargs["p"] = {t: np.full(len(matrix), self.propensity_[t]) for t in self.treatments_}
                out = self.model_.predict(matrix, **kwargs)
        return pd.DataFrame(np.asarray(out, dtype=float).reshape(len(X), -1), columns=self.treatments_, index=X.index)

    def score(self, X: pd.DataFrame, y: ArrayLike, treatment: ArrayLike | None = None) -> float:
        """Mean causalml Qini over the treatments of these users' predicted uplift (higher is better)."""
        from uplift.evaluation import evaluate_predictions

        X, arms = self._split(X, treatment)
        predicted = self.predict(X)
        return evaluate_predictions(self.learner, predicted, arms, np.asarray(y, dtype=float), self.control_name).mean_qini
