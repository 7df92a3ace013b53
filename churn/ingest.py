"""Reading behaviour events from CSV, Parquet or a DataFrame, validating them, and loading the warehouse.

Every check is vectorized; the first bad row is reported with its file, 1-based data row (the header
does not count: row 1 is the first line under it) and column, so the user can fix the file. Files load
inside DuckDB (warehouse/event_files.py); these checks see only the rows SQL cannot settle (`_load_file`).

Event types outside warehouse.event_vocabulary.EVENT_TYPES refuse the file by default; with `unknown_events="skip"` their rows
are left out (counted per type in the LoadResult) and every other row is judged as before, on both paths.
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from warehouse.duckdb_engine import read_raw
from warehouse.engine import Warehouse, open_warehouse
from warehouse.errors import DataError, WarehouseError
from warehouse.event_files import (
    FILE_FINGERPRINT,
    EventRules,
    count_rows,
    inspect_file,
    sliceable,
    suspect_frames,
    unknown_type_counts,
    write_file,
)
from warehouse.event_vocabulary import EVENT_TYPES, RATING_EVENT, REQUIRED_COLUMNS
from warehouse.events_table import EVENT_COLUMNS, TEXT_COLUMNS, LoadResult, recorded_fingerprint, write_events
from warehouse.events_table import TS_TEXT_FORMAT as TS_FORMAT

EventSource = str | os.PathLike[str] | pd.DataFrame
EARLIEST_EVENT = pd.Timestamp("1970-01-01")  # the registry's rule too (experiments/import_rules.py)
MAX_AMOUNT = 1e15
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
UNKNOWN_EVENTS = ("refuse", "skip")  # what a load does with rows of event types Winback does not know
UnknownEvents = Literal["refuse", "skip"]
SKIP_HINT = "load with --unknown-events skip (Python: unknown_events='skip') to leave rows of unknown types out"


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an events file (.csv, .csv.gz or .parquet) with DuckDB's readers (CSV cells as text), then validate it."""
    return _as_text(_read_typed(path))


def _read_typed(path: str | os.PathLike[str], skipped: Counter | None = None) -> pd.DataFrame:
    """Clean events of a file with ts as datetime64 (what the warehouse stores; no text round trip).

    With a `skipped` counter, rows of unknown event types are left out and counted there (see _typed_events)."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), None, None, "file not found")
    _check_csv_header(path)
    return _typed_events(read_raw(path), str(path), skipped=skipped)  # unreadable files raise DataError there


def _check_csv_header(path: Path) -> None:
    """A CSV header naming a column twice is refused (a reader would rename or drop one silently)."""
    if path.name.lower().endswith((".parquet", ".pq")):
        return
    import csv
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, csv.Error, EOFError):
        return  # read_raw reports unreadable files
    if not [name for name in header if name.strip("\ufeff ")]:  # DuckDB's reader would name a made-up column 'column0' as the only one there is
        raise DataError(str(path), None, None, "is empty (no header line, no events); nothing was loaded "
                        "and the warehouse was left unchanged")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(str(path), None, name, "the header names this column twice")
        seen.add(name)


def _as_text(clean: pd.DataFrame) -> pd.DataFrame:
    """The clean frame with ts as ISO text 'YYYY-MM-DDTHH:MM:SS'."""
    return clean.assign(ts=clean["ts"].dt.strftime(TS_FORMAT))


def validate_events(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Clean event rows (ts as ISO text, amount 0 where missing) or a DataError naming the first bad cell."""
    return _as_text(_typed_events(raw, source))


class BadCell(DataError):
    """The first bad cell of a frame, with `check`: the rank of the rule it breaks (rules run in a fixed order)."""

    def __init__(self, source: str, row: int, column: str, problem: str, check: int):
        super().__init__(source, row, column, problem)
        self.check = check


