"""Proof on randomized data: off-policy estimates of a targeting policy's value on held-out users.

Every held-out user was randomized with a known probability e(a) to arm a. The policy's incremental
value over all-control is estimated per user by inverse-propensity weighting (IPW) and by the doubly
robust estimator (outcome models fitted on the training split plus an IPW correction); both are
means of per-user terms, so their normal confidence intervals come from the terms' spread.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from uplift.errors import UpliftError
from uplift.learners import as_text, build_encoder
from uplift.lgbm_models import lgbm_model

Estimator = Literal["ipw", "dr", "difference_in_means"]


@dataclass(frozen=True)
class PolicyEstimate:
    """Estimated incremental outcome per user of a policy over treating nobody, with a normal CI."""

    policy: str
    estimator: Estimator
    value_per_user: float
    ci_low: float
    ci_high: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def interval(policy: str, estimator: Estimator, terms: np.ndarray, alpha: float) -> PolicyEstimate:
    """Mean of per-user terms and its normal CI."""
    n = len(terms)
    if n < 2:
        return PolicyEstimate(policy, estimator, math.nan, math.nan, math.nan, n)
    mean = float(terms.mean())
    half = float(stats.norm.ppf(1 - alpha / 2) * terms.std(ddof=1) / math.sqrt(n))
    return PolicyEstimate(policy, estimator, mean, mean - half, mean + half, n)


def _check(arm: np.ndarray, policy: np.ndarray, propensity: Mapping[str, float], control: str) -> None:
    if len(arm) != len(policy):
        raise UpliftError(f"arms ({len(arm)}) and policy ({len(policy)}) differ in length")
    unknown = sorted(set(arm) - set(propensity))
    if unknown:
        raise UpliftError(f"no assignment probability for arm(s) {', '.join(unknown)}")
    bad = sorted(set(policy) - set(propensity))
    if bad:
        raise UpliftError(f"the policy names treatment(s) {', '.join(bad)} that no held-out user was randomized to")
    if control not in propensity:
        raise UpliftError(f"no assignment probability for the control arm '{control}'")


def policy_terms(
    arm: np.ndarray | pd.Series,
    outcome: np.ndarray | pd.Series,
    policy: np.ndarray | pd.Series,
    propensity: Mapping[str, float],
    *,
    control: str,
    outcome_predictions: pd.DataFrame | None = None,
) -> np.ndarray:
    """Per-user terms whose mean estimates the policy's gain over control: IPW, or doubly robust given outcome models."""
    arm_np, policy_np = np.asarray(arm).astype(str), np.asarray(policy).astype(str)
    y = np.asarray(outcome, dtype=float)
    _check(arm_np, policy_np, propensity, control)
    e = pd.Series(propensity, dtype=float)
    e = e / e.sum()  # arm weights may be relative (1:1:1); inverse-propensity weights need probabilities
    follows, in_control = arm_np == policy_np, arm_np == control
    w_policy = np.where(follows, 1.0 / e.reindex(policy_np).to_numpy(), 0.0)
    w_control = np.where(in_control, 1.0 / e[control], 0.0)
    if outcome_predictions is None:
        return w_policy * y - w_control * y
    missing = [a for a in set(policy_np) | {control} | set(arm_np) if a not in outcome_predictions.columns]
    if missing:
        raise UpliftError(f"outcome predictions lack arm column(s) {', '.join(sorted(missing))}")
    mu = outcome_predictions.to_numpy(float)
    idx = np.arange(len(y))
    mu_policy = mu[idx, outcome_predictions.columns.get_indexer(pd.Index(policy_np))]
    mu_arm = mu[idx, outcome_predictions.columns.get_indexer(pd.Index(arm_np))]
    mu_control = mu[:, outcome_predictions.columns.get_loc(control)]
    return (mu_policy + w_policy * (y - mu_arm)) - (mu_control + w_control * (y - mu_arm))


def off_policy_value(
    arm: np.ndarray | pd.Series,
    outcome: np.ndarray | pd.Series,
    policy: np.ndarray | pd.Series,
    propensity: Mapping[str, float],
    *,
    control: str,
    outcome_predictions: pd.DataFrame | None = None,
    name: str = "targeted",
    alpha: float = 0.05,
) -> list[PolicyEstimate]:
    """IPW (and, given per-arm outcome predictions, doubly robust) estimates of the policy's gain over control."""
    out = [interval(name, "ipw", policy_terms(arm, outcome, policy, propensity, control=control), alpha)]
    if outcome_predictions is not None:
        terms = policy_terms(arm, outcome, policy, propensity, control=control, outcome_predictions=outcome_predictions)
        out.append(interval(name, "dr", terms, alpha))
    return out


def blanket_values(
    arm: np.ndarray | pd.Series, outcome: np.ndarray | pd.Series, *, control: str, alpha: float = 0.05
) -> list[PolicyEstimate]:
    """Measured gain per user of treating everybody with one treatment: arm mean minus control mean (Welch CI)."""
    arm_np, y = np.asarray(arm).astype(str), np.asarray(outcome, dtype=float)
    base = y[arm_np == control]
    out = []
    for key in sorted(set(arm_np) - {control}):
        mine = y[arm_np == key]
        diff = float(mine.mean() - base.mean()) if len(mine) and len(base) else math.nan
        se = math.sqrt(mine.var(ddof=1) / len(mine) + base.var(ddof=1) / len(base)) if len(mine) > 1 and len(base) > 1 else math.nan
        half = float(stats.norm.ppf(1 - alpha / 2) * se)
        out.append(PolicyEstimate(f"blanket {key}", "difference_in_means", diff, diff - half, diff + half, len(mine) + len(base)))
    return out


def arm_outcome_predictions(
    train_X: pd.DataFrame, train_arm: pd.Series, train_y: pd.Series, test_X: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """Per-arm outcome models (LightGBM on the training split) predicting each held-out user's outcome in every arm."""
    arm_np, y = np.asarray(train_arm).astype(str), np.asarray(train_y, dtype=float)
    binary = bool(np.isin(np.unique(y), [0, 1]).all())
    encoder = build_encoder(train_X)
    matrix = encoder.fit_transform(as_text(train_X)).astype(float)
    test = encoder.transform(as_text(test_X[list(train_X.columns)])).astype(float)
    columns = {}
    for key in sorted(set(arm_np)):
        mine = arm_np == key
        model = lgbm_model("classifier" if binary else "regressor", 150, 0.05, seed).fit(matrix[mine], y[mine])
        columns[key] = np.asarray(model.predict_proba(test))[:, 1] if binary else np.asarray(model.predict(test))
    return pd.DataFrame(columns, index=test_X.index)
