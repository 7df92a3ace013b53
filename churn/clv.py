"""Customer value per user: BG/NBD for how many purchases, Gamma-Gamma for how much each, from `lifetimes`.

The transaction log is summarised per customer as Fader, Hardie and Lee (2005) do: purchases on the same
day count as one (their amounts add up), `frequency` is the number of repeat purchase days, `recency` the
weeks from the first to the last purchase and `T` the weeks from the first purchase to the end of the
observation (the as-of date, inclusive). The predicted value over a horizon is lifetimes'
`customer_lifetime_value` (expected purchases per month × expected order value, discounted monthly)
times the margin share. A user who never ordered has no purchase history for the models and gets 0.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from churn.errors import ChurnError

DAYS_PER_WEEK = 7.0
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")


@dataclass(frozen=True)
class ClvSettings:
    """How customer value is predicted: horizon, margin share of spend, monthly discount rate, L2 penalty."""

    horizon_months: int = 12
    margin: float = 1.0  # share of spend that is margin (1.0: the value is spend)
    discount_rate: float = 0.01  # per month, as in lifetimes' customer_lifetime_value
    penalizer: float = 0.0  # lifetimes' penalizer_coef for both fits (0: plain maximum likelihood)

    def __post_init__(self) -> None:
        if int(self.horizon_months) < 1:
            raise ChurnError(f"--clv-months must be at least 1, got {self.horizon_months}")
        if not 0 < self.margin <= 1:
            raise ChurnError(f"--margin must be in (0, 1], got {self.margin}")
        if not 0 <= self.discount_rate < 1:
            raise ChurnError(f"the monthly discount rate must be in [0, 1), got {self.discount_rate}")
        if self.penalizer < 0:
            raise ChurnError(f"the penalizer must be at least 0, got {self.penalizer}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ClvParameters:
    """Fitted parameters: BG/NBD (r, alpha, a, b; time in weeks) and Gamma-Gamma (p, q, gamma)."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float
    n_customers: int
    n_repeat_customers: int
    observation_end: str

    def to_dict(self) -> dict:
        return asdict(self)


