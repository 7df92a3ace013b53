"""Events files loaded inside DuckDB: rules checked by SQL over DuckDB's reader, rows moved by INSERT ... SELECT.

A row is *settled* when SQL alone can tell the loader's rules accept it and what they store: ids
without whitespace at either end, known event types (spaces or tabs around them are dropped), ISO
timestamps with or without seconds, fractions (up to 9 digits, floored to the second) and a zone (`Z`,
`+HH`, `+HHMM`, `+HH:MM`, converted to UTC), decimal amounts of at most 15 digits with an optional sign
`+` and exponent, no control characters; typed Parquet columns. A file of settled rows only is stored
by one `INSERT ... SELECT` (`write_file`, called by churn/ingest.py). The other rows, the *suspects*, are the only ones that
can be bad or need pandas' reading: `suspect_frames` streams them (with their 1-based file row) in
slices, so churn/ingest.py judges them with its row-by-row validator, whose rules and messages stay the
only source of truth, and `write_file` stores settled rows by SQL and the validated suspects beside them
in one transaction. The SQL settles no row the validator would refuse and stores the very values it
would store (tests/warehouse/test_event_files_sql.py compares both on every form). When the rules skip
unknown event types, rows whose type SQL can tell is unknown are neither settled nor suspects: they are
counted per type and left out; an unknown type in another form is a suspect, and the validator skips it.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from warehouse.duckdb_engine import DuckDBWarehouse, reader_sql
from warehouse.errors import WarehouseError
from warehouse.events_table import EVENT_COLUMNS, LoadResult, WriteMode, write_events_sql

# Python's str.strip() and Unicode's White_Space, C1 controls and the no-break space: never at an id's end.
STRIPPED = r"\x00-\x20\x7f-\xa0\x{1680}\x{180e}\x{2000}-\x{200b}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}"
ID_FORM = rf"(?s)[^{STRIPPED}](.*[^{STRIPPED}])?"
TS_FORM = (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
           r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{0,9})?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?")
TS_LOCAL = r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d)?)?"  # the part before any fraction or zone
TS_ZONE = r"\d\d:\d\d(?::\d\d(?:\.\d*)?)?([+-]\d\d(?::?\d\d)?)$"  # '' for none or Z
AMOUNT_FORM = r"\+?(\d{1,9}(\.\d{0,6})?|\.\d{1,6})([eE][+-]?\d{1,2})?"  # <= 15 digits: one double everywhere
TYPE_SPACE = " \t"
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
PLAIN_TYPE = r"[ \t]*[!-~]+[ \t]*"  # printable ASCII, spaces or tabs around it only: str.strip() trims as SQL does
TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
NUMBER_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER",
                "USMALLINT", "UTINYINT", "HUGEINT")
PLAIN_TYPES = ("VARCHAR", "BOOLEAN", "DATE", *TIMESTAMP_TYPES, *NUMBER_TYPES)
# Types whose pandas dtype does not change with NULLs (an int column with a NULL reads as Int64): a slice
# of such a file reads as the whole file would, so the validator's messages are the same.
SLICE_TYPES = ("VARCHAR", "DOUBLE", "FLOAT", "DATE", *TIMESTAMP_TYPES)
ROW = "_winback_row"
DERIVED = ("_wb_type", "_wb_ts", "_wb_amount", "_wb_local", "_wb_zone")


@dataclass(frozen=True)
class EventRules:
    """The loader's rules, handed over by churn/ingest.py (the vocabulary and limits live there)."""

    event_types: tuple[str, ...]
    rating_event: str
    earliest: datetime
    latest: datetime
    max_amount: float
    skip_unknown: bool = False  # rows of event types outside `event_types` are left out instead of refused


