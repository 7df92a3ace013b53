"""Per-user features and churn labels as of a date, computed by the warehouse's SQL (GROUP BY user).

The as-of date is inclusive: history is every event before the day after it; labels look at the
`horizon_days` that follow. Nothing at or after that cut-off reaches the features.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from churn.errors import ChurnError
from warehouse.engine import Warehouse
from warehouse.events_table import event_time_range
from warehouse.feature_sql import features_sql, labels_sql

TIMESTAMP_COLUMNS = ("first_ts", "last_ts", "first_order_ts", "last_order_ts")


def parse_as_of(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """The as-of date (a calendar day) or a ChurnError saying which format is expected."""
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError) as error:
        raise ChurnError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD") from error
    if pd.isna(stamp):
        raise ChurnError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD")
    return stamp.normalize()


def _cutoffs(as_of: pd.Timestamp) -> dict[str, pd.Timestamp]:
    end = as_of + pd.Timedelta(days=1)
    params = {"end": end}
    for days in (7, 30, 90, 180):
        params[f"d{days}"] = end - pd.Timedelta(days=days)
    return params


def compute_features(warehouse: Warehouse, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """One row per user with any event on or before `as_of`: RFM, trends, after-sale, coupons, drift."""
    return tidy_features(warehouse.query_frame(*compute_features_sql(warehouse, as_of)))


def compute_features_sql(warehouse, as_of: str | pd.Timestamp) -> tuple[str, dict[str, pd.Timestamp]]:
    """compute_features' checks on the events, then its SQL and parameters (for writers that run it themselves)."""
    stamp = parse_as_of(as_of)
    first, _ = event_time_range(warehouse)
    if first is None and getattr(warehouse, "engine", "duckdb") == "spark":  # rows are read as they are, not loaded
        raise ChurnError(f"{warehouse.path} holds no events with a user, a time and a known event type")
    if first is None:
        raise ChurnError(f"the warehouse {warehouse.path} holds no events; load an events file first")
    if first >= _cutoffs(stamp)["end"].strftime("%Y-%m-%d"):
        raise ChurnError(f"no events on or before the as-of date {stamp.date()}; the first event is at {first}")
    return features_query(warehouse, stamp)


def features_query(warehouse, as_of: str | pd.Timestamp) -> tuple[str, dict[str, pd.Timestamp]]:
    """The feature SQL for this warehouse's engine and its parameters (for engines that keep rows remote)."""
    return features_sql(warehouse.dialect), _cutoffs(parse_as_of(as_of))


def tidy_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature rows as any engine returns them → text user_id index and numeric columns."""
    frame = frame.copy()
    frame["user_id"] = frame["user_id"].astype("str")
    for column in frame.columns.difference(["user_id", *TIMESTAMP_COLUMNS]):
        frame[column] = pd.to_numeric(frame[column])  # an all-NULL column comes back as objects
    return frame.set_index("user_id")


def compute_labels(warehouse: Warehouse, as_of: str | pd.Timestamp, horizon_days: int) -> pd.Series:
    """churned (1/0) per user with history: 1 when no order in the `horizon_days` after `as_of`."""
    stamp = parse_as_of(as_of)
    if int(horizon_days) < 1:
        raise ChurnError(f"horizon must be at least 1 day, got {horizon_days}")
    params = _cutoffs(stamp)
    label_end = stamp + pd.Timedelta(days=1 + int(horizon_days))
    _, last = event_time_range(warehouse)
    if last is None or last < (label_end - pd.Timedelta(days=1)).strftime("%Y-%m-%d"):
        raise ChurnError(
            f"labels for {horizon_days} days after {stamp.date()} need events until "
            f"{(label_end - pd.Timedelta(days=1)).date()}, but the events end at {last}"
            + _label_fix(stamp, int(horizon_days), last)
        )
    params["label_end"] = label_end
    frame = warehouse.query_frame(labels_sql(), params)
    return frame.set_index(frame["user_id"].astype("str"))["churned"].astype(int)


def _label_fix(as_of: pd.Timestamp, horizon_days: int, last: str | None) -> str:
    """What would fit the events: the latest as-of date for this horizon, or the longest horizon for this date."""
    if last is None:
        return ""
    last_day = pd.Timestamp(last[:10])
    latest = (last_day - pd.Timedelta(days=horizon_days)).date()
    longest = (last_day - as_of.normalize()).days
    shorter = f", or a horizon of at most {longest} days" if longest >= 1 else ""
    return f"; train as of {latest} or earlier{shorter}"


def labels_available(warehouse: Warehouse, as_of: str | pd.Timestamp, horizon_days: int) -> bool:
    """Whether the events reach far enough past `as_of` to label the horizon."""
    _, last = event_time_range(warehouse)
    needed = parse_as_of(as_of) + pd.Timedelta(days=int(horizon_days))
    return last is not None and last >= needed.strftime("%Y-%m-%d")


def model_columns(features: pd.DataFrame) -> list[str]:
    """The numeric feature columns a model learns from (timestamps and ids excluded)."""
    return [c for c in features.columns if c not in TIMESTAMP_COLUMNS and pd.api.types.is_numeric_dtype(features[c])]


def write_features(warehouse, as_of: str | pd.Timestamp, path) -> Path:
    """Every user's features as of a date written as Parquet by the engine itself (no rows through Python)."""
    first, _ = event_time_range(warehouse)
    if first is None and getattr(warehouse, "engine", "duckdb") == "spark":  # rows are read as they are, not loaded
        raise ChurnError(f"{warehouse.path} holds no events with a user, a time and a known event type")
    if first is None:
        raise ChurnError(f"the warehouse {warehouse.path} holds no events; load an events file first")
    sql, params = features_query(warehouse, as_of)
    return warehouse.write_parquet(sql, Path(path), params)
