"""Copying a rowid range of a registry table into a Parquet file, for the fact mirror (experiments/fact_mirror.py).

Small ranges are read through the caller's own sqlite3 connection. Large ones are read by ADBC's SQLite driver
(Arrow columns built in C, several times faster than Python tuples) in a child process: ADBC links its own copy of
SQLite, and two copies in one process break each other's file locks (sqlite.org/howtocorrupt.html, section 2.2).
"""
from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.errors import ExperimentError

if TYPE_CHECKING:  # pyarrow is imported when rows are copied, so listing commands start without it
    import pyarrow as pa

IN_PROCESS_ROWS = 200_000  # below this many rows, starting a child process costs more than it saves
ROW_GROUP = 1_000_000  # rows per Parquet row group written by the child (what it holds in memory at once)
_TEXT, _REAL, _INT = "string", "float64", "int64"
# The columns the analysis reads, per table, with their Arrow types (SQLite's declared affinities).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "assignments": (("experiment_key", _TEXT), ("user_id", _TEXT), ("arm_key", _TEXT), ("assigned_at", _TEXT)),
    "outcomes": (("experiment_key", _TEXT), ("user_id", _TEXT), ("metric", _TEXT), ("period", _TEXT),
                 ("value", _REAL), ("observed_at", _TEXT), ("import_id", _INT)),
    "deliveries": (("experiment_key", _TEXT), ("user_id", _TEXT), ("treatment_key", _TEXT), ("sent_at", _TEXT),
                   ("cost", _REAL), ("import_id", _INT)),
    "cohorts": (("cohort_key", _TEXT), ("version", _INT), ("user_id", _TEXT), ("stage", _TEXT), ("tier", _TEXT),
                ("reason", _TEXT)),
    "opt_outs": (("user_id", _TEXT), ("opted_out_at", _TEXT)),
}
# Columns computed as rows are copied: (name, type, SQL over the row `t` and, for the MATCHED tables, its user's
# assignment `a`, NULL when there is none). Outcome and delivery rows carry their user's arm, so the analysis groups
# them by arm without joining them to the assignments again on every read; `assigned_day` is the by-day segment;
# `observed_early`: observed before assignment; `repeat_send`: the user was sent this treatment in this experiment
# before (an earlier row), so that counting the rows without it counts users, not sends, without a DISTINCT over
# millions of user ids.
_DAY = "substr({}.assigned_at, 1, 10)"
DERIVED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "assignments": (("assigned_day", _TEXT, _DAY.format("t")),),
    "outcomes": (("arm_key", _TEXT, "a.arm_key"), ("assigned_at", _TEXT, "a.assigned_at"),
                 ("assigned_day", _TEXT, _DAY.format("a")), ("observed_early", _INT, "t.observed_at < a.assigned_at")),
    "deliveries": (("arm_key", _TEXT, "a.arm_key"), ("assigned_at", _TEXT, "a.assigned_at"),
                   ("assigned_day", _TEXT, _DAY.format("a")),
                   ("repeat_send", _INT, "EXISTS (SELECT 1 FROM deliveries e WHERE e.experiment_key = t.experiment_key "
                                         "AND e.user_id = t.user_id AND e.treatment_key = t.treatment_key "
                                         "AND e.rowid < t.rowid)")),
}
MATCHED = ("outcomes", "deliveries")  # copied with their user's assignment
_MATCH = "assignments a ON a.experiment_key = t.experiment_key AND a.user_id = t.user_id"
# What the analysis SQL reads besides the fact tables: the rows with the derived columns (of assigned users only,
# for the matched tables). SQLite computes them in views; the mirror holds them.
VIEWS = {"assigned_outcomes": "outcomes", "assigned_deliveries": "deliveries", "assignment_rows": "assignments"}


def view_sql(view: str) -> str:
    """A VIEWS entry as a SELECT over the registry (SQLite)."""
    table = VIEWS[view]
    names = [f"t.{name}" for name, _ in COLUMNS[table]] + [f"{sql} AS {name}" for name, _, sql in DERIVED[table]]
    return f"SELECT {', '.join(names)} FROM {table} t" + (f" JOIN {_MATCH}" if table in MATCHED else "")