@dataclass(frozen=True)
class EventFile:
    """A readable events file as DuckDB sees it: its reader, column types and the settled-row rule."""

    path: Path
    reader: str
    columns: dict[str, str]
    settled: str | None  # SQL condition of a settled row (over `rows()`); None when the file's types are not handled
    select: str | None  # the stored columns of a settled row, in EVENT_COLUMNS order
    derive: str | None  # the file's rows with the derived columns the rule uses, `{rows}` standing for them
    unknown: str | None = None  # SQL condition of a row SQL can tell is of an unknown type (skip_unknown only)

    def rows(self, source: str | None = None) -> str:
        """The relation the rule reads: `source` (default: the file's reader) with the derived columns."""
        source = source or self.reader
        return self.derive.replace("{rows}", source) if self.derive else source

    @property
    def missing(self) -> list[str]:
        return [c for c in EVENT_COLUMNS[:3] if c not in self.columns]

    @property
    def suspect(self) -> str:
        """SQL condition of a suspect row: neither settled nor an unknown type SQL leaves out."""
        left_out = f" AND NOT COALESCE({self.unknown}, FALSE)" if self.unknown else ""
        return f"NOT COALESCE({self.settled}, FALSE){left_out}"


@dataclass(frozen=True)
class FileCounts:
    """Rows of the file, how many are suspects, and which text columns hold no value at all."""

    rows: int
    suspects: int
    empty_text_columns: tuple[str, ...]
    unknown: int = 0  # rows SQL leaves out as unknown event types (skip_unknown only)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ts_sql(ts_type: str) -> tuple[str, list[str], str]:
    """(form check, columns derived once per row, UTC value floored to the second) of the ts column."""
    if ts_type != "VARCHAR":
        return "ts IS NOT NULL", [], "date_trunc('second', CAST(ts AS TIMESTAMP))"
    # Of the strings TS_FORM matches, those of 10, 16 or 19 characters (':' 17th) have no fraction or zone:
    # they skip the two regular expressions below.
    plain = "(length(ts) IN (10, 16) OR (length(ts) = 19 AND ts[17] = ':'))"
    derived = [f"TRY_CAST(CASE WHEN {plain} THEN ts ELSE regexp_extract(ts, {_literal(TS_LOCAL)}) END AS TIMESTAMP) "
               "AS _wb_local",
               f"CASE WHEN {plain} THEN '' ELSE replace(regexp_extract(ts, {_literal(TS_ZONE)}, 1), ':', '') END "
               "AS _wb_zone"]  # '', '+HH' or '+HHMM'
    minutes = ("(CASE WHEN left(_wb_zone, 1) = '-' THEN -1 ELSE 1 END) * (COALESCE(TRY_CAST(substr(_wb_zone, 2, 2) "
               "AS INTEGER), 0) * 60 + COALESCE(TRY_CAST(substr(_wb_zone, 4, 2) AS INTEGER), 0))")
    return (f"regexp_full_match(ts, {_literal(TS_FORM)}) AND _wb_local IS NOT NULL", derived,
            f"_wb_local - to_minutes({minutes})")


