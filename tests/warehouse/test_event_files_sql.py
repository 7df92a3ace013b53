"""The SQL load of events files (warehouse/event_files.py) stores exactly what the row-by-row validator stores,
takes only files in plain form, and leaves every other file, bad ones included, to the validator's errors."""
from __future__ import annotations

import pandas as pd
import pytest

from churn.ingest import _read_typed, _rules, load_events
from warehouse.engine import Warehouse
from warehouse.errors import DataError
from warehouse.event_files import load_plain_file
from warehouse.events_table import write_events

HEADER = "user_id,event_type,ts,amount,item,category,channel\n"
PLAIN = ("0007,order,2026-01-02T10:00:00,12.50,sku-1,books,web\n"
         "0008,login,2026-01-03 08:00,,,,app\n"
         "0100,rating,2026-01-04,4,sku-1,books,\n"
         "x-1,refund,1970-01-01T00:00:00,0.000001,,,web\n")


def _both(tmp_path, path):
    """The events table after the SQL load and after the validator's load of the same file."""
    fast, slow = Warehouse(tmp_path / "fast.duckdb"), Warehouse(tmp_path / "slow.duckdb")
    result = load_plain_file(fast, path, _rules(), source=str(path), mode="replace")
    write_events(slow, [_read_typed(path)], source=str(path), fingerprint="validator")
    query = "SELECT * FROM events ORDER BY ALL"
    stored = fast.query_frame(query) if fast.has_table("events") else None
    return result, stored, slow.query_frame(query)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_plain_files_load_by_sql_with_the_validators_values(tmp_path, suffix):
    path = tmp_path / f"events.{suffix}"
    if suffix == "csv":
        path.write_text(HEADER + PLAIN)
    else:  # typed columns, fractions of a second (stored floored to the second, as the validator does)
        pd.DataFrame({"user_id": ["0007", "0008"], "event_type": ["order", "login"],
                      "ts": pd.to_datetime(["2026-01-02 10:00:00.75", "2026-01-03 08:00:00.00"]),
                      "amount": [3.5, None]}).to_parquet(path)
    result, fast, slow = _both(tmp_path, path)
    assert result is not None and result.rows_written == len(slow) > 0
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("row", [
    "0007,order,2026-01-02T10:00:00.5,1,,,web\n",       # fractional seconds in text
    "0007,order,2026-01-02T10:00:00+02:00,1,,,web\n",   # a time zone
    "0007, order,2026-01-02,1,,,web\n",                 # event type with a space (the validator strips it)
    "0007,order,2026-01-02,1e2,,,web\n",                # exponent
    "Zoë,order,2026-01-02,1,,,web\n",                   # non-ASCII id
])
def test_other_forms_are_left_to_the_validator_and_load_the_same(tmp_path, row):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + PLAIN + row)
    result, fast, slow = _both(tmp_path, path)
    if result is None:
        assert fast is None  # nothing written by the SQL path
        wh = Warehouse(tmp_path / "via-load.duckdb")
        load_events(path, wh)
        fast = wh.query_frame("SELECT * FROM events ORDER BY ALL")
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("row, column", [
    ("0009,order,2026-01-02,-1,,,web\n", "amount"),
    ("0009,order,1969-12-31,1,,,web\n", "ts"),
    ("0009,rating,2026-01-02,6,,,web\n", "amount"),
    ("0009,order,2026-01-02,1,sku\x01,,web\n", "item"),
    ("0009,teleport,2026-01-02,1,,,web\n", "event_type"),
])
def test_bad_files_are_not_taken_and_keep_the_validators_error(tmp_path, row, column):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + PLAIN + row)
    wh = Warehouse(tmp_path / "wh.duckdb")
    assert load_plain_file(wh, path, _rules(), source=str(path), mode="replace") is None
    with pytest.raises(DataError) as error:
        load_events(path, wh)
    assert str(error.value).startswith(f"{path}, row 5, column '{column}': ")
    assert not wh.has_table("events") or wh.scalar("SELECT COUNT(*) FROM events") == 0


def test_appending_the_same_file_twice_is_recognised(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + PLAIN)
    wh = Warehouse(tmp_path / "wh.duckdb")
    first = load_events(path, wh, mode="append")
    again = load_events(path, wh, mode="append")
    assert (first.rows_written, again.rows_written, again.skipped, again.total_rows) == (4, 0, True, 4)


def test_the_memory_cap_comes_from_the_environment(tmp_path, monkeypatch):
    from warehouse.engine import open_warehouse

    monkeypatch.setenv("WINBACK_DUCKDB_MEMORY", "512MB")
    warehouse = open_warehouse(tmp_path / "w.duckdb")
    # DuckDB reports the limit in its own units (512 MB = 488.2 MiB)
    assert warehouse.conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"