def mirror_view_sql(view: str) -> str:
    """A VIEWS entry over the mirror's table of the same rows (DuckDB, Spark)."""
    table = VIEWS[view]
    return f"SELECT * FROM {table}" + (" WHERE arm_key IS NOT NULL" if table in MATCHED else "")


class CopyFailed(ExperimentError):
    """A range of rows could not be copied out of the registry."""


def schema(table: str) -> pa.Schema:
    """The Arrow schema of a mirrored table."""
    import pyarrow as pa

    pairs = [*COLUMNS[table], *((name, kind) for name, kind, _ in DERIVED.get(table, ()))]
    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in pairs])


def _select(table: str, low: int, high: int) -> str:
    names = [f"t.{name}" for name, _ in COLUMNS[table]]
    names += [sql for _, _, sql in DERIVED.get(table, ())]
    joined = f" LEFT JOIN {_MATCH}" if table in MATCHED else ""
    return (f"SELECT {', '.join(names)} FROM {table} t{joined} "
            f"WHERE t.rowid > {int(low)} AND t.rowid <= {int(high)}")


def unmatched(rows: pa.Table) -> int:
    """Rows copied without an assignment (their arm is NULL): a later assignment of theirs makes the copy stale."""
    return int(rows.column("arm_key").null_count) if "arm_key" in rows.column_names else 0


def _typed(table: str, read: pa.Table) -> pa.Table:
    import pyarrow as pa

    typed = schema(table)
    return pa.table([read.column(i).cast(f.type) for i, f in enumerate(typed)], schema=typed)


def copy_rows(conn: sqlite3.Connection, registry: Path, table: str, low: int, high: int, target: Path, expected: int) -> tuple[int, int]:
    """Write the rows with low < rowid <= high of `table` to the Parquet file `target`; returns how many, and how many
    of them had no assignment to copy with them (MATCHED tables).

    `conn` reads small ranges (and every range inside an open transaction, whose snapshot only it sees)."""
    if expected >= IN_PROCESS_ROWS and not conn.in_transaction and importlib.util.find_spec("adbc_driver_sqlite"):
        done = subprocess.run([sys.executable, "-m", "experiments.fact_copy", str(registry), table, str(low),
                               str(high), str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or "").strip().splitlines()
            raise CopyFailed(f"copying {table} out of {registry} failed: {lines[-1] if lines else done.returncode}")
        copied = json.loads(done.stdout)
        return int(copied["rows"]), int(copied["unmatched"])
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = schema(table)
    columns = list(zip(*conn.execute(_select(table, low, high)).fetchall()))
    rows = pa.table([pa.array(list(c), type=f.type) for c, f in zip(columns, typed)], schema=typed) \
        if columns else typed.empty_table()
    pq.write_table(rows, target, compression="zstd")
    return rows.num_rows, unmatched(rows)


def _child(registry: str, table: str, low: int, high: int, target: str, row_group: int = ROW_GROUP) -> None:
    """In a child process: read the range with ADBC and write it (this process opens SQLite through ADBC only).

    The rows stream through in ADBC's record batches, gathered into Parquet row groups of `row_group` rows, so memory
    holds one row group whatever the range's size (a 100M-row first build read at once needed more than 20 GB)."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = missing = held = 0
    pending: list[pa.RecordBatch] = []
    with adbc.connect(registry) as reader, reader.cursor() as cursor, \
            pq.ParquetWriter(target, schema(table), compression="zstd") as writer:
        cursor.execute(_select(table, low, high))

        def flush() -> None:
            nonlocal rows, missing, held
            group = _typed(table, pa.Table.from_batches(pending))
            writer.write_table(group)
            rows, missing, held = rows + group.num_rows, missing + unmatched(group), 0
            pending.clear()

        for batch in cursor.fetch_record_batch():
            pending.append(batch)
            held += batch.num_rows
            if held >= row_group:
                flush()
        if pending:
            flush()
    print(json.dumps({"rows": rows, "unmatched": missing}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
           *(int(value) for value in sys.argv[6:7]))
