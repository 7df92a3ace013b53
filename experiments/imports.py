"""Importing deliveries and outcomes from CSV/Parquet without losing anything.

Each file is validated whole (columns, numbers, timestamps, known experiment, assigned user, no key
clash) and written in one transaction, so bad input leaves the registry exactly as it was. Rows are
keyed naturally; re-importing the same file inserts nothing (idempotent). Row numbers in errors count
data rows from 1, the header excluded.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from common.errors import InputRowError
from common.settings import resolve_actor
from experiments import import_rules
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ImportDataError
from experiments.identity import check_ids
from experiments.import_batches import ImportBatch, list_imports, undo_import  # noqa: F401 (their old home)
from experiments.lookup import unknown_name
from experiments.mirror_upkeep import refresh_mirror
from experiments.table_files import read_text_table


@dataclass(frozen=True)
class TableSpec:
    """How one registry table is imported: its columns, natural key and column types."""

    table: str
    required: tuple[str, ...]
    optional: dict[str, str | None]
    key: tuple[str, ...]
    numeric: tuple[str, ...]
    timestamps: tuple[str, ...]
    non_negative: tuple[str, ...] = ()
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    stamped_if_blank: tuple[str, ...] = ()  # timestamps set to the import time when the file leaves them out
    identities: tuple[str, ...] = ("experiment_key", "user_id")  # matched exactly (experiments/identity.py)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + tuple(self.optional)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)


DELIVERIES = TableSpec(
    table="deliveries",
    required=("experiment_key", "user_id", "treatment_key", "sent_at", "cost"),
    optional={"channel": None},
    key=("experiment_key", "user_id", "treatment_key", "sent_at"),
    numeric=("cost",),
    timestamps=("sent_at",),
    non_negative=("cost",),
    identities=("experiment_key", "user_id", "treatment_key"),
)
OUTCOMES = TableSpec(
    table="outcomes",
    required=("experiment_key", "user_id", "metric", "value"),
    optional={"period": "post", "observed_at": None},
    key=("experiment_key", "user_id", "metric", "period"),
    numeric=("value",),
    timestamps=("observed_at",),
    choices=(("period", ("pre", "post")),),
    stamped_if_blank=("observed_at",),
    identities=("experiment_key", "user_id", "metric"),
)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: rows read, new rows written, rows already present."""

    path: str
    table: str
    rows_read: int
    inserted: int
    unchanged: int
    import_id: int | None = None
    notes: tuple[str, ...] = ()  # things worth a look that did not stop the import

    def to_dict(self) -> dict:
        return asdict(self)


