"""The DuckDB warehouse and the events table on real files: location rules, write modes, transactions."""
from __future__ import annotations

import pandas as pd
import pytest

from warehouse.engine import Dialect, Warehouse, open_warehouse, resolve_warehouse_path
from warehouse.errors import WarehouseError
from warehouse.events_table import event_time_range, write_events

ROWS = pd.DataFrame({
    "user_id": ["01", "02"], "event_type": ["order", "login"], "ts": ["2026-01-01T00:00:00", "2026-01-02T10:00:00"],
    "amount": [5.0, 0.0], "item": ["a", None], "category": ["books", None], "channel": ["web", "app"],
})


def test_location_argument_then_environment_then_beside_the_registry(tmp_path, monkeypatch):
    monkeypatch.delenv("WINBACK_WAREHOUSE", raising=False)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    assert resolve_warehouse_path(None, tmp_path / "reg.db") == tmp_path / "reg-warehouse.duckdb"
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "env.db"))
    assert resolve_warehouse_path(None, tmp_path / "reg.db") == tmp_path / "env.db"
    assert resolve_warehouse_path(tmp_path / "arg.db") == tmp_path / "arg.db"
    wh = Warehouse(tmp_path / "x.db")
    assert open_warehouse(wh) is wh


def test_dialects_render_day_differences_and_bind_typed_literals(tmp_path):
    micros = "((CAST({f}(b) AS DOUBLE) - CAST({f}(a) AS DOUBLE)) / CAST(86400000000 AS DOUBLE))"
    assert Dialect("duckdb").days_between("a", "b") == micros.format(f="epoch_us")
    assert Dialect("spark").days_between("a", "b") == micros.format(f="unix_micros")
    wh = Warehouse(tmp_path / "w.db")
    sql = f"SELECT {wh.dialect.days_between(':a', ':b')} AS d, :k AS k"
    row = wh.query_frame(sql, {"a": pd.Timestamp("2026-01-01"), "b": pd.Timestamp("2026-01-02T12:00:00"),
                               "k": "it's"}).iloc[0]
    assert row["d"] == 1.5 and row["k"] == "it's"  # 36 hours; a quote in text stays one literal
    with pytest.raises(KeyError):
        Dialect("duckdb").bind("SELECT :missing", {"other": 1})


def test_replace_and_append_modes(tmp_path):
    wh = Warehouse(tmp_path / "w.db")
    assert event_time_range(wh) == (None, None)
    write_events(wh, [ROWS], source="a", fingerprint="f1")
    write_events(wh, [ROWS], source="a", fingerprint="f1")  # replace: the same table again
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2
    result = write_events(wh, [ROWS], source="b", fingerprint="f2", mode="append")
    assert (result.rows_written, result.total_rows) == (2, 4)
    assert write_events(wh, [ROWS], source="b", fingerprint="f2", mode="append").skipped
    with pytest.raises(WarehouseError) as error:
        write_events(wh, [ROWS], source="b", fingerprint="other", mode="append")
    assert str(error.value) == "source 'b' was already appended with other content; reload everything with mode 'replace'"
    assert event_time_range(wh) == ("2026-01-01T00:00:00", "2026-01-02T10:00:00")
    stored = wh.query_frame("SELECT * FROM events WHERE user_id = '02' LIMIT 1")
    assert stored["item"].isna().all() and stored["user_id"].iloc[0] == "02"


def test_a_failing_batch_rolls_the_whole_load_back(tmp_path):
    wh = Warehouse(tmp_path / "w.db")
    write_events(wh, [ROWS], source="a", fingerprint="f1")

    def batches():
        yield ROWS
        raise RuntimeError("disk unplugged")

    with pytest.raises(RuntimeError):
        write_events(wh, batches(), source="b", fingerprint="f2")
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2  # the replace never happened
    assert wh.query_frame("SELECT source FROM event_loads")["source"].tolist() == ["a"]


def test_an_empty_load_is_refused_and_changes_nothing(tmp_path):
    wh = Warehouse(tmp_path / "w.db")
    write_events(wh, [ROWS], source="a", fingerprint="f1")
    with pytest.raises(WarehouseError) as error:
        write_events(wh, [ROWS.iloc[:0]], source="empty", fingerprint="f0")
    assert str(error.value) == "source 'empty' holds no events; the warehouse was left unchanged"
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2


def test_columns_are_typed_and_queries_can_be_written_as_parquet(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    write_events(wh, [ROWS], source="a", fingerprint="f1")
    types = dict(wh.query_frame("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'events'").itertuples(index=False))
    assert (types["ts"], types["amount"], types["user_id"]) == ("TIMESTAMP", "DOUBLE", "VARCHAR")
    out = wh.write_parquet("SELECT user_id, amount FROM events WHERE amount > :m", tmp_path / "o.parquet", {"m": 1.0})
    assert pd.read_parquet(out).to_dict("list") == {"user_id": ["01"], "amount": [5.0]}


def test_a_sqlite_file_is_not_a_warehouse(tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "old.db").execute("CREATE TABLE t (x)")
    with pytest.raises(WarehouseError) as error:
        Warehouse(tmp_path / "old.db")
    assert str(error.value).startswith(f"cannot open the warehouse {tmp_path / 'old.db'} as a DuckDB file: ")


def test_bad_sql_is_a_warehouse_error(tmp_path):
    wh = Warehouse(tmp_path / "w.db")
    with pytest.raises(WarehouseError) as error:
        wh.query_frame("SELECT nope FROM nowhere")
    assert str(error.value).startswith(f"query failed on {wh.path}: ")
