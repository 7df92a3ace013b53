"""A columnar mirror of the registry's fact tables: Parquet segments beside the registry, read by DuckDB.

The registry (SQLite) stays the source of truth; the mirror holds the same rows of assignments, outcomes,
deliveries, cohorts and opt-outs so that analysis SQL scans columns instead of joining row by row. Nobody has to
remember to update it: before every use `sync` compares each table's fingerprint in the registry (its highest
rowid, its row count and the change epoch that its delete/update triggers bump, experiments/schema.py) and the
registry's random id with what the mirror recorded. Rows above the recorded rowid are appended as a new segment;
anything else (a delete such as `import undo`, an update, a VACUUM, another registry file) rebuilds the table.

Outcome and delivery rows are copied with their user's assignment (arm and time, experiments/fact_copy.py), so
reading them by arm needs no join. A user's assignment never changes (one per experiment; a delete or update bumps
the assignments' epoch), so such a copy stays true until that epoch moves, or until assignments are added while
some copied rows had none (they might be theirs): then the table is copied again.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from experiments.errors import ExperimentError
from experiments.fact_copy import MATCHED, CopyFailed, copy_rows
from experiments.schema import FACT_TABLES, FACT_TRIGGERS

LOCK_TIMEOUT_S = 60.0
MIRROR_SUFFIX = "-facts"
MIRROR_FORMAT = 5  # 3: outcome and delivery rows carry their assignment; a mirror of another format is rebuilt
_HELD = threading.local()  # the mirror folders this thread holds the lock of


class MirrorUnavailable(ExperimentError):
    """The mirror cannot be used right now (no registry file, locked, triggers missing); read the registry instead."""


@dataclass(frozen=True)
class Fingerprint:
    """What the registry says about one table: highest rowid, row count, change epoch."""

    watermark: int
    rows: int
    epoch: int


@dataclass(frozen=True)
class TableState:
    """What the mirror holds of one table: the fingerprint it matches and its segment files; for a table copied with
    assignments (fact_copy.MATCHED), the assignments' watermark and epoch it was matched against and how many of its
    rows had no assignment."""

    watermark: int
    rows: int
    epoch: int
    segments: tuple[str, ...]
    basis_watermark: int = 0
    basis_epoch: int = 0
    unmatched: int = 0


def mirror_folder(registry_path: Path) -> Path:
    """Where a registry's mirror lives: `<registry stem>-facts/` beside it."""
    return registry_path.with_name(registry_path.stem + MIRROR_SUFFIX)