def read_table_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file as text cells (leading zeros and spaces kept), or raise naming file and row."""
    return read_text_table(path, error=ImportDataError)


def _fail(path: str, frame: pd.DataFrame, mask: np.ndarray | pd.Series, column: str, problem: str) -> None:
    """Raise for the first row where `mask` holds, quoting its value."""
    bad = np.flatnonzero(np.asarray(mask))
    if bad.size:
        i = int(bad[0])
        raise ImportDataError(path, i + 1, column, problem.format(value=frame[column].iloc[i]))


def _ignored_columns_notes(frame: pd.DataFrame, spec: TableSpec) -> tuple[str, ...]:
    """A note per column Winback does not read, naming the optional column it may be a misspelling of (a file
    with 'observed' instead of 'observed_at' would otherwise lose its timestamps without a word)."""
    known = [*spec.required, *spec.optional]
    notes = []
    absent = [c for c in known if c not in frame.columns]
    for column in (str(c) for c in frame.columns if c not in known):
        close = difflib.get_close_matches(column, absent, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        notes.append(f"column '{column}' is not one Winback reads{hint}; it was ignored")
    return tuple(notes)


def validate_frame(frame: pd.DataFrame, spec: TableSpec, path: str) -> pd.DataFrame:
    """Check columns and values, normalise timestamps, and return the rows to write (duplicates folded)."""
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        spare = [str(c) for c in frame.columns if c not in spec.required and c not in spec.optional]
        close = difflib.get_close_matches(missing[0], spare, n=1, cutoff=0.6)
        hint = f" (is '{close[0]}' a misspelling of it?)" if close else ""
        raise ImportDataError(
            path, None, missing[0],
            f"missing required column{hint}; the file has: {', '.join(map(str, frame.columns)) or 'none'}"
        )
    frame = frame.copy()
    for column, default in spec.optional.items():
        if column not in frame.columns:
            frame[column] = default if default is not None else ""
    frame = frame[list(spec.columns)].astype(object)
    for column in spec.identities:  # ids and keys are exact: never stripped, refused when not clean
        check_ids(frame[column], path, column)
    others = [c for c in spec.columns if c not in spec.identities]
    frame[others] = frame[others].fillna("").astype(str).apply(lambda s: s.str.strip())
    for column in spec.required:
        _fail(path, frame, frame[column].eq(""), column, "empty value")
    for column in spec.numeric:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        _fail(path, frame, numbers.isna() | ~np.isfinite(numbers.fillna(0)), column, "not a number: '{value}'")
        _fail(path, frame, numbers.abs() > import_rules.MAX_ABS_VALUE, column,
              f"'{{value}}' is larger than {import_rules.MAX_ABS_VALUE:g} in size (its square would overflow the sums)")
        if column in spec.non_negative:
            _fail(path, frame, numbers < 0, column, "must be >= 0, got {value}")
        frame[column] = numbers.astype(float)
    for column in spec.timestamps:
        given = frame[column].ne("")
        parsed = pd.to_datetime(frame[column].where(given), format="ISO8601", utc=True, errors="coerce")
        _fail(path, frame, given & parsed.isna(), column, "not an ISO-8601 timestamp: '{value}'")
        text = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        frame[column] = text.where(given, None)
    for column, allowed in spec.choices:
        _fail(path, frame, ~frame[column].isin(allowed), column, f"'{{value}}' is not one of {', '.join(allowed)}")
    for column, default in spec.optional.items():
        if default is None:
            frame[column] = frame[column].replace("", None)
    # Same key twice in one file: fine when the rows agree, an error when they do not.
    duplicated = frame.duplicated(list(spec.key), keep=False)
    if duplicated.any():
        clash = frame[duplicated].groupby(list(spec.key), sort=False)[list(spec.values)].nunique(dropna=False)
        clashing = clash[(clash > 1).any(axis=1)]
        if len(clashing):
            key = clashing.index[0]
            rows = np.flatnonzero((frame[list(spec.key)] == pd.Series(key, index=list(spec.key))).all(axis=1))
            column = next(c for c in spec.values if clashing.iloc[0][c] > 1)
            raise ImportDataError(
                path, int(rows[1]) + 1, column,
                f"duplicate key {dict(zip(spec.key, key))} with a different value than row {int(rows[0]) + 1}",
            )
    frame["_row"] = np.arange(1, len(frame) + 1)
    return frame.drop_duplicates(list(spec.key), keep="first")


class _PreviewDone(Exception):
    """Raised inside the import transaction of a preview so that everything it wrote rolls back."""

    def __init__(self, summary: ImportSummary):
        super().__init__("preview")
        self.summary = summary


def import_file(path: str | os.PathLike[str], spec: TableSpec, db: RegistryLike = None,
                actor: str | None = None, *, source: str | None = None, preview: bool = False) -> ImportSummary:
    """Validate and write one file into `spec.table` in a single transaction, as one undoable import batch.

    `source` names the file in messages and the batch (a web upload's own name, not its temporary path);
    `preview` runs every check and counts what would be new, then rolls back: nothing is written."""
    if source is None:
        return _import_file(path, spec, db, actor, str(path), preview)
    try:
        return _import_file(path, spec, db, actor, source, preview)
    except InputRowError as error:
        if error.source == str(path):
            raise ImportDataError(source, error.row, error.column, error.problem.replace(str(path), source)) from None
        raise


def _import_file(path: str | os.PathLike[str], spec: TableSpec, db: RegistryLike, actor: str | None,
                 path_text: str, preview: bool) -> ImportSummary:
    frame = read_table_file(path)
    ignored = _ignored_columns_notes(frame, spec)
    rows = validate_frame(frame, spec, path_text)
    database = open_registry(db)
    columns = list(spec.columns)
    try:
        return _write(database, rows, columns, spec, path_text, ignored, actor, preview)
    except _PreviewDone as done:  # the transaction rolled back: a preview leaves the registry as it was
        return done.summary


def _write(database, rows: pd.DataFrame, columns: list[str], spec: TableSpec, path_text: str,
           ignored: tuple[str, ...], actor: str | None, preview: bool) -> ImportSummary:
    with transaction(database) as conn:
        conn.execute(f"CREATE TEMP TABLE staging ({', '.join(columns)}, _row INTEGER)")
        try:
            placeholders = ", ".join("?" for _ in range(len(columns) + 1))
            conn.executemany(
                f"INSERT INTO staging VALUES ({placeholders})",
                rows[columns + ["_row"]].itertuples(index=False, name=None),
            )
            _check_references(conn, spec, path_text)
            _check_conflicts(conn, spec, path_text)
            import_rules.check_staged(conn, spec.table, spec.timestamps, path_text)
            notes = ignored + import_rules.early_deliveries_note(conn, spec.table)
            now, who = utc_now(), resolve_actor(actor)
            for column in spec.stamped_if_blank:
                conn.execute(f"UPDATE staging SET {column} = ? WHERE {column} IS NULL", (now,))
            keys = [r[0] for r in conn.execute("SELECT DISTINCT experiment_key FROM staging ORDER BY 1")]
            batch = conn.execute(
                "INSERT INTO import_batches (kind, source, experiment_keys, rows_read, inserted, imported_at, "
                "imported_by) VALUES (?, ?, ?, ?, 0, ?, ?)",
                (spec.table, path_text, json.dumps(keys), len(rows), now, who),
            ).lastrowid
            before = conn.total_changes
            conn.execute(
                f"INSERT OR IGNORE INTO {spec.table} ({', '.join(columns)}, import_id) "
                f"SELECT {', '.join(columns)}, ? FROM staging", (batch,)
            )
            inserted = conn.total_changes - before
            per_experiment = dict(conn.execute(
                f"SELECT experiment_key, COUNT(*) FROM {spec.table} WHERE import_id = ? GROUP BY 1", (batch,)))
            conn.execute("UPDATE import_batches SET inserted = ? WHERE id = ?", (inserted, batch))
        finally:
            conn.execute("DROP TABLE IF EXISTS temp.staging")
        summary = ImportSummary(path_text, spec.table, len(rows), inserted, len(rows) - inserted,
                                None if preview or batch is None else int(batch), notes)
        if preview:
            raise _PreviewDone(summary)
        for key in keys:
            detail = {**summary.to_dict(), "experiment_rows": int(per_experiment.get(key, 0))}
            audit(conn, f"import {spec.table}", "experiment", key, json.dumps(detail), who)
    refresh_mirror(database.conn)  # the next analysis then reads the new rows without copying them first
    return summary


def _first_bad(conn, sql: str, path: str, column: str, problem: str) -> None:
    row = conn.execute(sql).fetchone()
    if row is not None:
        raise ImportDataError(path, int(row[0]), column, problem.format(*row[1:]))


def _check_references(conn, spec: TableSpec, path: str) -> None:
    """Every row must name a known experiment and a user assigned in it (deliveries: a treatment of one of its
    arms; pre-period outcomes: observed before the assignment)."""
    _first_bad(
        conn,
        "SELECT _row, experiment_key FROM staging WHERE experiment_key NOT IN (SELECT key FROM experiments) ORDER BY _row LIMIT 1",
        path, "experiment_key", "unknown experiment '{}'",
    )
    _first_bad(
        conn,
        "SELECT s._row, s.user_id, s.experiment_key FROM staging s LEFT JOIN assignments a "
        "ON a.experiment_key = s.experiment_key AND a.user_id = s.user_id WHERE a.user_id IS NULL ORDER BY s._row LIMIT 1",
        path, "user_id", "user '{}' is not assigned in experiment '{}'",
    )
    if spec is OUTCOMES:
        bad = conn.execute(
            "SELECT _row, metric FROM staging WHERE metric NOT IN (SELECT key FROM metrics) ORDER BY _row LIMIT 1"
        ).fetchone()
        if bad is not None:
            known = [r[0] for r in conn.execute("SELECT key FROM metrics")]
            message = str(unknown_name("metric", bad[1], known, "declare it first with `winback metric add`"))
            raise ImportDataError(path, int(bad[0]), "metric", message)
        # A binary metric (as frozen when the experiment started, else as declared) takes 0 or 1: anything else
        # would be imported and then stop every analysis of the experiment.
        _first_bad(
            conn,
            "SELECT s._row, s.metric, s.value FROM staging s JOIN experiments e ON e.key = s.experiment_key "
            "JOIN metrics m ON m.key = s.metric WHERE s.value NOT IN (0.0, 1.0) AND COALESCE("
            "json_extract(e.metric_kinds, '$.\"' || s.metric || '\".kind'), m.kind) = 'binary' ORDER BY s._row LIMIT 1",
            path, "value", "metric '{}' is binary: a value must be 0 or 1 (yes or no), got {:g}",
        )
        # A pre-period value (the CUPED covariate) must predate the assignment, or it may carry the effect.
        _first_bad(
            conn,
            "SELECT _row FROM staging WHERE period = 'pre' AND observed_at IS NULL ORDER BY _row LIMIT 1",
            path, "observed_at", "a pre-period value needs observed_at, to show it was measured before assignment",
        )
        _first_bad(
            conn,
            "SELECT s._row, s.observed_at, a.assigned_at FROM staging s JOIN assignments a "
            "ON a.experiment_key = s.experiment_key AND a.user_id = s.user_id "
            "WHERE s.period = 'pre' AND s.observed_at > a.assigned_at ORDER BY s._row LIMIT 1",
            path, "observed_at", "pre-period value observed at {} is after the user's assignment at {}",
        )
    if spec is DELIVERIES:
        _first_bad(
            conn,
            "SELECT s._row, s.treatment_key, s.experiment_key FROM staging s LEFT JOIN arms r "
            "ON r.experiment_key = s.experiment_key AND r.treatment_key = s.treatment_key "
            "WHERE r.arm_key IS NULL ORDER BY s._row LIMIT 1",
            path, "treatment_key", "treatment '{}' is not given by any arm of experiment '{}'",
        )


def _check_conflicts(conn, spec: TableSpec, path: str) -> None:
    """A row whose key is already stored must carry the same value (re-imports are no-ops, not edits).

    An optional column the file leaves blank or out (a delivery's channel) says nothing, so it never clashes:
    re-importing deliveries exported without their channel finds them already present."""
    join = " AND ".join(f"t.{c} = s.{c}" for c in spec.key)
    for column in spec.values:
        if column in spec.stamped_if_blank:
            continue  # when an outcome was observed is metadata; the value decides a clash
        differs = f"NOT (t.{column} IS s.{column})"
        if column in spec.numeric:
            differs = f"ABS(t.{column} - s.{column}) > 1e-9 * MAX(1, ABS(t.{column}))"
        if spec.optional.get(column, "") is None:
            differs += f" AND s.{column} IS NOT NULL"
        row = conn.execute(
            f"SELECT s._row, COALESCE(t.{column}, '(blank)'), COALESCE(s.{column}, '(blank)'), t.import_id "
            f"FROM staging s JOIN {spec.table} t ON {join} WHERE {differs} ORDER BY s._row LIMIT 1").fetchone()
        if row is not None:
            fix = "" if row[3] is None else (
                f"; an import never changes stored rows: to replace them, `winback import undo {row[3]}` first")
            raise ImportDataError(path, int(row[0]), column, "duplicate key with a different value: the registry "
                                  f"has '{row[1]}', the file has '{row[2]}'{fix}")


def import_deliveries(path: str | os.PathLike[str], db: RegistryLike = None,
                      actor: str | None = None, **options: Any) -> ImportSummary:
    """Import deliveries (what was actually sent, when, at what cost); options as `import_file`'s."""
    return import_file(path, DELIVERIES, db, actor, **options)


def import_outcomes(path: str | os.PathLike[str], db: RegistryLike = None, actor: str | None = None,
                    **options: Any) -> ImportSummary:
    """Import outcomes (user, metric, value, period pre|post, observed at); options as `import_file`'s."""
    return import_file(path, OUTCOMES, db, actor, **options)


SPECS: dict[str, TableSpec] = {"deliveries": DELIVERIES, "outcomes": OUTCOMES}

