"""Opening the registry: a sqlite-utils Database in WAL mode with every migration applied."""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils

from common.settings import resolve_actor, resolve_db_path
from experiments import audit_chain
from experiments.errors import RegistryError
from experiments.schema import FACT_TRIGGERS, MIGRATIONS

BUSY_TIMEOUT_MS = 60_000


def utc_now() -> str:
    """Current UTC time as ISO-8601 text, the registry's one timestamp format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


RegistryLike = str | os.PathLike[str] | sqlite_utils.Database | None


def open_registry(db: RegistryLike = None) -> sqlite_utils.Database:
    """Open (creating if needed) the registry, bring its schema up to date and restore the audit triggers; an open
    Database is used as is.

    Front doors open one registry per command or request (`registry()`) and pass the Database to every
    service call, so a page or a command uses one connection and closes it.
    """
    if isinstance(db, sqlite_utils.Database):
        return db
    path = resolve_db_path(db)
    if path.is_dir():
        raise RegistryError(f"registry {path} is a directory, not a SQLite file")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # No sqlite-utils plugins: the registry's SQL is Winback's own, and finding them scans every installed package.
        database = sqlite_utils.Database(conn, execute_plugins=False)
        migrate(database)
        protect_audit_log(database)
        restore_fact_triggers(database)
    except sqlite3.OperationalError as error:
        conn.close()
        raise RegistryError(f"registry {path}: {_locked_message(error)}") from error
    except sqlite3.DatabaseError as error:
        conn.close()
        raise RegistryError(f"registry {path} is not a Winback registry (SQLite said: {error})") from error
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


def _locked_message(error: sqlite3.OperationalError) -> str:
    """A user-facing line for an operational error, spelling out a lock held past the busy timeout."""
    if "locked" in str(error) or "busy" in str(error):
        return (f"another process has held the write lock for over {BUSY_TIMEOUT_MS / 1000:g} s; "
                "nothing was written, try again when it finishes")
    return f"cannot be used ({error})"


def protect_audit_log(database: sqlite_utils.Database) -> list[str]:
    """Re-create any audit trigger that was dropped or altered, and log that it happened."""
    conn = database.conn
    if not audit_chain.missing_triggers(conn):
        return []
    with transaction(database):
        restored = audit_chain.create_missing_triggers(conn)  # re-checked under the write lock
        if restored:
            audit(conn, "restore_triggers", "audit_log", "audit_log", json.dumps({"triggers": restored}), "winback")
    return restored


def restore_fact_triggers(database: sqlite_utils.Database) -> list[str]:
    """Re-create any fact-mirror trigger that was dropped or altered, bumping its table's epoch so mirrors rebuild."""
    conn = database.conn

    def missing() -> list[str]:
        present = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
        return [name for name, sql in FACT_TRIGGERS.items() if " ".join((present.get(name) or "").split()) != sql]

    if not missing():
        return []
    with transaction(database):
        restored = missing()  # re-checked under the write lock
        for name in restored:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            conn.execute(FACT_TRIGGERS[name])
        conn.execute("UPDATE fact_epochs SET epoch = epoch + 1")
    return restored


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
            if version in POST_MIGRATION:
                POST_MIGRATION[version](conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, utc_now()),
            )
    return target


# Python steps run inside a migration's transaction, after its SQL.
POST_MIGRATION = {11: audit_chain.backfill}


@contextmanager
def transaction(database: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolling back on any error so the registry stays as it was."""
    conn = database.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise RegistryError(f"registry: {_locked_message(error)}") from error
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
    """Append one hash-chained row to the audit log inside the caller's transaction."""
    audit_chain.append(conn, utc_now(), resolve_actor(actor), action, object_type, object_key, detail)
