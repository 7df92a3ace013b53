"""The churn risk beside simple baselines on one time split: recency rule, RFM logistic regression, BG/NBD.

Every method learns only from history up to its as-of date: the risk model and the RFM logistic
regression are fitted as of `train_as_of` (labels from the next horizon) and applied as of
`score_as_of`; BG/NBD (lifetimes' BetaGeoFitter) is fitted on the orders up to `score_as_of`; the
recency rule needs no fitting. All are judged by ROC AUC on the horizon after `score_as_of`.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churn.features import compute_features, compute_labels, model_columns, parse_as_of
from churn.model import Calibration, ChurnModel
from warehouse.engine import Warehouse
from warehouse.feature_sql import orders_sql


@dataclass(frozen=True)
class MethodScore:
    """One method's ROC AUC on the scoring date's horizon."""

    method: str
    roc_auc: float
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def rfm_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Recency, log frequency, log monetary (never-buyers get recency = tenure)."""
    recency = features["recency_days"].fillna(features["tenure_days"])
    return pd.DataFrame({"recency": recency, "log_orders": np.log1p(features["orders"]),
                         "log_spend": np.log1p(features["spend"])}, index=features.index)


def bgnbd_scores(warehouse: Warehouse, as_of: pd.Timestamp, horizon_days: int, users: pd.Index) -> pd.DataFrame:
    """BG/NBD (lifetimes) fitted on orders up to as_of: P(alive) and expected orders in the horizon."""
    with warnings.catch_warnings():  # lifetimes sets a pandas option that pandas 3 deprecates
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter
        from lifetimes.utils import summary_data_from_transaction_data

    end = (as_of + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    orders = warehouse.query_frame(orders_sql(), {"end": end})
    orders["ts"] = pd.to_datetime(orders["ts"])
    summary = summary_data_from_transaction_data(orders, "user_id", "ts", observation_period_end=as_of, freq="D")
    fitter = BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        horizon_days, summary["frequency"], summary["recency"], summary["T"])
    alive = fitter.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    out = pd.DataFrame({"expected": expected, "p_alive": alive}, index=summary.index.astype("str"))
    return out.reindex(users)


def compare_scores(
    warehouse: Warehouse, train_as_of: str, score_as_of: str, horizon_days: int, *, seed: int = 0,
    calibration: Calibration = "sigmoid",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The scoring date's churn labels and every method's score (higher = riskier), on the same users."""
    t0, t1 = parse_as_of(train_as_of), parse_as_of(score_as_of)
    f_train = compute_features(warehouse, t0)
    y_train = compute_labels(warehouse, t0, horizon_days).reindex(f_train.index)
    f_score = compute_features(warehouse, t1)
    y_score = compute_labels(warehouse, t1, horizon_days).reindex(f_score.index).to_numpy()
    columns = model_columns(f_train)
    model = ChurnModel(calibration=calibration, random_state=seed).fit(f_train[columns], y_train)
    logit = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    logit.fit(rfm_matrix(f_train), y_train)
    bg = bgnbd_scores(warehouse, t1, horizon_days, f_score.index)
    return y_score, {
        RISK: model.predict_risk(f_score),
        "recency rule": rfm_matrix(f_score)["recency"].to_numpy(),
        "RFM logistic regression": logit.predict_proba(rfm_matrix(f_score))[:, 1],
        "BG/NBD expected orders": -bg["expected"].to_numpy(),
        "BG/NBD P(alive)": 1 - bg["p_alive"].to_numpy(),
    }


DETAILS = {
    "recency rule": "days since the last order",
    "RFM logistic regression": "recency, log orders, log spend; fitted on the training date",
    "BG/NBD expected orders": "lifetimes BetaGeoFitter on orders to the scoring date; fewer expected = riskier",
    "BG/NBD P(alive)": "lifetimes BetaGeoFitter, 1 - P(alive); one-time buyers count as alive by assumption",
}
RISK = "churn risk (LightGBM, calibrated)"


def compare_methods(
    warehouse: Warehouse, train_as_of: str, score_as_of: str, horizon_days: int, *, seed: int = 0,
    calibration: Calibration = "sigmoid",
) -> list[MethodScore]:
    """ROC AUC of the churn risk and of each baseline on the same split (see the module docstring)."""
    y, scores = compare_scores(warehouse, train_as_of, score_as_of, horizon_days, seed=seed, calibration=calibration)
    detail = {**DETAILS, RISK: f"logistic-base LightGBM on the SQL features, fitted on {train_as_of}"}
    return [MethodScore(name, float(roc_auc_score(y, s)), detail[name]) for name, s in scores.items()]


def paired_bootstrap_auc_gap(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, *, n_boot: int = 500, seed: int = 0
) -> tuple[float, float, float]:
    """AUC(a) - AUC(b) and its 95% percentile interval, resampling users (same resample for both)."""
    rng = np.random.default_rng(seed)
    gaps = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        gaps[i] = roc_auc_score(y[idx], a[idx]) - roc_auc_score(y[idx], b[idx])
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(roc_auc_score(y, a) - roc_auc_score(y, b)), float(low), float(high)