class _FirstBad:
    """Raises BadCell for the first row a rule refuses; counts the rules asked, and maps positions to file rows."""

    def __init__(self, source: str, rows: list[int] | None):
        self.source, self.rows, self.checks = source, rows, 0

    def __call__(self, column: str, bad: pd.Series | np.ndarray, values: pd.Series, message: str) -> None:
        self.checks += 1
        mask = np.asarray(bad, dtype=bool)
        if mask.any():
            i = int(np.argmax(mask))
            row = self.rows[i] if self.rows is not None else i + 1
            raise BadCell(self.source, row, column, message.format(value=values.iloc[i]), self.checks)


def _typed_events(raw: pd.DataFrame, source: str, *, rows: list[int] | None = None,
                  latest: pd.Timestamp | None = None, skipped: Counter | None = None) -> pd.DataFrame:
    """validate_events with ts kept as datetime64 (UTC, naive).

    `rows` are the file rows of a slice of a file (row numbers in errors); `latest` the newest plausible
    event time, fixed once per load so a file's slices are judged alike. With a `skipped` counter, rows whose
    event type (trimmed, not empty) is unknown are left out before any rule, counted per type there; an empty
    event type is still refused.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(source, None, missing[0], f"required column is missing (have: {', '.join(map(str, raw.columns))})")
    if len(raw) == 0:
        raise DataError(source, None, None, "holds no events (only a header or nothing); nothing was loaded "
                        "and the warehouse was left unchanged")
    raw = raw.reset_index(drop=True)
    if skipped is not None:
        raw, rows = _without_unknown(raw, rows, skipped)
    _first_bad = _FirstBad(source, rows)
    user = raw["user_id"]
    _first_bad("user_id", user.isna() | (user.astype(str).str.strip() == ""), raw["user_id"], "user id is empty")
    ids = user.astype("str")
    # One identity rule everywhere (experiments/identity.py): ids are compared byte for byte, never trimmed.
    _first_bad("user_id", ids.str.strip() != ids, ids,
               "user id {value!r} has leading or trailing whitespace; ids are matched exactly, so fix the file")
    for column in [c for c in raw.columns if raw[c].dtype == object or pd.api.types.is_string_dtype(raw[c])]:
        text = raw[column].astype("str").where(raw[column].notna(), "")
        _first_bad(str(column), text.str.contains(CONTROL_CHARACTERS, regex=True), text,
                   "{value!r} holds a control character (a NUL or similar byte: the file is damaged or binary)")
    etype = raw["event_type"].astype("str").str.strip()
    unknown = ~etype.isin(EVENT_TYPES)
    _first_bad("event_type", unknown, etype,
               "unknown event type {value!r}; known types: " + ", ".join(EVENT_TYPES) + f"; or {SKIP_HINT}")
    ts = _timestamps(raw["ts"])
    _first_bad("ts", ts.isna(), raw["ts"],
               "{value!r} is not a timestamp; use ISO 8601 such as 2026-06-30 or 2026-06-30T14:05:00")
    latest = _latest_event() if latest is None else latest
    _first_bad("ts", (ts < EARLIEST_EVENT) | (ts > latest), raw["ts"],
               f"{{value!r}} is outside the plausible range {EARLIEST_EVENT.date()} .. {latest.date()} "
               "(a wrong date format or a placeholder date?)")
    if "amount" in raw.columns:
        text = raw["amount"]
        amount = pd.to_numeric(text, errors="coerce")
        _first_bad("amount", amount.isna() & text.notna(), text, "{value!r} is not a number")
        amount = amount.fillna(0.0).astype(float)
        _first_bad("amount", ~np.isfinite(amount), text, "{value!r} is not a finite number")
        _first_bad("amount", amount.abs() > MAX_AMOUNT, text,
                   f"{{value!r}} is beyond the largest plausible amount ({MAX_AMOUNT:g})")
        _first_bad("amount", amount < 0, text,
                   "negative amount {value} makes no sense (refunds and discounts are positive amounts)")
        stars = etype == RATING_EVENT
        _first_bad("amount", stars & ((amount < 1) | (amount > 5)), text.astype(object).where(text.notna(), "nothing"),
                   "a rating's amount is its stars and must be between 1 and 5, got {value}")
    else:
        amount = pd.Series(0.0, index=raw.index)
    clean = pd.DataFrame({
        "user_id": ids,
        "event_type": etype,
        "ts": ts.dt.floor("s").to_numpy(dtype="datetime64[us]"),  # whole seconds, as the text form
        "amount": amount.to_numpy(dtype=float),
    })
    for column in TEXT_COLUMNS:  # optional: a file without them loads with NULLs
        if column in raw.columns:
            clean[column] = raw[column].astype("str").where(raw[column].notna())
        else:
            clean[column] = pd.Series([None] * len(clean), index=clean.index, dtype="object")
    return clean[list(EVENT_COLUMNS)]


def _without_unknown(raw: pd.DataFrame, rows: list[int] | None,
                     skipped: Counter) -> tuple[pd.DataFrame, list[int] | None]:
    """The rows of known (or empty) event types, with their file rows; the others counted per type in `skipped`."""
    etype = raw["event_type"].astype("str").str.strip()
    unknown = raw["event_type"].notna() & (etype != "") & ~etype.isin(EVENT_TYPES)
    if not unknown.any():
        return raw, rows
    skipped.update(etype[unknown].value_counts().to_dict())
    kept = np.flatnonzero(~unknown.to_numpy())
    numbers = [rows[i] for i in kept] if rows is not None else (kept + 1).tolist()
    return raw.iloc[kept].reset_index(drop=True), numbers


def describe_unknown(counts: dict[str, int], top: int = 5) -> str:
    """One line for a person: how many rows of which unknown event types a load left out (the `top` most common)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{name} {n:,}" for name, n in ranked[:top])
    more = len(ranked) - top
    kinds = "type" if len(ranked) == 1 else "types"
    return (f"skipped {sum(counts.values()):,} rows of {len(ranked)} unknown event {kinds}: {shown}"
            + (f", and {more} more type{'s' if more > 1 else ''}" if more > 0 else ""))


