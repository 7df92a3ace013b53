"""One real local Spark (master local[2], loopback only) for the whole session, and a small shop's events
in a DuckDB warehouse and in a Parquet file, so both engines read the same rows."""
from __future__ import annotations

import pytest

from churn.ingest import load_events
from simulator.shop import generate_shop
from warehouse.engine import Warehouse

SHOP_AS_OF, HORIZON = "2026-06-30", 60


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    from warehouse.spark_engine import spark_session

    session = spark_session("local[2]", app_name="winback-tests", shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shop_files(tmp_path_factory):
    """(DuckDB warehouse, Parquet copy of its events) for a 400-user demo shop."""
    root = tmp_path_factory.mktemp("engines")
    shop = generate_shop(400, seed=14, as_of=SHOP_AS_OF, horizon_days=HORIZON)
    wh = Warehouse(root / "warehouse.duckdb")
    load_events(shop.events, wh, name="shop")
    parquet = wh.write_parquet("SELECT * FROM events", root / "events.parquet")
    return wh, parquet