def registry_file(conn: sqlite3.Connection) -> Path | None:
    """The file behind a connection, None for an in-memory or temporary database."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return Path(file) if file else None
    return None


class FactMirror:
    """The mirror of one registry file; `sync` brings it up to date, `segments` lists what to read per table."""

    def __init__(self, registry_path: Path) -> None:
        self.registry_path = Path(registry_path)
        self.folder = mirror_folder(self.registry_path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the mirror's lock (one process syncs or reads at a time), or raise MirrorUnavailable after a wait.

        Re-entrant within a thread: an engine's sums computed while the analysis holds the lock take it again."""
        held = _HELD.__dict__.setdefault("folders", set())
        if self.folder in held:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "a+") as handle:
            _lock(handle)
            held.add(self.folder)
            try:
                yield
            finally:
                held.discard(self.folder)
                _unlock(handle)

    def sync(self, conn: sqlite3.Connection) -> dict[str, TableState]:
        """Bring every mirrored table in step with the registry (call while holding `locked`); returns the states."""
        present = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
        if any(" ".join((present.get(name) or "").split()) != " ".join(sql.split()) for name, sql in FACT_TRIGGERS.items()):
            raise MirrorUnavailable("the registry's change triggers are missing or altered")
        identity = conn.execute("SELECT id FROM registry_identity").fetchone()[0]
        manifest = self._manifest()
        same = manifest.get("registry_id") == identity and manifest.get("format") == MIRROR_FORMAT
        states = manifest.get("tables", {}) if same else {}
        synced: dict[str, TableState] = {}
        for table in FACT_TABLES:  # assignments first: the tables copied with assignments are matched against them
            synced[table] = self._sync_table(conn, table, _state(states.get(table)), synced.get("assignments"))
        if synced != {t: _state(states.get(t)) for t in FACT_TABLES}:
            self._write_manifest({"registry_id": identity, "format": MIRROR_FORMAT,
                                  "tables": {t: asdict(s) for t, s in synced.items()}})
            keep = {name for state in synced.values() for name in state.segments} | {"manifest.json", "lock"}
            for path in self.folder.iterdir():
                if path.name not in keep:
                    path.unlink(missing_ok=True)
        return synced

    def _sync_table(self, conn: sqlite3.Connection, table: str, state: TableState | None,
                    basis: TableState | None = None) -> TableState:
        """Append the rows above the recorded rowid, or rebuild when the table changed in any other way (or, for a
        table copied with assignments, when they changed in a way that can alter what its rows were matched to)."""
        if table in MATCHED and state is not None and basis is not None and (
                state.basis_epoch != basis.epoch or state.basis_watermark > basis.watermark
                or (state.basis_watermark != basis.watermark and state.unmatched)):
            state = None
        basis_mark = (basis.watermark, basis.epoch) if table in MATCHED and basis is not None else (0, 0)
        for _ in range(5):
            before = _fingerprint_since(conn, table, state)
            incremental = state is not None and state.epoch == before.epoch and state.watermark <= before.watermark
            kept = state if incremental and state is not None else TableState(0, 0, before.epoch, ())
            name = f"{table}-{uuid.uuid4().hex}.parquet"
            partial = self.folder / (name + ".partial")
            try:
                new = unmatched = 0
                if before.watermark > kept.watermark or not kept.segments:
                    new, unmatched = copy_rows(conn, self.registry_path, table, kept.watermark, before.watermark,
                                               partial, before.rows - kept.rows)
                if _fingerprint_since(conn, table, state) != before:
                    continue  # written meanwhile: read again
                if new and basis is not None and table in MATCHED and _epoch(conn, "assignments") != basis.epoch:
                    raise MirrorUnavailable(f"assignments changed while the {table} were matched to them")
                if kept.rows + new != before.rows:
                    if incremental:
                        state = None  # e.g. rowids reused after a VACUUM: rebuild
                        continue
                    raise MirrorUnavailable(f"the registry's {table} changed while it was being mirrored")
                segments = kept.segments
                if partial.exists():
                    os.replace(partial, self.folder / name)
                    segments = (*segments, name)
                return TableState(before.watermark, kept.rows + new, before.epoch, segments, *basis_mark,
                                  kept.unmatched + unmatched)
            except CopyFailed as error:
                raise MirrorUnavailable(str(error)) from error
            finally:
                partial.unlink(missing_ok=True)
        raise MirrorUnavailable(f"the registry's {table} kept changing while it was being mirrored")

    def drop_import(self, table: str, import_id: int, before: Fingerprint, after: Fingerprint) -> bool:
        """After `import undo` deleted one batch's rows (the registry went from `before` to `after`), drop those rows
        from the segments instead of rebuilding; False (nothing changed) unless the mirror matched `before`."""
        manifest = self._manifest()
        state = _state(manifest.get("tables", {}).get(table))
        if state is None or (state.watermark, state.rows, state.epoch) != (before.watermark, before.rows, before.epoch):
            return False
        import duckdb

        segments: list[str] = []
        dropped: list[str] = []
        rows, duck = 0, duckdb.connect()
        try:
            for name in state.segments:
                source = str(self.folder / name).replace("'", "''")
                hit = duck.execute(f"SELECT COUNT(*) FROM read_parquet('{source}') WHERE import_id = {int(import_id)}")
                if (hit.fetchone() or (0,))[0] == 0:
                    segments.append(name)
                    rows += pq_rows(self.folder / name)
                    continue
                kept = f"{table}-{uuid.uuid4().hex}.parquet"
                partial = self.folder / (kept + ".partial")
                quoted = str(partial).replace("'", "''")
                duck.execute(f"COPY (SELECT * FROM read_parquet('{source}') WHERE import_id IS DISTINCT FROM "
                             f"{int(import_id)}) TO '{quoted}' (FORMAT PARQUET, COMPRESSION zstd)")
                rows += pq_rows(partial)
                os.replace(partial, self.folder / kept)
                segments.append(kept)
                dropped.append(str(self.folder / name))
            if dropped and table == "deliveries" and _first_sends_dropped(duck, self.folder, segments, dropped, import_id):
                return False  # a later send of the same user and treatment is now the first: copy the table again
        finally:
            duck.close()
        if rows != after.rows:
            return False
        manifest["tables"][table] = asdict(TableState(after.watermark, after.rows, after.epoch, tuple(segments),
                                                      state.basis_watermark, state.basis_epoch, state.unmatched))
        self._write_manifest(manifest)
        for name in set(state.segments) - set(segments):
            (self.folder / name).unlink(missing_ok=True)
        return True

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest: dict[str, Any] = json.loads((self.folder / "manifest.json").read_text())
            return manifest
        except (OSError, ValueError):
            return {}

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        partial = self.folder / "manifest.json.partial"
        partial.write_text(json.dumps(manifest))
        os.replace(partial, self.folder / "manifest.json")

    def holds(self, states: dict[str, TableState]) -> bool:
        """Whether the mirror on disk is still the one these states describe (another process may have rebuilt it)."""
        manifest = self._manifest().get("tables", {})
        return all(_state(manifest.get(table)) == state for table, state in states.items())

    def paths(self, states: dict[str, TableState]) -> dict[str, list[str]]:
        """Each table's segment files, as paths DuckDB can read."""
        return {table: [str(self.folder / name) for name in state.segments] for table, state in states.items()}


