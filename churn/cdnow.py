"""CDNOW transactions (Fader & Hardie) as Winback events: each purchase is an `order` of its dollar value."""
from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from churn.clv import ClvModel, ClvParameters, rfm_summary
from churn.ingest import validate_events
from warehouse.errors import DataError

CDNOW_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")


def read_cdnow(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read cdnow_master.txt (whitespace-separated, header first, ids with leading zeros) as order events."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), None, None, "file not found")
    raw = pd.read_csv(path, sep=r"\s+", dtype=str)
    missing = [c for c in CDNOW_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(str(path), None, missing[0], f"not a CDNOW file: expected columns {', '.join(CDNOW_COLUMNS)}")
    dates = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    events = pd.DataFrame({
        "user_id": raw["customer_id"],
        "event_type": "order",
        "ts": dates.dt.strftime("%Y-%m-%d").where(dates.notna(), raw["date"]),
        "amount": raw["dollar_value"],
        "item": None,
        "category": "music",
        "channel": "web",
    })
    return validate_events(events, str(path))


CALIBRATION_END = "1997-09-30"  # Fader, Hardie and Lee (2005): weeks 1-39 calibrate, weeks 40-78 hold out
HOLDOUT_END = "1998-06-30"
HOLDOUT_WEEKS = 39


def cdnow_sample_path() -> Path:
    """The 2,357-customer CDNOW sample that the `lifetimes` package ships (CDNOW_sample.txt)."""
    with warnings.catch_warnings():  # lifetimes sets a pandas option that pandas 3 deprecates
        warnings.simplefilter("ignore")
        import lifetimes
    return Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"


def read_cdnow_sample(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The sample (no header: master id, sample id, date, CDs, dollars) as order events keyed by master id."""
    path = Path(path) if path is not None else cdnow_sample_path()
    if not path.exists():
        raise DataError(str(path), None, None, "file not found")
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str,
                      names=["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"])
    dates = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    events = pd.DataFrame({"user_id": raw["customer_id"], "event_type": "order",
                           "ts": dates.dt.strftime("%Y-%m-%d").where(dates.notna(), raw["date"]),
                           "amount": raw["dollar_value"], "item": None, "category": "music", "channel": "web"})
    return validate_events(events, str(path))


@dataclass(frozen=True)
class CdnowHoldout:
    """BG/NBD + Gamma-Gamma fitted on weeks 1-39 of CDNOW, and weeks 40-78's repeat purchases against the forecast."""

    parameters: ClvParameters
    calibration_purchases: int  # repeat purchase days in weeks 1-39
    holdout_actual: int  # purchase days in weeks 40-78
    holdout_predicted: float  # sum over customers of E[purchases in 39 weeks | history] (conditional)
    holdout_predicted_unconditional: float  # sum of E[X(T + 39)] - E[X(T)] (the tracking-plot forecast)

    @property
    def holdout_error(self) -> float:
        """Relative error of the conditional forecast of the holdout total."""
        return self.holdout_predicted / self.holdout_actual - 1

    def to_dict(self) -> dict:
        return {**asdict(self), "holdout_error": self.holdout_error}


def _fit_and_holdout(events: pd.DataFrame) -> tuple[pd.DataFrame, ClvModel, pd.Series]:
    """The weeks 1-39 summary, the model fitted on it, and each customer's purchase days in weeks 40-78."""
    orders = events[events["event_type"] == "order"][["user_id", "ts", "amount"]]
    summary = rfm_summary(orders, CALIBRATION_END)
    model = ClvModel().fit(summary, CALIBRATION_END)
    days = pd.to_datetime(orders["ts"]).dt.normalize()
    later = orders.assign(day=days)[(days > pd.Timestamp(CALIBRATION_END)) & (days <= pd.Timestamp(HOLDOUT_END))]
    actual = later.drop_duplicates(["user_id", "day"]).groupby("user_id").size().reindex(summary.index, fill_value=0)
    return summary, model, actual


def cdnow_holdout(events: pd.DataFrame) -> CdnowHoldout:
    """Fit on orders to 1997-09-30 and forecast the 39 weeks to 1998-06-30 (Fader, Hardie and Lee 2005)."""
    summary, model, actual = _fit_and_holdout(events)
    expected = model.bgnbd_.expected_number_of_purchases_up_to_time
    unconditional = float((expected(summary["T"] + HOLDOUT_WEEKS) - expected(summary["T"])).sum())
    return CdnowHoldout(parameters=model.parameters_, calibration_purchases=int(summary["frequency"].sum()),
                        holdout_actual=int(actual.sum()),
                        holdout_predicted=float(model.expected_purchases(summary, HOLDOUT_WEEKS).sum()),
                        holdout_predicted_unconditional=unconditional)


def holdout_by_frequency(events: pd.DataFrame, *, censor: int = 7) -> pd.DataFrame:
    """Weeks 40-78 per customer against BG/NBD's conditional expectation, by calibration-period repeat purchases.

    The comparison BTYD draws with `PlotFreqVsConditionalExpectedFrequency` (frequencies of `censor` and more
    pooled): one row per bin with its customers, the mean actual holdout purchase days and the mean forecast.
    It shows where a total holdout gap comes from.
    """
    summary, model, actual = _fit_and_holdout(events)
    forecast = model.expected_purchases(summary, HOLDOUT_WEEKS)
    frequency = summary["frequency"].clip(upper=censor).astype(int).rename("calibration_purchases")
    table = pd.DataFrame({"customers": frequency.groupby(frequency).size(),
                          "actual_mean": actual.groupby(frequency).mean(),
                          "forecast_mean": forecast.groupby(frequency).mean()})
    table["actual_total"] = table["actual_mean"] * table["customers"]
    table["forecast_total"] = table["forecast_mean"] * table["customers"]
    return table.reset_index()
