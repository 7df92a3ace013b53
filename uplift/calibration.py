"""Calibrated uplift: per-decile observed uplift of held-out randomized users, made monotone, with a noise gate.

Out-of-fold predictions (cross-fitting) are cut into deciles per treatment; in each decile the
observed uplift is the mean of the users' doubly robust (AIPW) scores for that treatment against
control, built from cross-fitted outcome models and the known propensities (`dr_scores`): every
randomized user counts, and what the features already explain of the outcome is taken out of the
noise, so a decile's estimate is far tighter than a difference of arm means, and the shared control
arm's luck does not shift every treatment at once. A weighted least-squares line through the ten (predicted, observed) points (statsmodels WLS,
weights 1/SE², slope at least 0) maps a prediction to the uplift users with that prediction showed:
it corrects both the level and the over-confidence of noisy learners, with two parameters per
treatment, so its own noise stays small. Noise gate: positive calibrated uplift is kept only down to
the lowest decile whose pooled observed uplift from the top is significantly positive (one-sided
5 %); below it the calibrated uplift is capped at 0, so no treatment is bought where the held-out
data show no positive effect. Each user's calibrated uplift has a standard error from the line's
covariance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from uplift.errors import UpliftError

GATE_Z = float(stats.norm.ppf(0.95))


def dr_scores(arm: np.ndarray, y: np.ndarray, mu: pd.DataFrame, propensity: dict[str, float], control: str,
              treatments: list[str]) -> pd.DataFrame:
    """Per user and treatment, the AIPW score whose mean over any set of users estimates their mean uplift."""
    e = pd.Series(propensity, dtype=float)
    e = e / e.sum()
    arm = np.asarray(arm).astype(str)
    resid_c = np.where(arm == control, (y - mu[control].to_numpy(float)) / e[control], 0.0)
    out = {}
    for t in treatments:
        resid_t = np.where(arm == t, (y - mu[t].to_numpy(float)) / e[t], 0.0)
        out[t] = mu[t].to_numpy(float) - mu[control].to_numpy(float) + resid_t - resid_c
    return pd.DataFrame(out, index=mu.index)


def _mean(scores: np.ndarray) -> tuple[float, float, int]:
    """Mean of DR scores and its standard error."""
    if len(scores) < 2:
        return math.nan, math.nan, len(scores)
    return float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(len(scores))), len(scores)


@dataclass(frozen=True)
class UpliftCalibration:
    """Per treatment × decile: mean predicted and observed uplift; per treatment the line, its covariance and the gate."""

    table: pd.DataFrame = field(repr=False)
    lines: dict = field(default_factory=dict)  # treatment -> (intercept, slope, cov 2x2 as nested lists, gate threshold)

    def apply(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Calibrated uplift and its standard error per user (one column per treatment each)."""
        values, errors = {}, {}
        for treatment, (a, b, cov, gate) in self.lines.items():
            if treatment not in raw.columns:
                raise UpliftError(f"predictions lack treatment column '{treatment}' that the calibration knows")
            x = raw[treatment].to_numpy(float)
            value = a + b * x
            values[treatment] = np.where(x < gate, np.minimum(value, 0.0), value)
            c = np.asarray(cov)
            errors[treatment] = np.sqrt(np.maximum(c[0, 0] + 2 * c[0, 1] * x + c[1, 1] * x * x, 0.0))
        columns = [c for c in raw.columns if c in values]
        return (pd.DataFrame(values, index=raw.index)[columns], pd.DataFrame(errors, index=raw.index)[columns])

    def to_records(self) -> list[dict]:
        return self.table.to_dict(orient="records")

    def for_average(self, single: pd.DataFrame, averaged: pd.DataFrame) -> UpliftCalibration:
        """The same calibration for an average of K fold models, whose predictions spread less than one model's.

        A line fitted on one model's out-of-fold predictions shrinks them by the share of their variance
        that is noise; averaging removes part of that noise, so the line's slope is scaled by
        Var(single)/Var(averaged) and its intercept moved to keep the mean, a correction for errors in
        the predictor (`single`: out-of-fold predictions; `averaged`: the K-model mean on the same users).
        """
        lines = {}
        for treatment, (a, b, cov, gate) in self.lines.items():
            v_single, v_avg = float(single[treatment].var()), float(averaged[treatment].var())
            ratio = v_single / v_avg if v_avg > 0 and b > 0 else 1.0
            m_single, m_avg = float(single[treatment].mean()), float(averaged[treatment].mean())
            b2 = b * ratio
            a2 = a + b * m_single - b2 * m_avg
            # (a2, b2) = J @ (a, b): the covariance follows the same linear map.
            jac = np.array([[1.0, m_single - ratio * m_avg], [0.0, ratio]])
            cov2 = jac @ np.asarray(cov) @ jac.T
            gate2 = (a + b * gate - a2) / b2 if b2 > 0 and np.isfinite(gate) else gate
            lines[treatment] = (a2, b2, cov2.tolist(), float(gate2))
        return UpliftCalibration(self.table, lines)


