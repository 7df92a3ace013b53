"""The SQL runner and the events table on real SQLite files: location rules, write modes, transactions."""
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


def test_location_argument_then_environment_then_registry(tmp_path, monkeypatch):
    monkeypatch.delenv("WINBACK_WAREHOUSE", raising=False)
    monkeypatch.delenv("WINBACK_DB", raising=False)
    assert resolve_warehouse_path(None, tmp_path / "reg.db") == tmp_path / "reg.db"
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "env.db"))
    assert resolve_warehouse_path(None, tmp_path / "reg.db") == tmp_path / "env.db"
    assert resolve_warehouse_path(tmp_path / "arg.db") == tmp_path / "arg.db"
    wh = Warehouse(tmp_path / "x.db")
    assert open_warehouse(wh) is wh


def test_dialects_render_day_differences(tmp_path):
    assert Dialect("sqlite").days_between("a", "b") == "(julianday(b) - julianday(a))"
    assert Dialect("spark").days_between("a", "b") == "((unix_timestamp(b) - unix_timestamp(a)) / 86400.0)"
    wh = Warehouse(tmp_path / "w.db")
    sql = f"SELECT {wh.dialect.days_between(':a', ':b')} AS d"
    assert wh.query_frame(sql, {"a": "2026-01-01", "b": "2026-01-02T12:00:00"})["d"].iloc[0] == pytest.approx(1.5)


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


def test_bad_sql_is_a_warehouse_error(tmp_path):
    wh = Warehouse(tmp_path / "w.db")
    with pytest.raises(WarehouseError) as error:
        wh.query_frame("SELECT nope FROM nowhere")
    assert str(error.value).startswith(f"query failed on {wh.path}: ")