def _lifetimes():
    """lifetimes' fitters and summary helper (imported here: it sets a pandas option pandas 3 deprecates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data
    return BetaGeoFitter, GammaGammaFitter, summary_data_from_transaction_data


def rfm_summary(orders: pd.DataFrame, observation_end: str | pd.Timestamp) -> pd.DataFrame:
    """frequency, recency, T (weeks) and mean repeat order value per customer, from orders up to the end date.

    `orders` has columns user_id, ts, amount; orders after the end date are ignored.
    """
    missing = [c for c in ("user_id", "ts", "amount") if c not in orders.columns]
    if missing:
        raise ChurnError(f"orders lack column(s): {', '.join(missing)}")
    end = pd.Timestamp(observation_end).normalize()
    frame = orders.assign(ts=pd.to_datetime(orders["ts"]).dt.normalize(), amount=pd.to_numeric(orders["amount"]))
    frame = frame[frame["ts"] <= end]
    if frame.empty:
        raise ChurnError(f"no orders on or before {end.date()}: customer value needs a purchase history")
    _, _, summarise = _lifetimes()
    summary = summarise(frame, "user_id", "ts", monetary_value_col="amount", observation_period_end=end, freq="D")
    summary[["recency", "T"]] = summary[["recency", "T"]] / DAYS_PER_WEEK
    summary.index = summary.index.astype("str")
    return summary[list(SUMMARY_COLUMNS)]


class ClvModel:
    """BG/NBD + Gamma-Gamma on a customer summary; `fit` returns self, fitted attributes end in `_`."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame, observation_end: str = "") -> ClvModel:
        """Fit BG/NBD on every customer and Gamma-Gamma on those with repeat purchases of positive value."""
        fitters = _lifetimes()
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        if len(summary) < 20 or len(repeat) < 10:
            raise ChurnError(f"customer value needs at least 20 customers and 10 with repeat purchases; "
                             f"the history has {len(summary)} and {len(repeat)}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.bgnbd_ = fitters[0](penalizer_coef=self.penalizer).fit(
                    summary["frequency"], summary["recency"], summary["T"])
                self.gamma_gamma_ = fitters[1](penalizer_coef=self.penalizer).fit(
                    repeat["frequency"], repeat["monetary_value"])
        except Exception as error:  # lifetimes raises ConvergenceError or ValueError from scipy
            raise ChurnError(f"BG/NBD or Gamma-Gamma did not converge on {len(summary)} customers ({error}); "
                             "try a penalizer, or tiers by spend instead of customer value") from error
        g = self.gamma_gamma_.params_
        if not g["q"] > 1:
            raise ChurnError(f"Gamma-Gamma fitted q = {g['q']:.3f} <= 1: the mean order value is infinite; "
                             "use tiers by spend instead of customer value")
        b = self.bgnbd_.params_
        self.parameters_ = ClvParameters(
            r=float(b["r"]), alpha=float(b["alpha"]), a=float(b["a"]), b=float(b["b"]), p=float(g["p"]),
            q=float(g["q"]), gamma=float(g["v"]), n_customers=len(summary), n_repeat_customers=len(repeat),
            observation_end=str(observation_end))
        return self

    def expected_purchases(self, summary: pd.DataFrame, weeks: float) -> pd.Series:
        """Expected repeat purchases (purchase days) in the next `weeks`, given each customer's history."""
        return self.bgnbd_.conditional_expected_number_of_purchases_up_to_time(
            weeks, summary["frequency"], summary["recency"], summary["T"])

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active (BG/NBD)."""
        return self.bgnbd_.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])

    def expected_order_value(self, summary: pd.DataFrame) -> pd.Series:
        """Expected value of a future purchase (Gamma-Gamma; the population mean for one-time buyers)."""
        return self.gamma_gamma_.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])

    def value(self, summary: pd.DataFrame, settings: ClvSettings) -> pd.Series:
        """Predicted margin over the horizon: discounted expected purchases × expected order value × margin."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clv = self.gamma_gamma_.customer_lifetime_value(
                self.bgnbd_, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
                time=int(settings.horizon_months), discount_rate=settings.discount_rate, freq="W")
        return clv * settings.margin


@dataclass(frozen=True)
class CustomerValue:
    """Per-user value columns (index user_id) and the parameters they came from."""

    users: pd.DataFrame  # clv, expected_purchases (over the horizon), expected_order_value, p_alive
    parameters: ClvParameters
    settings: ClvSettings

    def to_dict(self) -> dict:
        return {"parameters": self.parameters.to_dict(), "settings": self.settings.to_dict(),
                "n_users": len(self.users), "total_clv": float(self.users["clv"].sum())}


def customer_value(orders: pd.DataFrame, as_of: str | pd.Timestamp, users: pd.Index,
                   settings: ClvSettings | None = None) -> CustomerValue:
    """Fit on the orders up to `as_of` and predict every user's value; users who never ordered get 0."""
    settings = settings or ClvSettings()
    summary = rfm_summary(orders, as_of)
    model = ClvModel(penalizer=settings.penalizer).fit(summary, str(pd.Timestamp(as_of).date()))
    weeks = settings.horizon_months * 52.0 / 12.0
    frame = pd.DataFrame({
        "clv": model.value(summary, settings),
        "expected_purchases": model.expected_purchases(summary, weeks),
        "expected_order_value": model.expected_order_value(summary),
        "p_alive": model.p_alive(summary),
    }, index=summary.index)
    frame = frame.reindex(pd.Index(users, dtype="str"))
    frame[["clv", "expected_purchases", "p_alive"]] = frame[["clv", "expected_purchases", "p_alive"]].fillna(0.0)
    if not np.isfinite(frame["clv"]).all():
        raise ChurnError("customer value came out infinite or undefined for some users; try a penalizer")
    return CustomerValue(users=frame, parameters=model.parameters_, settings=settings)