def _latest_event() -> pd.Timestamp:
    """Tomorrow (UTC, naive): a later event time is a wrong format or a placeholder."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)


def _rules(latest: pd.Timestamp | None = None, *, skip_unknown: bool = False) -> EventRules:
    """The rules above for the SQL fast path (warehouse/event_files.py)."""
    latest = _latest_event() if latest is None else latest
    return EventRules(EVENT_TYPES, RATING_EVENT, EARLIEST_EVENT.to_pydatetime(), latest.to_pydatetime(), MAX_AMOUNT,
                      skip_unknown)


def _timestamps(values: pd.Series) -> pd.Series:
    """Parse ISO dates/times (time zones converted to UTC, then dropped); NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed
    parsed = pd.to_datetime(values.astype("str").str.strip(), errors="coerce", format="ISO8601", utc=True)
    return parsed.dt.tz_localize(None)


def fingerprint_events(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of clean events, so re-loading identical data is recognised."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def load_events(
    source: EventSource,
    warehouse: str | os.PathLike[str] | Warehouse | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
    name: str | None = None,
    mode: Literal["replace", "append"] = "replace",
    batch_rows: int = 500_000,
    unknown_events: UnknownEvents = "refuse",
) -> LoadResult:
    """Validate events from a file or frame and store them in the warehouse in one transaction.

    `unknown_events` 'refuse' (the default) refuses the source at the first unknown event type; 'skip' leaves such
    rows out and counts them per type in the result's `unknown_types` (describe_unknown words them).
    """
    if unknown_events not in UNKNOWN_EVENTS:
        raise WarehouseError(f"unknown_events must be one of {', '.join(UNKNOWN_EVENTS)}, got {unknown_events!r}")
    skipped: Counter | None = Counter() if unknown_events == "skip" else None
    if isinstance(source, pd.DataFrame):
        label = name or "events frame"
        clean = _typed_events(source, label, skipped=skipped)
    else:
        path, label = Path(source), name or str(source)
        if path.exists():
            _check_csv_header(path)
            done = _load_file(open_warehouse(warehouse, db), path, label, mode, skip=skipped is not None)
            if done is not None:
                return done
        skipped = Counter() if skipped is not None else None  # a fresh count: the SQL path may have counted some
        clean = _read_typed(source, skipped)  # DuckDB could not settle it: validated whole, errors name the cell
    _refuse_only_unknown(label, len(clean), skipped)
    wh = open_warehouse(warehouse, db)
    starts = range(0, len(clean), batch_rows)
    batches = (clean.iloc[i: i + batch_rows] for i in tqdm(starts, desc="load events", unit="batch", disable=None))
    result = write_events(wh, batches, source=label, fingerprint=fingerprint_events(clean), mode=mode)
    return replace(result, unknown_types=dict(skipped or {}))


