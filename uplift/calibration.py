"""Calibrated uplift: per-decile observed uplift of held-out randomized users, made monotone, with a noise gate.

Out-of-fold predictions (cross-fitting) are cut into deciles per treatment; in each decile the
observed uplift is the mean of the users' doubly robust (AIPW) scores for that treatment against
control, built from cross-fitted outcome models and the known propensities (`dr_scores`): every
randomized user counts, what the features already explain of the outcome is taken out of the noise,
and the shared control arm's luck does not shift every treatment at once. An isotonic regression
(scikit-learn, weights 1/SE²) makes observed uplift rise with predicted uplift, pooling deciles that
disagree; `method="linear"` fits a weighted line through the deciles instead (statsmodels WLS). A
user's calibrated uplift interpolates between decile centres, with the standard error of its block.
Noise gate: a decile whose isotonic block is not significantly positive (one-sided 5 %) gets at most
0, so no treatment is bought where the held-out data show no positive effect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

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


Method = Literal["isotonic", "linear"]


@dataclass(frozen=True)
class UpliftCalibration:
    """Per treatment × decile: predicted and observed uplift, the calibrated value and its SE; a map for averaged models."""

    table: pd.DataFrame = field(repr=False)
    scale_maps: dict = field(default_factory=dict)  # treatment -> (averaged-model quantiles, single-model quantiles)
    shrink: float = 1.0  # what held-out users support of the calibrated uplift (uplift.targeting: <= 1)

    def apply(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Calibrated uplift and its standard error per user (one column per treatment each)."""
        values, errors = {}, {}
        for treatment, part in self.table.groupby("treatment", sort=False):
            if treatment not in raw.columns:
                raise UpliftError(f"predictions lack treatment column '{treatment}' that the calibration knows")
            x = raw[treatment].to_numpy(float)
            if treatment in self.scale_maps:
                source, target = self.scale_maps[treatment]
                x = np.interp(x, source, target)
            part = part.sort_values("predicted")
            values[treatment] = self.shrink * np.interp(x, part["predicted"], part["calibrated"])
            errors[treatment] = self.shrink * np.interp(x, part["predicted"], part["calibrated_se"])
        columns = [c for c in raw.columns if c in values]
        return (pd.DataFrame(values, index=raw.index)[columns], pd.DataFrame(errors, index=raw.index)[columns])

    def to_records(self) -> list[dict]:
        return self.table.to_dict(orient="records")

    def for_average(self, single: pd.DataFrame, averaged: pd.DataFrame, points: int = 201) -> UpliftCalibration:
        """The same calibration for the mean of K fold models, whose predictions spread less than one model's.

        The deciles were cut on one model's out-of-fold predictions; an averaged prediction is first
        moved to the same scale by its rank (quantile mapping on the training users), so a user in the
        averaged model's top decile gets what the top out-of-fold decile showed.
        """
        q = np.linspace(0, 1, points)
        maps = {t: (np.quantile(averaged[t], q), np.quantile(single[t], q)) for t in self.table["treatment"].unique()}
        return UpliftCalibration(self.table, maps, self.shrink)

    def shrunk(self, factor: float) -> UpliftCalibration:
        """The same calibration with every calibrated uplift and its SE times `factor`."""
        return UpliftCalibration(self.table, self.scale_maps, self.shrink * factor)


def _blocks(observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Isotonic (increasing in predicted, i.e. decreasing in decile) fit of decile observations."""
    from sklearn.isotonic import IsotonicRegression

    rank = np.arange(len(observed))[::-1].astype(float)  # decile 1 (highest predicted) has the highest rank
    return IsotonicRegression(increasing=True).fit(rank, observed, sample_weight=weights).predict(rank)


def _calibrate_one(treatment: str, predicted: np.ndarray, scores: np.ndarray, bins: int, method: Method,
                   gate: bool = True) -> pd.DataFrame:
    """The decile rows of one treatment with calibrated values, their SEs and the noise gate."""
    import statsmodels.api as sm

    order = np.argsort(-predicted, kind="stable")
    decile = np.empty(len(predicted), dtype=int)
    decile[order] = np.minimum(np.arange(len(predicted)) * bins // max(len(predicted), 1), bins - 1) + 1
    rows = []
    for d in range(1, bins + 1):
        mine = decile == d
        observed, se, n = _mean(scores[mine])
        rows.append({"treatment": treatment, "decile": d, "predicted": float(predicted[mine].mean()),
                     "observed": observed, "se": se, "n": n})
    frame = pd.DataFrame(rows)
    if not ((frame["observed"].notna()) & (frame["se"] > 0)).all():
        raise UpliftError(f"treatment '{treatment}': a decile has too few users to calibrate on")
    errors = frame["se"].to_numpy(float)
    frame["isotonic"] = _blocks(frame["observed"].to_numpy(), 1.0 / errors**2)
    frame["block"] = (frame["isotonic"].round(12) != frame["isotonic"].round(12).shift()).cumsum()
    block_stats = {b: _mean(scores[np.isin(decile, part["decile"])]) for b, part in frame.groupby("block")}
    frame["block_z"] = frame["block"].map(lambda b: block_stats[b][0] / block_stats[b][1])
    if method == "isotonic":
        frame["calibrated"] = frame["isotonic"]
        frame["calibrated_se"] = frame["block"].map(lambda b: block_stats[b][1])
    else:
        design = sm.add_constant(frame["predicted"].to_numpy(), has_constant="add")
        fitted = sm.WLS(frame["observed"].to_numpy(), design, weights=1.0 / errors**2).fit()
        # Decile means are independent with known SEs: the covariance is (X'WX)^-1, not rescaled by residuals.
        cov = np.linalg.inv(design.T @ (design / errors[:, None] ** 2))
        frame["calibrated"] = design @ fitted.params
        frame["calibrated_se"] = np.sqrt(np.einsum("ij,jk,ik->i", design, cov, design))
    # Noise gate: positive uplift only where the decile's isotonic block is significantly positive.
    frame["gated"] = (frame["block_z"] < GATE_Z) & (frame["calibrated"] > 0) & gate
    frame["calibrated"] = np.where(frame["gated"], 0.0, frame["calibrated"])
    return frame.drop(columns="block")


def fit_calibration(raw: pd.DataFrame, scores: pd.DataFrame, *, bins: int = 10,
                    method: Method = "isotonic", gate: bool = True) -> UpliftCalibration:
    """Fit the per-decile calibration of out-of-fold predictions against the users' DR scores (same columns).

    `gate=False` leaves out the noise gate: a small effect on a cheap treatment (2 points for 10 cents) is never
    significant in one decile of a small arm, and the gate would never buy it; whether to gate is then a choice the
    plan's doubly robust value makes (`uplift.targeting`)."""
    if len(scores) != len(raw):
        raise UpliftError(f"predictions ({len(raw)}) and DR scores ({len(scores)}) differ in length")
    if len(raw) < 2 * bins:
        raise UpliftError(f"{len(raw)} users are too few to calibrate on {bins} deciles")
    parts = []
    for treatment in raw.columns:
        if treatment not in scores.columns:
            raise UpliftError(f"no DR scores for treatment '{treatment}'")
        parts.append(_calibrate_one(str(treatment), raw[treatment].to_numpy(float), scores[treatment].to_numpy(float),
                                    bins, method, gate))
    return UpliftCalibration(pd.concat(parts, ignore_index=True))


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
