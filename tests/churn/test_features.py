"""Features as of a date, by SQL on a real SQLite warehouse; expected values worked out by hand from TINY_EVENTS."""
from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.features import compute_features, compute_labels, labels_available
from churn.ingest import load_events
from warehouse.engine import Warehouse

AS_OF = "2026-03-31"


def test_rfm_and_signals_match_hand_computation(tiny_warehouse):
    f = compute_features(tiny_warehouse, AS_OF)
    assert sorted(f.index) == ["0042", "007", "0100"]
    u = f.loc["007"]
    assert u["orders"] == 3 and u["spend"] == pytest.approx(180.0)  # 100 + 50 + 30 (the April order is later)
    # last order 2026-03-03 18:30 to the end of 2026-03-31: 28 days 5.5 hours
    assert u["recency_days"] == pytest.approx(28 + 5.5 / 24, abs=1e-6)
    # 2026-01-01 09:10 to 2026-03-03 18:30 is 61 days 9h20m, over 2 gaps
    assert u["ipt_days"] == pytest.approx((61 + 9 / 24 + 20 / 1440) / 2, abs=1e-6)
    assert u["overdue_ratio"] == pytest.approx(u["recency_days"] / u["ipt_days"])
    assert (u["orders_30"], u["orders_90"], u["complaints_90"], u["returns_90"]) == (1, 3, 1, 1)
    assert u["return_rate"] == pytest.approx(1 / 3)
    # first event 2026-01-01 09:00 to 2026-04-01: 89.625 days; monthly spend = 180 * 30.4 / 89.625
    assert u["tenure_days"] == pytest.approx(89.625, abs=1e-6)
    assert u["monthly_spend"] == pytest.approx(180 * 30.4 / 89.625, rel=1e-9)
    assert f.loc["0100", "recency_days"] == pytest.approx(1 / 86400, abs=1e-7)  # the as-of day counts in full
    assert pd.isna(f.loc["0042", "recency_days"]) and f.loc["0042", "orders"] == 0
    # quintile scores over three users: NTILE(5) gives 1, 2, 3; never-buyers rank least recent
    assert f["r_score"].to_dict() == {"0042": 1, "007": 2, "0100": 3}
    assert f.loc["0100", "f_score"] < f.loc["007", "f_score"]


def test_future_events_never_leak_into_features(tmp_path, tiny_frame):
    base = Warehouse(tmp_path / "base.db")
    load_events(tiny_frame, base, name="tiny")
    planted = pd.concat([tiny_frame, pd.DataFrame([
        ("0042", "order", "2026-04-01T00:00:00", 999.0, "sku-7", "books", "web"),  # first second after the as-of day
        ("0100", "complaint", "2026-05-01T10:00:00", 0, None, None, "service"),
        ("9999", "order", "2026-04-02T10:00:00", 5.0, None, None, "web"),  # a user who only exists later
    ], columns=tiny_frame.columns)])
    leaky = Warehouse(tmp_path / "leaky.db")
    load_events(planted, leaky, name="planted")
    before, after = compute_features(base, AS_OF), compute_features(leaky, AS_OF)
    pd.testing.assert_frame_equal(before, after)
    assert "9999" not in after.index and after.loc["0042", "orders"] == 0


def test_labels_look_only_at_the_horizon(tiny_warehouse):
    labels = compute_labels(tiny_warehouse, AS_OF, 15)  # orders in [2026-04-01, 2026-04-16): 007's April order
    assert labels.to_dict() == {"0042": 1, "007": 0, "0100": 1}
    with pytest.raises(ChurnError) as error:
        compute_labels(tiny_warehouse, AS_OF, 30)
    assert str(error.value) == ("labels for 30 days after 2026-03-31 need events until 2026-04-30, "
                                "but the events end at 2026-04-15T10:00:00; train as of 2026-03-16 or earlier, "
                                "or a horizon of at most 15 days")  # 04-15 - 30 days; 04-15 - 03-31
    assert labels_available(tiny_warehouse, "2026-03-16", 30) and not labels_available(tiny_warehouse, "2026-03-17", 30)
    compute_labels(tiny_warehouse, "2026-03-16", 30)  # the date the message suggests is accepted


def test_bad_dates_and_empty_history(tiny_warehouse, tmp_path):
    with pytest.raises(ChurnError) as error:
        compute_features(tiny_warehouse, "31/03/2026x")
    assert str(error.value) == "as-of date '31/03/2026x' is not a date; use YYYY-MM-DD"
    with pytest.raises(ChurnError) as error:
        compute_features(tiny_warehouse, "2025-01-01")
    assert str(error.value) == "no events on or before the as-of date 2025-01-01; the first event is at 2026-01-01T09:00:00"
    empty = Warehouse(tmp_path / "empty.db")
    with pytest.raises(ChurnError) as error:
        compute_features(empty, AS_OF)
    assert str(error.value) == f"the warehouse {empty.path} holds no events; load an events file first"