def _refuse_only_unknown(label: str, known_rows: int, skipped: Counter | None) -> None:
    """A source whose every row is of an unknown type loads nothing: say so, not just 'holds no events'."""
    if skipped and known_rows == 0:
        raise DataError(label, None, "event_type", f"holds no event of a known type ({describe_unknown(skipped)}); "
                        "nothing was loaded and the warehouse was left unchanged")


def _load_file(wh: Warehouse, path: Path, label: str, mode: Literal["replace", "append"], *,
               skip: bool = False) -> LoadResult | None:
    """Load a file inside DuckDB, pandas seeing only its suspect rows; None when the whole file must be read.

    SQL settles the rows in the common forms (warehouse/event_files.py); only the others can break a rule,
    so the validator judges them alone, slice by slice, with their file rows. Its rules run in a fixed
    order and it reports the first rule any row breaks, at the first such row: across slices that is the
    smallest (rule, row), the very error a read of the whole file gives.
    """
    if mode == "append" and not (recorded_fingerprint(wh, label) or FILE_FINGERPRINT).startswith(FILE_FINGERPRINT):
        return None  # appended before files were fingerprinted by their bytes: the content fingerprint recognises it
    latest = _latest_event()
    file = inspect_file(wh, path, _rules(latest, skip_unknown=skip))
    counts = count_rows(wh, file) if file is not None else None
    if file is None or counts is None:
        return None  # DuckDB's reader fails on the file or some row: read_raw names the problem
    skipped: Counter | None = Counter(unknown_type_counts(wh, file)) if skip else None
    if file.settled is not None and counts.rows and not counts.suspects:
        _refuse_only_unknown(label, counts.rows - counts.unknown, skipped)
        done = write_file(wh, file, source=label, mode=mode, only_settled=counts.unknown > 0)
        return replace(done, unknown_types=dict(skipped or {}))
    if file.missing or counts.rows == 0:  # the first row (or none) tells: a column is missing, or no events
        frame, _ = next(suspect_frames(wh, file, counts, limit=1))
        _typed_events(frame, label, latest=latest)
    if file.settled is None or not sliceable(file):
        return None
    first: BadCell | None = None
    known = counts.rows - counts.unknown
    for frame, rows in suspect_frames(wh, file, counts):
        try:
            before = sum(skipped.values()) if skipped is not None else 0
            _typed_events(frame, label, rows=rows, latest=latest, skipped=skipped)
        except BadCell as bad:
            if first is None or (bad.check, bad.row) < (first.check, first.row):
                first = bad
        finally:
            known -= (sum(skipped.values()) - before) if skipped is not None else 0
    if first is not None:
        raise DataError(first.source, first.row, first.column, first.problem)
    _refuse_only_unknown(label, known, skipped)

    def clean_suspects() -> Iterator[pd.DataFrame]:
        for frame, rows in suspect_frames(wh, file, counts):
            yield _typed_events(frame, label, rows=rows, latest=latest, skipped=Counter() if skip else None)

    done = write_file(wh, file, source=label, mode=mode, suspects=clean_suspects)
    return replace(done, unknown_types=dict(skipped or {}))