def _plan(columns: dict[str, str], rules: EventRules) -> tuple[str, str, str, str | None] | None:
    """(condition a settled row meets, SELECT list of the stored columns, the derived relation with `{rows}` standing
    for the file's rows, condition of a row SQL leaves out as an unknown type or None), or None when the file's
    types don't fit. Values used by several rules are derived once."""
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
    etype = f"trim(event_type, {_literal(TYPE_SPACE)})"
    earliest = rules.earliest.replace(microsecond=0)
    if earliest < rules.earliest:
        earliest += timedelta(seconds=1)
    # A value floored to the second is at most 1 s below the exact one: settle it only 1 s short of the limit.
    latest = rules.latest - timedelta(seconds=1)
    ts_ok, ts_derived, ts_value = _ts_sql(str(ts_type))
    if amount_type is None:
        amount_ok, amount_value = "TRUE", "0.0"
    elif amount_type == "VARCHAR":
        amount_ok = f"(amount IS NULL OR regexp_full_match(amount, {_literal(AMOUNT_FORM)}))"
        amount_value = "COALESCE(TRY_CAST(amount AS DOUBLE), 0.0)"
    else:
        amount_ok = "(amount IS NULL OR isfinite(CAST(amount AS DOUBLE)))"
        amount_value = "COALESCE(CAST(amount AS DOUBLE), 0.0)"
    inner = ", ".join(["*", *ts_derived])
    derive = (f"(SELECT *, {etype} AS _wb_type, {ts_value} AS _wb_ts, {amount_value} AS _wb_amount "
              f"FROM (SELECT {inner} FROM {{rows}}))")
    conditions = [
        f"user_id IS NOT NULL AND regexp_full_match(user_id, {_literal(ID_FORM)})",
        f"event_type IS NOT NULL AND _wb_type IN ({types})",
        ts_ok,
        f"_wb_ts >= TIMESTAMP {_literal(earliest.isoformat(sep=' '))} "
        f"AND _wb_ts <= TIMESTAMP {_literal(latest.isoformat(sep=' '))}",
        amount_ok,
        f"_wb_amount >= 0 AND _wb_amount <= {rules.max_amount!r}",
        f"(_wb_type <> {_literal(rules.rating_event)} OR _wb_amount BETWEEN 1 AND 5)",
    ]
    conditions += [f'NOT COALESCE(regexp_matches("{c}", {_literal(CONTROL)}), FALSE)'
                   for c, t in columns.items() if t == "VARCHAR"]
    select = ", ".join([
        "user_id", "_wb_type AS event_type", "_wb_ts AS ts", "_wb_amount AS amount",
        *[(f'"{c}"' if c in columns else f"CAST(NULL AS VARCHAR) AS {c}") for c in EVENT_COLUMNS[4:]],
    ])
    # Skipped by SQL only in a form str.strip() trims as SQL's trim does (printable ASCII inside, spaces or tabs
    # around it): the validator would skip it too, under the same name. Any other is a suspect: the validator decides.
    unknown = (f"(event_type IS NOT NULL AND regexp_full_match(event_type, {_literal(PLAIN_TYPE)}) "
               f"AND _wb_type NOT IN ({types}))") if rules.skip_unknown else None
    return " AND ".join(f"({c})" for c in conditions), select, derive, unknown


def inspect_file(warehouse: DuckDBWarehouse, path: Path, rules: EventRules) -> EventFile | None:
    """The file's columns and settled-row rule; None when DuckDB cannot describe it or names a column twice."""
    reader = reader_sql(path)
    try:
        described = warehouse.conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except warehouse.Error:
        return None  # unreadable: the validator reports it
    columns = {str(row[0]): str(row[1]) for row in described}
    if len(columns) != len(described) or any(c in columns for c in (ROW, "ordinality", *DERIVED)):
        return None
    if any(re.search(r'[\x00-\x1f"]', c) for c in columns):  # names SQL would quote badly: the validator's job
        return None
    plan = _plan(columns, rules) if all(c in columns for c in EVENT_COLUMNS[:3]) else None
    settled, select, derive, unknown = plan if plan is not None else (None, None, None, None)
    return EventFile(path, reader, columns, settled, select, derive, unknown)


def count_rows(warehouse: DuckDBWarehouse, file: EventFile) -> FileCounts | None:
    """One pass over the whole file (every column read); None when DuckDB's reader fails on some row."""
    text = [c for c, t in file.columns.items() if t == "VARCHAR"]
    suspects = f"COUNT(*) FILTER (WHERE {file.suspect})" if file.settled else "COUNT(*)"
    unknown = f"COUNT(*) FILTER (WHERE COALESCE({file.unknown}, FALSE))" if file.unknown else "0"
    filled = [f'COUNT("{c}")' for c in file.columns]  # reads every cell, as the validator's reader does
    try:
        row = warehouse.conn.execute(
            f"SELECT COUNT(*), {suspects}, {unknown}, {', '.join(filled)} FROM {file.rows()}").fetchone()
    except warehouse.Error:
        return None
    if row is None:  # an aggregate without GROUP BY always yields one row
        raise WarehouseError(f"counting the rows of {file.path} returned no row")
    counts = dict(zip(file.columns, row[3:]))
    return FileCounts(int(row[0]), int(row[1]), tuple(c for c in text if counts[c] == 0), int(row[2]))


