"""The `events` table: its typed DDL, and bulk writes that are one transaction and idempotent.

Validation of the rows (event vocabulary, timestamps, amounts) happens before, in churn/ingest.py;
this module only stores already-clean frames (ts as ISO text 'YYYY-MM-DDTHH:MM:SS', cast to TIMESTAMP
on the way in) and never stores an empty load over existing events.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from warehouse.duckdb_engine import DuckDBWarehouse
from warehouse.errors import WarehouseError

EVENT_COLUMNS = ("user_id", "event_type", "ts", "amount", "item", "category", "channel")
TEXT_COLUMNS = ("item", "category", "channel")
TS_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S"
EVENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS events (user_id VARCHAR NOT NULL, event_type VARCHAR NOT NULL, "
    "ts TIMESTAMP NOT NULL, amount DOUBLE NOT NULL DEFAULT 0, item VARCHAR, category VARCHAR, channel VARCHAR)"
)
LOADS_DDL = (
    "CREATE TABLE IF NOT EXISTS event_loads (source VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL, "
    "rows BIGINT NOT NULL, loaded_at VARCHAR NOT NULL)"
)
INSERT_SQL = (
    "INSERT INTO events SELECT CAST(user_id AS VARCHAR), CAST(event_type AS VARCHAR), CAST(ts AS TIMESTAMP), "
    "CAST(amount AS DOUBLE), CAST(item AS VARCHAR), CAST(category AS VARCHAR), CAST(channel AS VARCHAR) "
    "FROM _winback_batch"
)
WriteMode = Literal["replace", "append"]


@dataclass(frozen=True)
class LoadResult:
    """What a load did: rows written (0 when the same source was already loaded), and the totals after.

    `unknown_types` counts the rows left out per unknown event type (only when the load was asked to skip them).
    """

    source: str
    rows_written: int
    total_rows: int
    skipped: bool
    unknown_types: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def ensure_events_table(warehouse: DuckDBWarehouse) -> None:
    """Create the events table and the load log if they are missing."""
    for ddl in (EVENTS_DDL, LOADS_DDL):
        warehouse.execute(ddl)


def write_events(
    warehouse: DuckDBWarehouse, batches: Iterable[pd.DataFrame], *, source: str, fingerprint: str,
    mode: WriteMode = "replace",
) -> LoadResult:
    """Store clean event batches in one transaction.

    'replace' makes the table hold exactly this source (loading the same file twice gives the same
    table); 'append' adds it unless a source of that name and fingerprint is already there. A load
    without a single row is refused and changes nothing.
    """
    def insert(conn) -> int:
        return _insert_frames(conn, batches)

    return _write(warehouse, insert, source=source, fingerprint=fingerprint, mode=mode)


def write_events_sql(
    warehouse: DuckDBWarehouse, select_sql: str, *, source: str, fingerprint: str, mode: WriteMode = "replace",
    batches: Callable[[], Iterable[pd.DataFrame]] = tuple,
) -> LoadResult:
    """Store the rows of a query over clean events (the columns of EVENT_COLUMNS, in order) by INSERT ... SELECT,
    then the clean frames `batches()` yields (made inside the transaction, so they may stream), as one load."""
    def insert(conn) -> int:
        written = int(conn.execute(f"INSERT INTO events {select_sql}").fetchone()[0])
        return written + _insert_frames(conn, batches())

    return _write(warehouse, insert, source=source, fingerprint=fingerprint, mode=mode)


def _insert_frames(conn, batches: Iterable[pd.DataFrame]) -> int:
    """Insert clean frames through a registered view; the number of rows inserted."""
    written = 0
    for batch in batches:
        frame = batch.reindex(columns=list(EVENT_COLUMNS))
        conn.register("_winback_batch", frame)
        try:
            conn.execute(INSERT_SQL)
        finally:
            conn.unregister("_winback_batch")
        written += len(batch)
    return written


def _write(warehouse: DuckDBWarehouse, insert: Callable, *, source: str, fingerprint: str, mode: WriteMode) -> LoadResult:
    """One transaction: the replace/append rule, the rows written by `insert(conn)`, the load log."""
    if mode not in ("replace", "append"):
        raise WarehouseError(f"unknown write mode '{mode}'; use 'replace' or 'append'")
    ensure_events_table(warehouse)
    loaded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with warehouse.transaction() as conn:
        if mode == "append":
            seen = conn.execute("SELECT fingerprint FROM event_loads WHERE source = ?", [source]).fetchone()
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
        try:
            written = insert(conn)
        except warehouse.Error as error:
            raise WarehouseError(f"cannot store the events of '{source}' in {warehouse.path}: {error}") from error
        if written == 0:
            raise WarehouseError(f"source '{source}' holds no events; the warehouse was left unchanged")
        conn.execute(
            "INSERT OR REPLACE INTO event_loads (source, fingerprint, rows, loaded_at) VALUES (?, ?, ?, ?)",
            [source, fingerprint, written, loaded_at],
        )
        total = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return LoadResult(source, written, int(total), False)


def recorded_fingerprint(warehouse: DuckDBWarehouse, source: str) -> str | None:
    """The fingerprint the load log holds for a source (None if it was never loaded)."""
    if not warehouse.has_table("event_loads"):
        return None
    found = warehouse.scalar("SELECT fingerprint FROM event_loads WHERE source = :source", {"source": source})
    return None if found is None else str(found)


def event_time_range(warehouse) -> tuple[str | None, str | None]:
    """The first and last event timestamps as ISO text (None, None when there are none); any engine."""
    if not warehouse.has_table("events"):
        return None, None
    row = warehouse.query_frame("SELECT MIN(ts) AS first_ts, MAX(ts) AS last_ts FROM events").iloc[0]
    return tuple(None if pd.isna(v) else pd.Timestamp(v).strftime(TS_TEXT_FORMAT) for v in row)  # type: ignore[return-value]
