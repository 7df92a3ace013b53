"""Loading events: ids stay text, bad rows get an error naming file, row and column; loads are idempotent."""
from __future__ import annotations

import pytest

from churn.ingest import load_events, read_events
from warehouse.engine import Warehouse
from warehouse.errors import DataError
from warehouse.event_vocabulary import EVENT_TYPES

HEADER = "user_id,event_type,ts,amount,item,category,channel\n"
GOOD = "0007,order,2026-01-02T10:00:00,12.50,sku-1,books,web\n"


def write(tmp_path, body: str, name: str = "events.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_vocabulary_has_twenty_plus_types_covering_the_issue():
    needed = {"product_view", "search", "add_to_cart", "begin_checkout", "payment", "order", "coupon_claim",
              "coupon_redeem", "review", "rating", "return_request", "refund", "complaint", "service_chat",
              "push_open", "push_unsubscribe", "login", "share"}
    assert len(EVENT_TYPES) >= 20 and needed <= set(EVENT_TYPES)


def test_csv_keeps_leading_zeros_and_normalises_timestamps(tmp_path):
    path = write(tmp_path, GOOD + "00042,login,2026-01-03 08:00,,,,app\n0100,rating,2026-01-04T00:00:00+02:00,4,sku-1,books,web\n")
    events = read_events(path)
    assert list(events["user_id"]) == ["0007", "00042", "0100"]
    assert list(events["ts"]) == ["2026-01-02T10:00:00", "2026-01-03T08:00:00", "2026-01-03T22:00:00"]
    assert list(events["amount"]) == [12.5, 0.0, 4.0]
    assert events["item"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(
    "body, message",
    [
        (GOOD + "0008,teleport,2026-01-02T10:00:00,0,,,web\n",
         "row 2, column 'event_type': unknown event type 'teleport'; known types: " + ", ".join(EVENT_TYPES)
         + "; or load with --unknown-events skip (Python: unknown_events='skip') to leave rows of unknown types out"),
        (GOOD + GOOD + "0009,order,yesterday,5,,,web\n",
         "row 3, column 'ts': 'yesterday' is not a timestamp; use ISO 8601 such as 2026-06-30 or 2026-06-30T14:05:00"),
        ("0010,refund,2026-01-02,-5,,,web\n",
         "row 1, column 'amount': negative amount -5 makes no sense (refunds and discounts are positive amounts)"),
        (GOOD + "0011,order,2026-01-02,ten,,,web\n", "row 2, column 'amount': 'ten' is not a number"),
        (GOOD + "0012,rating,2026-01-02,7,,,web\n",
         "row 2, column 'amount': a rating's amount is its stars and must be between 1 and 5, got 7"),
        (GOOD + ",order,2026-01-02,1,,,web\n", "row 2, column 'user_id': user id is empty"),
        (GOOD + "0013,rating,2026-01-02,,,,web\n",  # an empty amount is 0 elsewhere; pandas' NaN is no value to show
         "row 2, column 'amount': a rating's amount is its stars and must be between 1 and 5, got nothing"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(DataError) as error:
        read_events(path)
    assert str(error.value) == f"{path}, {message}"


def test_missing_column_and_missing_file(tmp_path):
    path = tmp_path / "no_ts.csv"
    path.write_text("user_id,event_type\n1,order\n")
    with pytest.raises(DataError) as error:
        read_events(path)
    assert str(error.value) == f"{path}, column 'ts': required column is missing (have: user_id, event_type)"
    with pytest.raises(DataError) as error:
        read_events(tmp_path / "absent.csv")
    assert str(error.value) == f"{tmp_path / 'absent.csv'}: file not found"


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_a_file_without_a_header_is_called_empty_not_missing_a_column(tmp_path, content):
    """DuckDB's reader names the one column of an empty file 'column0'; 'user_id is missing (have: column0)' misled."""
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    wh = Warehouse(tmp_path / "wh.duckdb")
    with pytest.raises(DataError) as error:
        load_events(path, wh)
    assert str(error.value) == (f"{path}: is empty (no header line, no events); nothing was loaded and the warehouse "
                                "was left unchanged")


def test_parquet_reads_like_csv(tmp_path, tiny_frame):
    path = tmp_path / "events.parquet"
    tiny_frame.to_parquet(path)
    events = read_events(path)
    assert len(events) == len(tiny_frame) and events["user_id"].iloc[0] == "007"
    assert events["item"].isna().tolist() == tiny_frame["item"].isna().tolist()
    assert events["ts"].iloc[1] == "2026-01-01T09:10:00"


def test_load_is_idempotent_and_a_bad_file_leaves_the_warehouse_untouched(tmp_path, tiny_frame):
    wh = Warehouse(tmp_path / "wh.db")
    first = load_events(tiny_frame, wh, name="tiny")
    again = load_events(tiny_frame, wh, name="tiny")
    assert first.total_rows == again.total_rows == len(tiny_frame)
    skipped = load_events(tiny_frame, wh, name="tiny", mode="append")  # same source and content: nothing added
    assert skipped.skipped and skipped.total_rows == len(tiny_frame)
    bad = write(tmp_path, GOOD + "0008,teleport,2026-01-02,0,,,web\n")
    with pytest.raises(DataError):
        load_events(bad, wh)
    assert wh.scalar("SELECT COUNT(*) FROM events") == len(tiny_frame)
    ids = wh.query_frame("SELECT DISTINCT user_id FROM events ORDER BY user_id")["user_id"].tolist()
    assert ids == ["0042", "007", "0100"]
