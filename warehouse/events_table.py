"""The `events` table: its DDL, and bulk writes that are one transaction and idempotent.

Validation of the rows (event vocabulary, timestamps, amounts) happens before, in churn/ingest.py;
this module only stores already-clean frames (ts as ISO text 'YYYY-MM-DDTHH:MM:SS').
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd

from warehouse.engine import Warehouse
from warehouse.errors import WarehouseError

EVENT_COLUMNS = ("user_id", "event_type", "ts", "amount", "item", "category", "channel")
EVENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS events (user_id TEXT NOT NULL, event_type TEXT NOT NULL, ts TEXT NOT NULL, "
    "amount REAL NOT NULL DEFAULT 0, item TEXT, category TEXT, channel TEXT)"
)
LOADS_DDL = (
    "CREATE TABLE IF NOT EXISTS event_loads (source TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
    "rows INTEGER NOT NULL, loaded_at TEXT NOT NULL)"
)
INDEX_DDL = "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts)"
WriteMode = Literal["replace", "append"]


@dataclass(frozen=True)
class LoadResult:
    """What a load did: rows written (0 when the same source was already loaded), and the totals after."""

    source: str
    rows_written: int
    total_rows: int
    skipped: bool

    def to_dict(self) -> dict:
        return asdict(self)


def ensure_events_table(warehouse: Warehouse) -> None:
    """Create the events table, its index and the load log if they are missing."""
    for ddl in (EVENTS_DDL, LOADS_DDL, INDEX_DDL):
        warehouse.conn.execute(ddl)


def write_events(
    warehouse: Warehouse, batches: Iterable[pd.DataFrame], *, source: str, fingerprint: str,
    mode: WriteMode = "replace",
) -> LoadResult:
    """Store clean event batches in one transaction.

    'replace' makes the table hold exactly this source (loading the same file twice gives the same
    table); 'append' adds it unless a source of that name and fingerprint is already there.
    """
    if mode not in ("replace", "append"):
        raise WarehouseError(f"unknown write mode '{mode}'; use 'replace' or 'append'")
    ensure_events_table(warehouse)
    loaded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with warehouse.transaction() as conn:
        if mode == "append":
            seen = conn.execute("SELECT fingerprint FROM event_loads WHERE source = ?", (source,)).fetchone()
            if seen is not None and seen[0] == fingerprint:
                total = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
                return LoadResult(source, 0, int(total), True)
            if seen is not None:
                raise WarehouseError(
                    f"source '{source}' was already appended with other content; reload everything with mode 'replace'"
                )
        else:
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM event_loads")
            conn.execute("DROP INDEX IF EXISTS events_user_ts")  # rebuilt once after the bulk insert
        written = 0
        for batch in batches:
            conn.executemany(
                "INSERT INTO events (user_id, event_type, ts, amount, item, category, channel) VALUES (?, ?, ?, ?, ?, ?, ?)",
                _rows(batch),
            )
            written += len(batch)
        conn.execute(INDEX_DDL)
        conn.execute(
            "INSERT OR REPLACE INTO event_loads (source, fingerprint, rows, loaded_at) VALUES (?, ?, ?, ?)",
            (source, fingerprint, written, loaded_at),
        )
        total = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return LoadResult(source, written, int(total), False)


def _rows(batch: pd.DataFrame) -> Iterable[tuple]:
    """Plain Python tuples (None for missing text) in the table's column order."""
    columns = []
    for name in EVENT_COLUMNS:
        values = batch[name]
        if name == "amount":
            columns.append(values.to_numpy(dtype=np.float64).tolist())
        else:
            arr = values.to_numpy(dtype=object)
            arr[pd.isna(arr)] = None
            columns.append(arr.tolist())
    return zip(*columns)


def event_time_range(warehouse: Warehouse) -> tuple[str | None, str | None]:
    """The first and last event timestamps in the warehouse (None, None when it is empty)."""
    if not warehouse.has_table("events"):
        return None, None
    row = warehouse.conn.execute("SELECT MIN(ts), MAX(ts) FROM events").fetchone()
    return row[0], row[1]
