"""Shared fixtures: a tiny hand-written event file and a small demo shop loaded into a real warehouse."""
from __future__ import annotations

import pandas as pd
import pytest

from churn.ingest import load_events
from simulator.shop import generate_shop
from warehouse.engine import Warehouse

TINY_EVENTS = [
    # user 007: three orders, a complaint and a return; user 0100: one order; user 0042: browses only
    ("007", "session_start", "2026-01-01T09:00:00", 0, None, None, "web"),
    ("007", "order", "2026-01-01T09:10:00", 100.0, "sku-1", "books", "web"),
    ("007", "order", "2026-02-01T12:00:00", 50.0, "sku-2", "books", "web"),
    ("007", "complaint", "2026-02-20T08:00:00", 0, None, None, "service"),
    ("007", "return_request", "2026-02-21T08:00:00", 50.0, "sku-2", "books", "web"),
    ("007", "order", "2026-03-03T18:30:00", 30.0, "sku-3", "toys", "app"),
    ("0100", "order", "2026-03-31T23:59:59", 20.0, "sku-9", "home", "app"),
    ("0042", "session_start", "2026-03-30T10:00:00", 0, None, None, "app"),
    ("0042", "product_view", "2026-03-30T10:01:00", 0, "sku-5", "beauty", "app"),
    ("007", "order", "2026-04-15T10:00:00", 70.0, "sku-4", "books", "web"),  # after as-of 2026-03-31
]


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    return pd.DataFrame(TINY_EVENTS, columns=["user_id", "event_type", "ts", "amount", "item", "category", "channel"])


@pytest.fixture
def tiny_warehouse(tmp_path, tiny_frame) -> Warehouse:
    wh = Warehouse(tmp_path / "warehouse.db")
    load_events(tiny_frame, wh, name="tiny")
    return wh


@pytest.fixture(scope="session")
def small_shop():
    return generate_shop(3_000, seed=21, as_of="2026-06-30", horizon_days=60)


@pytest.fixture(scope="session")
def shop_warehouse(tmp_path_factory, small_shop) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("shop") / "warehouse.db")
    load_events(small_shop.events, wh, name="demo shop")
    return wh