def fingerprint(conn: sqlite3.Connection, table: str) -> Fingerprint:
    """One table's highest rowid, row count and change epoch, read in one statement (one snapshot)."""
    if table not in FACT_TABLES:
        raise ExperimentError(f"{table} is not a mirrored table")
    watermark, rows, epoch = conn.execute(
        f"SELECT (SELECT MAX(rowid) FROM {table}), (SELECT COUNT(*) FROM {table}), "
        "(SELECT epoch FROM fact_epochs WHERE table_name = ?)", (table,)).fetchone()
    return Fingerprint(int(watermark or 0), int(rows), int(epoch or 0))


def _first_sends_dropped(duck: Any, folder: Path, kept: list[str], dropped: list[str], import_id: int) -> bool:
    """Whether the undone batch held a user's first send of a treatment that a kept row sends again (its
    `repeat_send` would then be wrong)."""
    def files(paths: list[str]) -> str:
        return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"

    kept_files = [str(folder / name) for name in kept]
    hit = duck.execute(
        f"SELECT COUNT(*) FROM read_parquet({files(dropped)}) x JOIN read_parquet({files(kept_files)}) y "
        "ON y.experiment_key = x.experiment_key AND y.user_id = x.user_id AND y.treatment_key = x.treatment_key "
        f"WHERE x.import_id = {int(import_id)} AND x.repeat_send = 0").fetchone()
    return bool(hit and hit[0])


def _fingerprint_since(conn: sqlite3.Connection, table: str, state: TableState | None) -> Fingerprint:
    """The table's fingerprint, without counting every row when the mirror holds rowids 1..W (rows == watermark) and
    nothing was deleted or updated since (same epoch) and no rowid below 1 appeared: then the rows up to W are those W
    and only the rows above W are counted, a range of the rowid tree. Anything else counts the table (`fingerprint`)."""
    if table not in FACT_TABLES:
        raise ExperimentError(f"{table} is not a mirrored table")
    if state is None or state.rows != state.watermark:
        return fingerprint(conn, table)
    low, high, epoch, above = conn.execute(
        f"SELECT (SELECT MIN(rowid) FROM {table}), (SELECT MAX(rowid) FROM {table}), "
        "(SELECT epoch FROM fact_epochs WHERE table_name = ?), "
        f"(SELECT COUNT(*) FROM {table} WHERE rowid > ?)", (table, state.watermark)).fetchone()
    if int(epoch or 0) != state.epoch or (low is not None and low < 1) or int(high or 0) < state.watermark:
        return fingerprint(conn, table)
    return Fingerprint(int(high or 0), state.watermark + int(above), int(epoch or 0))


def _epoch(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute("SELECT epoch FROM fact_epochs WHERE table_name = ?", (table,)).fetchone()
    return int(row[0] or 0) if row else 0


def pq_rows(path: Path) -> int:
    """Rows in a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _state(raw: dict[str, Any] | None) -> TableState | None:
    if not raw:
        return None
    return TableState(int(raw["watermark"]), int(raw["rows"]), int(raw["epoch"]), tuple(raw["segments"]),
                      int(raw.get("basis_watermark", 0)), int(raw.get("basis_epoch", 0)), int(raw.get("unmatched", 0)))


def _lock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): one process at a time is then the user's to ensure
        return
    waited, step = 0.0, 0.01
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if waited >= LOCK_TIMEOUT_S:
                raise MirrorUnavailable(f"another process has held the fact mirror for over {LOCK_TIMEOUT_S:g} s") from None
            time.sleep(step)
            waited, step = waited + step, min(step * 2, 0.2)


def _unlock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
