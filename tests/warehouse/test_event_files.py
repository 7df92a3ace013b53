"""Events files read by DuckDB's readers: empty files are refused (issue 12 finding 4) and the optional
columns are optional (issue 12 finding 9), on real CSV and Parquet files and through `winback churn load`."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from churn.ingest import load_events, read_events
from warehouse.engine import Warehouse, resolve_warehouse_path
from warehouse.errors import DataError
from winback.cli import cli

HEADER = "user_id,event_type,ts,amount,item,category,channel\n"
ROWS = ("0007,order,2026-01-02T10:00:00,12.50,sku-1,books,web\n"
        "0008,login,2026-01-03T08:00:00,,,,app\n")


def test_a_header_only_file_is_an_error_and_the_warehouse_keeps_its_events(tmp_path):
    full, empty = tmp_path / "full.csv", tmp_path / "empty.csv"
    full.write_text(HEADER + ROWS)
    empty.write_text(HEADER)
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(full, wh)
    with pytest.raises(DataError) as error:
        load_events(empty, wh)
    assert str(error.value) == (f"{empty}: holds no events (only a header or nothing); nothing was loaded "
                                "and the warehouse was left unchanged")
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2
    assert wh.query_frame("SELECT source FROM event_loads")["source"].tolist() == [str(full)]


def test_churn_load_of_a_header_only_file_exits_1_with_one_error_line(tmp_path):
    db = tmp_path / "registry.db"
    full, empty = tmp_path / "full.csv", tmp_path / "empty.csv"
    full.write_text(HEADER + ROWS)
    empty.write_text(HEADER)
    runner = CliRunner()
    assert runner.invoke(cli, ["churn", "load", "--events", str(full), "--db", str(db)]).exit_code == 0
    result = runner.invoke(cli, ["churn", "load", "--events", str(empty), "--db", str(db)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {empty}: holds no events (only a header or nothing); nothing was loaded "
                             "and the warehouse was left unchanged\n")
    wh = Warehouse(resolve_warehouse_path(None, db))
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_file_with_only_the_required_columns_loads(tmp_path, suffix):
    frame = pd.DataFrame({"user_id": ["0007", "0008"], "event_type": ["order", "login"],
                          "ts": ["2026-01-02T10:00:00", "2026-01-03T08:00:00"]})
    path = tmp_path / f"events.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    wh = Warehouse(tmp_path / "wh.duckdb")
    result = load_events(path, wh)
    assert (result.rows_written, result.total_rows) == (2, 2)
    stored = wh.query_frame("SELECT * FROM events ORDER BY user_id")
    assert stored["user_id"].tolist() == ["0007", "0008"] and stored["amount"].tolist() == [0.0, 0.0]
    assert stored[["item", "category", "channel"]].isna().all().all()
    assert stored["ts"].tolist() == [pd.Timestamp("2026-01-02T10:00:00"), pd.Timestamp("2026-01-03T08:00:00")]


def test_parquet_with_typed_columns_and_a_corrupt_file(tmp_path):
    frame = pd.DataFrame({"user_id": ["1"], "event_type": ["order"], "ts": pd.to_datetime(["2026-01-02 10:00"]),
                          "amount": [3.5], "category": ["books"]})
    good = tmp_path / "typed.parquet"
    frame.to_parquet(good)
    assert read_events(good)[["ts", "amount", "category"]].iloc[0].tolist() == ["2026-01-02T10:00:00", 3.5, "books"]
    bad = tmp_path / "corrupt.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError) as error:
        read_events(bad)
    assert str(error.value).startswith(f"{bad}: cannot be read as CSV or Parquet (")