def _calibrate_one(treatment: str, predicted: np.ndarray, scores: np.ndarray, bins: int) -> tuple[pd.DataFrame, tuple]:
    """The decile rows and the calibration line of one treatment."""
    import statsmodels.api as sm

    order = np.argsort(-predicted, kind="stable")
    decile = np.empty(len(predicted), dtype=int)
    decile[order] = np.minimum(np.arange(len(predicted)) * bins // max(len(predicted), 1), bins - 1) + 1
    rows = []
    for d in range(1, bins + 1):
        mine = decile == d
        observed, se, n = _mean(scores[mine])
        rows.append({"treatment": treatment, "decile": d, "predicted": float(predicted[mine].mean()),
                     "lowest_predicted": float(predicted[mine].min()) if mine.any() else math.nan,
                     "observed": observed, "se": se, "n": n})
    frame = pd.DataFrame(rows)
    ok = (frame["observed"].notna() & (frame["se"] > 0)).to_numpy()
    if ok.sum() < 3:
        raise UpliftError(f"treatment '{treatment}': fewer than 3 deciles have enough users to calibrate on")
    design = sm.add_constant(frame.loc[ok, "predicted"].to_numpy(), has_constant="add")
    fitted = sm.WLS(frame.loc[ok, "observed"].to_numpy(), design, weights=1.0 / frame.loc[ok, "se"].to_numpy() ** 2).fit()
    a, b = (float(v) for v in fitted.params)
    # Decile means are independent with known SEs: the covariance is (X'WX)^-1, not rescaled by the residuals.
    cov = np.linalg.inv(design.T @ (design / frame.loc[ok, "se"].to_numpy()[:, None] ** 2))
    if b < 0:  # predictions that rank backwards carry no information: a flat line at the pooled mean
        pooled, se, _ = _mean(scores)
        a, b, cov = pooled, 0.0, np.array([[se * se, 0.0], [0.0, 0.0]])
    passed = 0
    for k in range(1, bins + 1):
        estimate, se, _ = _mean(scores[decile <= k])
        if se > 0 and estimate / se >= GATE_Z:
            passed = k
    gate = float(frame.loc[frame["decile"] == passed, "lowest_predicted"].iloc[0]) if passed else math.inf
    frame["calibrated"] = a + b * frame["predicted"]
    frame["gated"] = frame["decile"] > passed
    return frame, (a, b, cov.tolist(), gate)


def fit_calibration(raw: pd.DataFrame, scores: pd.DataFrame, *, bins: int = 10) -> UpliftCalibration:
    """Fit the per-decile calibration of out-of-fold predictions against the users' DR scores (same columns)."""
    if len(scores) != len(raw):
        raise UpliftError(f"predictions ({len(raw)}) and DR scores ({len(scores)}) differ in length")
    if len(raw) < 2 * bins:
        raise UpliftError(f"{len(raw)} users are too few to calibrate on {bins} deciles")
    parts, lines = [], {}
    for treatment in raw.columns:
        if treatment not in scores.columns:
            raise UpliftError(f"no DR scores for treatment '{treatment}'")
        frame, line = _calibrate_one(str(treatment), raw[treatment].to_numpy(float), scores[treatment].to_numpy(float),
                                     bins)
        parts.append(frame)
        lines[str(treatment)] = line
    return UpliftCalibration(pd.concat(parts, ignore_index=True), lines)


def plan_interval(calibrated: np.ndarray, se: np.ndarray, treatment: np.ndarray, *, alpha: float = 0.05
                  ) -> tuple[float, float, float]:
    """Predicted incremental total of a plan and its interval.

    A treatment's calibration errors are shared by all its users, so their SEs add up within a treatment
    (an upper bound on the line's error of the sum); treatments are calibrated on disjoint arms, so their
    errors add in quadrature.
    """
    if len(calibrated) == 0:
        return 0.0, 0.0, 0.0
    total = float(np.sum(calibrated))
    per_treatment = pd.Series(se).groupby(np.asarray(treatment)).sum()
    half = float(stats.norm.ppf(1 - alpha / 2) * math.sqrt(float((per_treatment**2).sum())))
    return total, total - half, total + half
