"""Web sessions that can be ended, and a sign-in rate limit: the registry side of `webui.auth`.

A session cookie carries the user's name and their session version; the registry holds the current version, which
logout, a password change, a role change and disabling the user bump, so every cookie made before is refused on its
next request. Failed sign-ins are kept (user, address, time): more than `MAX_FAILURES_PER_USER` for a name or
`MAX_FAILURES_PER_ADDRESS` from an address within `WINDOW_MINUTES` block further attempts until the window passes.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from experiments.choices import ROLES
from experiments.db import audit, transaction, utc_now
from experiments.users import UserError

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW_MINUTES = 15


@dataclass(frozen=True)
class SignInBlock:
    """Why sign-in is refused for now, and when it opens again."""

    reason: str
    retry_at: str


def session_version(database: sqlite_utils.Database, name: str) -> int | None:
    """The current session version of an active user; None when unknown or disabled."""
    row = database.execute("SELECT session_version FROM users WHERE name = ? AND disabled_at IS NULL",
                           (name,)).fetchone()
    return int(row[0]) if row else None


def end_sessions(database: sqlite_utils.Database, name: str, *, reason: str, actor: str | None = None) -> None:
    """End every session of a user (the next request of any cookie made before is refused); audited."""
    with transaction(database) as conn:
        _bump(conn, name)
        audit(conn, "end_sessions", "user", name, json.dumps({"reason": reason}), actor)


def _bump(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("UPDATE users SET session_version = session_version + 1 WHERE name = ?", (name,)).rowcount == 0:
        raise UserError(f"unknown user '{name}'")


def set_disabled(database: sqlite_utils.Database, name: str, disabled: bool, *, actor: str | None = None) -> None:
    """Disable (sessions and tokens stop working at once) or enable a user again; audited."""
    with transaction(database) as conn:
        _bump(conn, name)
        conn.execute("UPDATE users SET disabled_at = ? WHERE name = ?", (utc_now() if disabled else None, name))
        audit(conn, "disable" if disabled else "enable", "user", name, "{}", actor)


def set_role(database: sqlite_utils.Database, name: str, role: str, *, actor: str | None = None) -> None:
    """Change a user's role; their sessions end, so the new role applies from the next sign-in; audited."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    with transaction(database) as conn:
        old = conn.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        if old is None:
            raise UserError(f"unknown user '{name}'")
        _bump(conn, name)
        conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        audit(conn, "role", "user", name, json.dumps({"from": old[0], "to": role}), actor)


def remove_user(database: sqlite_utils.Database, name: str, *, actor: str | None = None) -> None:
    """Remove a user and their API tokens (the audit log keeps their name on what they did); audited."""
    with transaction(database) as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
            raise UserError(f"unknown user '{name}'")
        tokens = conn.execute("DELETE FROM api_tokens WHERE user_name = ?", (name,)).rowcount
        conn.execute("DELETE FROM users WHERE name = ?", (name,))
        audit(conn, "remove", "user", name, json.dumps({"tokens_removed": tokens}), actor)


def record_failed_sign_in(database: sqlite_utils.Database, name: str, address: str) -> None:
    """Keep a failed sign-in (the name as typed, cut to 64 characters, and the client address)."""
    with transaction(database) as conn:
        conn.execute("INSERT INTO sign_in_failures (user_name, address, failed_at) VALUES (?, ?, ?)",
                     ((name or "")[:64], (address or "")[:64], utc_now()))


def sign_in_block(database: sqlite_utils.Database, name: str, address: str,
                  now: datetime | None = None) -> SignInBlock | None:
    """Whether sign-in for this name or from this address is refused for now (too many recent failures)."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(minutes=WINDOW_MINUTES)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    checks = (("user_name", (name or "")[:64], MAX_FAILURES_PER_USER, "this user"),
              ("address", (address or "")[:64], MAX_FAILURES_PER_ADDRESS, "this address"))
    for column, value, limit, who in checks:
        count, first = database.execute(
            f"SELECT COUNT(*), MIN(failed_at) FROM (SELECT failed_at FROM sign_in_failures WHERE {column} = ? "
            "AND failed_at >= ? ORDER BY failed_at DESC LIMIT ?)", (value, since, limit)).fetchone()
        if count >= limit:
            retry = datetime.fromisoformat(first.replace("Z", "+00:00")) + timedelta(minutes=WINDOW_MINUTES)
            return SignInBlock(f"too many failed sign-ins for {who}", retry.strftime("%H:%M UTC"))
    return None
