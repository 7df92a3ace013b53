"""Opening the registry: a sqlite-utils Database in WAL mode with every migration applied."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils

from common.settings import resolve_actor, resolve_db_path
from experiments.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 60_000


def utc_now() -> str:
    """Current UTC time as ISO-8601 text, the registry's one timestamp format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


RegistryLike = str | os.PathLike[str] | sqlite_utils.Database | None


def open_registry(db: RegistryLike = None) -> sqlite_utils.Database:
    """Open (creating if needed) the registry and bring its schema up to date; an open Database is used as is.

    Front doors open one registry per command or request (`registry()`) and pass the Database to every
    service call, so a page or a command uses one connection and closes it.
    """
    if isinstance(db, sqlite_utils.Database):
        return db
    path = resolve_db_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    database = sqlite_utils.Database(conn)
    migrate(database)
    return database


@contextmanager
def registry(db: RegistryLike = None) -> Iterator[sqlite_utils.Database]:
    """An open registry for a block: a given Database is passed through, a path is opened and closed on exit."""
    if isinstance(db, sqlite_utils.Database):
        yield db
        return
    database = open_registry(db)
    try:
        yield database
    finally:
        database.conn.close()


def schema_version(database: sqlite_utils.Database) -> int:
    """The highest migration applied, 0 for an empty file."""
    if "schema_migrations" not in database.table_names():
        return 0
    row = database.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(database: sqlite_utils.Database, migrations: list[tuple[int, str, str]] = MIGRATIONS) -> int:
    """Apply every migration not yet applied (by version, not just above the highest), each in its own transaction; safe to call from many processes."""
    conn = database.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    target = migrations[-1][0]
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    if applied.issuperset(version for version, _, _ in migrations):
        return target
    for version, name, sql in migrations:
        with transaction(database):
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ).fetchone():
                continue
            for statement in _split_statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, utc_now()),
            )
    return target


@contextmanager
def transaction(database: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolling back on any error so the registry stays as it was."""
    conn = database.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _split_statements(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements, buffer = [], ""
    for line in sql.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def audit(
    conn: sqlite3.Connection,
    action: str,
    object_type: str,
    object_key: str,
    detail: str = "{}",
    actor: str | None = None,
) -> None:
    """Append one row to the audit log inside the caller's transaction."""
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, object_type, object_key, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (utc_now(), resolve_actor(actor),
         action, object_type, object_key, detail),
    )
