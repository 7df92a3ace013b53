"""Where the analysis SQL runs: on the registry's columnar mirror in DuckDB (the default), or on SQLite itself.

Both run the same SQL text (`:name` parameters; SQLite's TOTAL() is given to DuckDB as a macro over a
compensated sum), so the numbers agree to the last bits of floating-point summation. The mirror is brought in
step before each use (experiments/fact_mirror.py); when it cannot be used (an in-memory registry, a read-only
folder, the lock held too long, `WINBACK_FACTS=registry`) the same SQL runs on the registry.

Besides the fact tables, the SQL reads `assigned_outcomes` and `assigned_deliveries` (the outcome and delivery rows of
assigned users, each with its user's `arm_key`, `assigned_at` and `assigned_day`) and `assignment_rows` (assignments
with their `assigned_day`). On the registry they are views joining the assignments; the mirror holds the rows so
(experiments/fact_copy.py), and reading by arm or by day needs no join and no string function. A
query's rows are kept for the next one with the same text on the same mirror files and design (a command's health
checks, report and by-day effects ask some alike); the files are never rewritten in place, so they cannot be stale.
"""
from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, Literal, Protocol

from common.settings import ENV_FACTS, facts_setting
from experiments.errors import ExperimentError
from experiments.fact_copy import VIEWS, mirror_view_sql, view_sql
from experiments.fact_mirror import FactMirror, MirrorUnavailable, TableState, registry_file
from warehouse.dialect import Dialect

FactsMode = Literal["mirror", "registry"]
FACTS_MODES: tuple[FactsMode, ...] = ("mirror", "registry")
DIALECT = Dialect("duckdb")
# Small design tables the fact SQL joins, copied from the registry into each DuckDB session.
# (Arrow type names; pyarrow is imported only where Arrow tables are built, so an analysis on a synced mirror
# does not load it.)
DESIGN_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "arms": (("experiment_key", "string"), ("arm_key", "string"), ("position", "int64"),
             ("treatment_key", "string"), ("weight", "float64"), ("is_control", "int64")),
    "experiments": (("key", "string"), ("cohort_version", "int64")),
}
_DUCK_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE"}


_MEMO_SIZE = 64
_MEMO_ROWS = 10_000
_MEMO: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
_MEMO_LOCK = threading.Lock()  # the web UI's threads share it


class FactSource(Protocol):
    """Runs one SELECT over the fact tables (assignments, outcomes, deliveries, cohorts, opt_outs)."""

    engine: str

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[tuple[Any, ...]]: ...


class RegistryFacts:
    """The fact SQL on the registry's own SQLite connection."""

    engine = "registry-sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        registry_views(conn)

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, dict(params or {})).fetchall()


class MirrorFacts:
    """The fact SQL on the registry's Parquet mirror, in an in-memory DuckDB session."""

    engine = "registry-mirror"

    def __init__(self, duck: Any, memo_key: tuple[Any, ...] = ()) -> None:
        self.duck = duck
        self.memo_key = memo_key

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        bound = DIALECT.bind(sql, params)
        key = (*self.memo_key, " ".join(bound.split()))
        with _MEMO_LOCK:
            kept = _MEMO.get(key) if self.memo_key else None
        if kept is not None:
            return list(kept)
        rows = self.duck.execute(bound).fetchall()
        if self.memo_key and len(rows) <= _MEMO_ROWS:
            with _MEMO_LOCK:
                while len(_MEMO) >= _MEMO_SIZE:
                    del _MEMO[next(iter(_MEMO))]
                _MEMO[key] = rows
        return list(rows)


def registry_views(conn: sqlite3.Connection) -> None:
    """The views the analysis SQL reads besides the fact tables (fact_copy.VIEWS), on a registry connection (TEMP:
    nothing is written to the registry)."""
    for view in VIEWS:
        conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS {view} AS {view_sql(view)}")


def check_facts_mode(mode: str) -> FactsMode:
    """The mode, or an ExperimentError naming the ones there are."""
    if mode not in FACTS_MODES:
        raise ExperimentError(f"{ENV_FACTS} must be one of {', '.join(FACTS_MODES)}, got {mode!r}")
    return mode


