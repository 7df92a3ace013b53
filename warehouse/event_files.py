"""Events files loaded inside DuckDB: rules checked by SQL over DuckDB's reader, rows moved by INSERT ... SELECT.

The fast path takes a file only when every row is in the plain form the loader's rules accept without
interpretation (ASCII ids without surrounding space, known event types spelled exactly, ISO timestamps
without zone or fractions, plain decimal amounts, no control characters). Any other file, a bad one
included, is left to the row-by-row validator in churn/ingest.py, which stores it or names its first bad
cell (file, 1-based data row, column) as before; so the fast path never accepts a row the validator
would refuse and stores the very values it would store, without a DataFrame of the whole file.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warehouse.duckdb_engine import DuckDBWarehouse, reader_sql
from warehouse.events_table import EVENT_COLUMNS, LoadResult, WriteMode, write_events_sql

ID_FORM = r"[!-~]([ -~]*[!-~])?"  # printable ASCII, no space at either end
TS_FORM = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?"
AMOUNT_FORM = r"\d{1,9}(\.\d{1,6})?"  # at most 15 digits: every reader rounds it to the same double
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
NUMBER_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER",
                "USMALLINT", "UTINYINT", "HUGEINT")
PLAIN_TYPES = ("VARCHAR", "BOOLEAN", "DATE", *TIMESTAMP_TYPES, *NUMBER_TYPES)


@dataclass(frozen=True)
class EventRules:
    """The loader's rules, handed over by churn/ingest.py (the vocabulary and limits live there)."""

    event_types: tuple[str, ...]
    rating_event: str
    earliest: datetime
    latest: datetime
    max_amount: float


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _plan(columns: dict[str, str], rules: EventRules) -> tuple[str, str] | None:
    """(condition every row must meet, SELECT list of the stored columns), or None when the file's types don't fit."""
    if any(t not in PLAIN_TYPES for t in columns.values()):
        return None
    if any(columns.get(c) != "VARCHAR" for c in ("user_id", "event_type")):
        return None
    if any(c in columns and columns[c] != "VARCHAR" for c in ("item", "category", "channel")):
        return None
    ts_type, amount_type = columns.get("ts"), columns.get("amount")
    if ts_type not in ("VARCHAR", *TIMESTAMP_TYPES) or amount_type not in (None, "VARCHAR", *NUMBER_TYPES):
        return None
    types = ", ".join(_literal(t) for t in rules.event_types)
    earliest = f"TIMESTAMP {_literal(rules.earliest.strftime('%Y-%m-%d %H:%M:%S.%f'))}"
    latest = f"TIMESTAMP {_literal(rules.latest.strftime('%Y-%m-%d %H:%M:%S.%f'))}"
    if ts_type == "VARCHAR":
        ts_ok = f"regexp_full_match(ts, {_literal(TS_FORM)}) AND TRY_CAST(ts AS TIMESTAMP) IS NOT NULL"
        ts_value = "TRY_CAST(ts AS TIMESTAMP)"
    else:
        ts_ok = "ts IS NOT NULL"
        ts_value = "CAST(ts AS TIMESTAMP)"
    if amount_type is None:
        amount_ok, amount_value = "TRUE", "0.0"
    elif amount_type == "VARCHAR":
        amount_ok = f"(amount IS NULL OR regexp_full_match(amount, {_literal(AMOUNT_FORM)}))"
        amount_value = "COALESCE(TRY_CAST(amount AS DOUBLE), 0.0)"
    else:
        amount_ok = "(amount IS NULL OR isfinite(CAST(amount AS DOUBLE)))"
        amount_value = "COALESCE(CAST(amount AS DOUBLE), 0.0)"
    conditions = [
        f"user_id IS NOT NULL AND regexp_full_match(user_id, {_literal(ID_FORM)})",
        f"event_type IS NOT NULL AND event_type IN ({types})",
        ts_ok,
        f"{ts_value} >= {earliest} AND {ts_value} <= {latest}",
        amount_ok,
        f"{amount_value} >= 0 AND {amount_value} <= {rules.max_amount!r}",
        f"(event_type <> {_literal(rules.rating_event)} OR {amount_value} BETWEEN 1 AND 5)",
    ]
    conditions += [f'NOT COALESCE(regexp_matches("{c}", {_literal(CONTROL)}), FALSE)'
                   for c, t in columns.items() if t == "VARCHAR"]
    select = ", ".join([
        "user_id", "event_type", f"date_trunc('second', {ts_value}) AS ts", f"{amount_value} AS amount",
        *[(f'"{c}"' if c in columns else f"CAST(NULL AS VARCHAR) AS {c}") for c in EVENT_COLUMNS[4:]],
    ])
    return " AND ".join(f"({c})" for c in conditions), select


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes: the same file appended twice is recognised without reading it into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return "file-sha256:" + digest.hexdigest()


def load_plain_file(
    warehouse: DuckDBWarehouse, path: Path, rules: EventRules, *, source: str, mode: WriteMode,
) -> LoadResult | None:
    """Load a file whose every row is in plain form in one transaction; None (nothing written) for any other file."""
    src = reader_sql(path)
    try:
        described = warehouse.conn.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except warehouse.Error:
        return None  # unreadable: the validator reports it
    columns = {str(row[0]): str(row[1]) for row in described}
    if len(columns) != len(described) or any(c not in columns for c in EVENT_COLUMNS[:3]):
        return None
    plan = _plan(columns, rules)
    if plan is None:
        return None
    condition, select = plan
    try:
        rows, bad = warehouse.conn.execute(
            f"SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT COALESCE({condition}, FALSE)) FROM {src}").fetchone()
    except warehouse.Error:
        return None
    if rows == 0 or bad:
        return None
    return write_events_sql(warehouse, f"SELECT {select} FROM {src}", source=source,
                            fingerprint=file_fingerprint(path), mode=mode)
