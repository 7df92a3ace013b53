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


def test_unknown_event_types_skipped_alike_and_counted_alike(spark, tmp_path):
    """DuckDB's `--unknown-events skip` and Spark's view leave the same rows out; both count them per type."""
    from warehouse.spark_engine import SparkWarehouse

    export = shop_export()
    every = export.index.to_series()
    unknown = export.assign(event_type=export["event_type"].where(every % 7 != 0, "page_ping")
                            .where(every % 11 != 0, " wishlist_share "))
    raw = tmp_path / "unknown.parquet"
    unknown.to_parquet(raw, index=False)
    duck = Warehouse(tmp_path / "wh.duckdb")
    loaded = load_events(raw, duck, unknown_events="skip")
    spark_wh = SparkWarehouse(spark, events=raw)
    assert spark_wh.unknown_event_types() == loaded.unknown_types
    assert set(loaded.unknown_types) == {"page_ping", "wishlist_share"}
    assert sum(loaded.unknown_types.values()) == int(((every % 7 == 0) | (every % 11 == 0)).sum())
    a, b = compute_features(duck, AS_OF), compute_features(spark_wh, AS_OF)
    stamps = ["first_ts", "last_ts", "first_order_ts", "last_order_ts"]
    a[stamps], b[stamps] = a[stamps].astype("datetime64[us]"), b[stamps].astype("datetime64[us]")
    pd.testing.assert_frame_equal(a, b.loc[a.index], check_dtype=False, rtol=1e-9, atol=1e-12)
    from click.testing import CliRunner

    from churn.ingest import describe_unknown
    from winback.cli import cli

    done = CliRunner().invoke(cli, ["warehouse", "features", "--engine", "spark", "--events", str(raw), "--as-of",
                                    AS_OF, "--out", str(tmp_path / "features"), "--db", str(tmp_path / "r.db")])
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [describe_unknown(loaded.unknown_types)]


def test_events_spark_can_use_none_of_say_so(spark, tmp_path):
    from warehouse.spark_engine import SparkWarehouse

    path = tmp_path / "pings.parquet"
    pd.DataFrame({"user_id": ["1"], "event_type": ["page_ping"], "ts": ["2026-03-01"]}).to_parquet(path, index=False)
    with pytest.raises(ChurnError) as error:
        compute_features(SparkWarehouse(spark, events=path), AS_OF)
    assert str(error.value) == f"{path} holds no events with a user, a time and a known event type"


def test_metric_windows_agree_when_assignments_carry_fractions_of_a_second(spark, tmp_path):
    """The registry stamps assignments to the microsecond; events are whole seconds. An order 1 s before the
    30-day window closes counted on DuckDB and not on Spark while Spark's day difference dropped fractions."""
    from warehouse.metric_sql import ASSIGNMENTS, DEFINITIONS, event_sums_sql
    from warehouse.spark_engine import SparkWarehouse

    assigned = pd.Timestamp("2026-01-01 10:00:00.500000")
    inside, outside = pd.Timestamp("2026-01-31 10:00:00"), pd.Timestamp("2026-01-31 10:00:01")  # 29.99999, 30.00001 days
    events = pd.DataFrame({"user_id": ["a", "b", "b"], "event_type": ["order"] * 3,
                           "ts": [inside, outside, pd.Timestamp("2026-01-01 10:00:00")], "amount": [10.0, 20.0, 5.0]})
    events.to_parquet(tmp_path / "events.parquet", index=False, coerce_timestamps="us")
    duck = Warehouse(tmp_path / "wh.duckdb")
    load_events(events, duck, name="edge")
    assignments = pd.DataFrame({"user_id": ["a", "b"], "arm_key": ["control", "control"], "segment": ["all", "all"],
                                "assigned_at": [assigned, assigned]})
    definitions = pd.DataFrame({"metric": ["orders"], "event_type": ["order"], "value_kind": ["count"], "window_days": [30]})
    sums = []
    for wh in (duck, SparkWarehouse(spark, events=tmp_path / "events.parquet")):
        wh.put_frame(ASSIGNMENTS, assignments)
        wh.put_frame(DEFINITIONS, definitions)
        sums.append(wh.query_frame(event_sums_sql(wh.dialect, True)).iloc[0])
    duck_sums, spark_sums = sums
    assert (duck_sums["post"], duck_sums["pre"]) == (1.0, 1.0)  # a's order inside; b's 10:00:00 is before 10:00:00.5
    pd.testing.assert_series_equal(duck_sums, spark_sums, check_dtype=False, check_names=False)