def unknown_type_counts(warehouse: DuckDBWarehouse, file: EventFile) -> dict[str, int]:
    """Rows SQL leaves out, per unknown event type (empty unless the rules skip unknown types)."""
    if not file.unknown:
        return {}
    found = warehouse.conn.execute(
        f"SELECT _wb_type, COUNT(*) FROM {file.rows()} WHERE COALESCE({file.unknown}, FALSE) GROUP BY 1").fetchall()
    return {str(name): int(n) for name, n in found}


def sliceable(file: EventFile) -> bool:
    """Whether a slice of the file reads with the dtypes of the whole (see SLICE_TYPES)."""
    return all(t in SLICE_TYPES for t in file.columns.values())


def suspect_frames(
    warehouse: DuckDBWarehouse, file: EventFile, counts: FileCounts, *, limit: int | None = None,
    slice_rows: int = 100_000,
) -> Iterator[tuple[pd.DataFrame, list[int]]]:
    """The file's suspect rows (or its first `limit` rows) in file order, as read_raw would type them, in slices.

    Each slice comes with the 1-based file row of each of its rows, so an error names the row of the file.
    """
    numbered = (f"(SELECT file_row_number + 1 AS {ROW}, * EXCLUDE (file_row_number) FROM "
                f"{file.reader[:-1]}, file_row_number = true))" if file.reader.startswith("read_parquet(")
                else f"(SELECT ordinality AS {ROW}, * EXCLUDE (ordinality) FROM "
                     f"{file.reader[:-1]}, parallel = false) WITH ORDINALITY)")
    where = f"WHERE {file.suspect}" if file.settled and limit is None else ""
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    cursor = warehouse.conn.cursor()
    try:
        text_dtype = cursor.execute("SELECT 'x'::VARCHAR AS c").df()["c"].dtype  # how the reader types text
        columns = ", ".join([ROW, *(f'"{c}"' for c in file.columns)])  # the file's own, not the derived ones
        result = cursor.execute(f"SELECT {columns} FROM {file.rows(numbered)} {where} ORDER BY {ROW} {tail}")
        vectors = max(1, slice_rows // 2048)
        while True:
            frame = result.fetch_df_chunk(vectors)
            if frame is None or (len(frame) == 0 and limit is None):
                return
            rows = frame.pop(ROW).astype("int64").tolist()
            for column, kind in file.columns.items():  # a column with values reads as text even where a slice has none
                if kind == "VARCHAR" and column not in counts.empty_text_columns:
                    frame[column] = frame[column].astype(text_dtype)
            yield frame, rows
            if limit is not None:
                return
    finally:
        cursor.close()


FILE_FINGERPRINT = "file-sha256:"  # older loads recorded a hash of the parsed content, without this prefix


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes: the same file appended twice is recognised without reading it into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return FILE_FINGERPRINT + digest.hexdigest()


def write_file(
    warehouse: DuckDBWarehouse, file: EventFile, *, source: str, mode: WriteMode,
    suspects: Callable[[], Iterable[pd.DataFrame]] | None = None, only_settled: bool = False,
) -> LoadResult:
    """Store the settled rows by INSERT ... SELECT and the clean frames of `suspects()` beside them, in one transaction.

    Without `suspects` and `only_settled` every row is settled (count_rows said so), and the rule is not evaluated
    a second time; `only_settled` says some rows are left out (unknown event types skipped).
    """
    where = f"WHERE COALESCE({file.settled}, FALSE)" if suspects is not None or only_settled else ""
    return write_events_sql(warehouse, f"SELECT {file.select} FROM {file.rows()} {where}", source=source,
                            fingerprint=file_fingerprint(file.path), mode=mode, batches=suspects or tuple)


def load_plain_file(
    warehouse: DuckDBWarehouse, path: Path, rules: EventRules, *, source: str, mode: WriteMode,
) -> LoadResult | None:
    """Load a file whose every row is settled in one transaction; None (nothing written) for any other file."""
    file = inspect_file(warehouse, path, rules)
    if file is None or file.settled is None:
        return None
    counts = count_rows(warehouse, file)
    if counts is None or counts.rows == 0 or counts.suspects:
        return None
    return write_file(warehouse, file, source=source, mode=mode)