@contextmanager
def open_facts(conn: sqlite3.Connection, mode: str | None = None) -> Iterator[FactSource]:
    """A fact source for one analysis: the synced mirror while the block runs, else the registry itself."""
    chosen = check_facts_mode(facts_setting(mode))
    with mirror_files(conn, chosen) as paths:
        if paths is None:
            yield RegistryFacts(conn)
            return
        import duckdb

        duck = duckdb.connect()
        try:
            design = _prepare(duck, conn, paths)
        except (OSError, sqlite3.Error, duckdb.Error, *_arrow_errors()):  # type: ignore[misc]
            duck.close()
            prepared = False
        else:
            prepared = True
        if not prepared:
            yield RegistryFacts(conn)
            return
        memo_key = (tuple(sorted((table, tuple(files)) for table, files in paths.items())),
                    tuple(sorted((table, tuple(rows)) for table, rows in design.items())))
        try:
            yield MirrorFacts(duck, memo_key)
        finally:
            duck.close()


# The last sync: through which connection, the registry's state then (PRAGMA data_version moves when another
# connection commits, total_changes when this one writes) and the mirror's tables. One slot: a command's health
# checks and analysis share it.
_LAST_SYNC: list[tuple[sqlite3.Connection, tuple[int, int], dict[str, TableState]]] = []


@contextmanager
def mirror_files(conn: sqlite3.Connection, mode: str | None = None) -> Iterator[dict[str, list[str]] | None]:
    """The synced mirror's Parquet files per fact table, locked while the block runs; None when the mirror is not
    to be used (an in-memory registry, `registry` mode) or cannot be (locked too long, unwritable folder)."""
    path = registry_file(conn)
    if path is None or check_facts_mode(facts_setting(mode)) != "mirror":
        yield None
        return
    stack = ExitStack()
    try:
        mirror = FactMirror(path)
        stack.enter_context(mirror.locked())
        paths = mirror.paths(_synced(mirror, conn))
    except (MirrorUnavailable, OSError, sqlite3.Error, *_arrow_errors()):  # type: ignore[misc]
        stack.close()
        yield None
        return
    with stack:
        yield paths


def _arrow_errors() -> tuple[type[Exception], ...]:
    """Arrow's exception class once pyarrow is loaded (only then can one have been raised)."""
    arrow = sys.modules.get("pyarrow")
    return (arrow.ArrowException,) if arrow is not None else ()


def _design_values(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {table: conn.execute(f"SELECT {', '.join(name for name, _ in columns)} FROM {table}").fetchall()
            for table, columns in DESIGN_TABLES.items()}


def design_rows(conn: sqlite3.Connection) -> dict[str, Any]:
    """The registry's small design tables the fact SQL joins (arms, experiments), as Arrow tables (for Spark)."""
    import pyarrow as pa

    out = {}
    for table, rows in _design_values(conn).items():
        schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in DESIGN_TABLES[table]])
        values = list(zip(*rows))
        out[table] = pa.table([pa.array(list(v), type=f.type) for v, f in zip(values, schema)], schema=schema) \
            if values else schema.empty_table()
    return out


def _synced(mirror: FactMirror, conn: sqlite3.Connection) -> dict[str, TableState]:
    """The mirror synced with the registry; a repeat on an unchanged connection skips the fingerprints."""
    state = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
    last = _LAST_SYNC[0] if _LAST_SYNC else None
    if last is not None and last[0] is conn and last[1] == state and mirror.holds(last[2]):
        return last[2]
    tables = mirror.sync(conn)
    _LAST_SYNC[:] = [(conn, state, tables)]
    return tables


def _prepare(duck: Any, conn: sqlite3.Connection, paths: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """Views over the mirror's segments, the registry's small design tables (returned), and TOTAL() as SQLite
    defines it."""
    duck.execute("CREATE MACRO total(x) AS COALESCE(fsum(CAST(x AS DOUBLE)), CAST(0 AS DOUBLE))")
    for table, files in paths.items():
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        duck.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}])")
    for view in VIEWS:
        duck.execute(f"CREATE VIEW {view} AS {mirror_view_sql(view)}")
    design = _design_values(conn)
    for table, rows in design.items():
        columns = DESIGN_TABLES[table]
        duck.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {_DUCK_TYPES[k]}' for n, k in columns)})")
        if rows:
            duck.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows)
    return design
