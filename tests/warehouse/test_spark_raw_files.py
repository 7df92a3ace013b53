"""Spark reads a shop's own Parquet events as they are; DuckDB loads the same file through the validator.

Both must give the same features user by user. The file is what a shop exports, not the warehouse's
typed copy: every column text, amounts with empty cells, event types with spaces around them,
timestamps with zone offsets and fractions of a second. Rows the DuckDB loader refuses (unknown event
types, no user) are left out by Spark, so they are compared against the file without them.
Expected values: the DuckDB engine's own results on the same rows; no number is typed in by hand.
"""
from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.features import compute_features, compute_labels
from churn.ingest import load_events
from simulator.shop import generate_shop
from warehouse.engine import Warehouse

pytestmark = pytest.mark.xdist_group("spark")
AS_OF, HORIZON = "2026-03-31", 30


def shop_export() -> pd.DataFrame:
    """A 150-user shop as text, in the forms a shop's own export takes (each form on a share of the rows)."""
    events = generate_shop(150, seed=21, as_of=AS_OF, horizon_days=HORIZON).events.reset_index(drop=True)
    every = events.index.to_series()
    stamps = events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    zoned = (events["ts"] + pd.Timedelta(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S.250+02:00")
    amounts = events["amount"].map(repr).where((every % 5 != 0) | (events["event_type"] == "rating"), None)
    return pd.DataFrame({
        "user_id": events["user_id"],
        "event_type": events["event_type"].where(every % 4 != 0, " " + events["event_type"] + "\t"),
        "ts": stamps.where(every % 3 != 0, zoned),
        "amount": amounts,  # empty on every fifth row but ratings: 0 on both engines
        "category": events["category"],
        "utm_source": "newsletter",  # a column Winback does not know
    })


def test_a_shops_text_parquet_gives_duckdbs_features_and_labels(spark, tmp_path):
    from warehouse.spark_engine import SparkWarehouse

    export = shop_export()
    clean = tmp_path / "clean.parquet"
    export.to_parquet(clean, index=False)
    junk = pd.DataFrame({"user_id": [export["user_id"].iloc[0], None], "event_type": ["page_ping", "order"],
                         "ts": ["2026-03-01T10:00:00", "2026-03-01T10:00:00"], "amount": ["1", "5"]})
    raw = tmp_path / "raw.parquet"
    pd.concat([export, junk]).to_parquet(raw, index=False)

    duck = Warehouse(tmp_path / "wh.duckdb")
    load_events(clean, duck)  # the loader refuses the raw file's two junk rows; Spark leaves them out
    spark_wh = SparkWarehouse(spark, events=raw)
    a, b = compute_features(duck, AS_OF), compute_features(spark_wh, AS_OF)
    assert len(a) > 100 and sorted(a.index) == sorted(b.index) and a["orders"].sum() > 100
    stamps = ["first_ts", "last_ts", "first_order_ts", "last_order_ts"]
    a[stamps], b[stamps] = a[stamps].astype("datetime64[us]"), b[stamps].astype("datetime64[us]")
    pd.testing.assert_frame_equal(a, b.loc[a.index], check_dtype=False, rtol=1e-9, atol=1e-12)
    la, lb = compute_labels(duck, "2026-02-28", HORIZON), compute_labels(spark_wh, "2026-02-28", HORIZON)
    pd.testing.assert_series_equal(la, lb.loc[la.index], check_dtype=False)


def test_events_spark_can_use_none_of_say_so(spark, tmp_path):
    from warehouse.spark_engine import SparkWarehouse

    path = tmp_path / "pings.parquet"
    pd.DataFrame({"user_id": ["1"], "event_type": ["page_ping"], "ts": ["2026-03-01"]}).to_parquet(path, index=False)
    with pytest.raises(ChurnError) as error:
        compute_features(SparkWarehouse(spark, events=path), AS_OF)
    assert str(error.value) == f"{path} holds no events with a user, a time and a known event type"
