"""Web UI users and REST API tokens: hashed passwords (experiments.passwords), one role each, tokens stored hashed.

A token is shown once when it is made; the registry keeps only its SHA-256, which is enough for a
random 256-bit secret (no salt or slow hash needed, and lookup by hash stays an index probe).
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from experiments.choices import ROLES as ROLES  # re-exported: webui.auth and winback.web_demo import it from here
from experiments.choices import Role
from experiments.db import audit, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.passwords import check_password, hash_password

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "wbk_"
_dummy_hash: list[str] = []  # made on first use: a hash to check when the name is unknown, so timing tells nothing


class UserError(ExperimentError):
    """A user or token operation that cannot be done (unknown user, weak password, bad role)."""


@dataclass(frozen=True)
class User:
    """A person who may log in: their name and role (never the password hash)."""

    name: str
    role: Role
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ApiToken:
    """A REST API token's record; `secret` is set only on the object returned when it is created."""

    id: int
    user_name: str
    label: str
    created_at: str
    revoked_at: str | None = None
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("secret")
        return data


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise UserError(f"user name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
    return name


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def add_user(database: sqlite_utils.Database, name: str, password: str, role: str, *,
             actor: str | None = None) -> User:
    """Create a user with a hashed password (audited); refuses an existing name or a short password."""
    name, role = _check_name(name), _check_role(role)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password of '{name}' must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(name, role, utc_now())
    with transaction(database) as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise UserError(f"user '{name}' already exists; pick another name or use `winback user password`")
        conn.execute("INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                     (name, hash_password(password), role, user.created_at))
        audit(conn, "add", "user", name, json.dumps({"role": role}), actor)
    return user


def set_password(database: sqlite_utils.Database, name: str, password: str, *, actor: str | None = None) -> None:
    """Replace a user's password (audited); every session made before ends."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password of '{name}' must have at least {MIN_PASSWORD_LENGTH} characters")
    with transaction(database) as conn:
        if conn.execute("UPDATE users SET password_hash = ?, session_version = session_version + 1 WHERE name = ?",
                        (hash_password(password), name)).rowcount == 0:
            raise UserError(f"unknown user '{name}'")
        audit(conn, "password", "user", name, "{}", actor)


def get_user(database: sqlite_utils.Database, name: str) -> User | None:
    """The active user of that name, None when unknown or disabled."""
    row = database.execute(
        "SELECT name, role, created_at FROM users WHERE name = ? AND disabled_at IS NULL", (name,)).fetchone()
    return User(*row) if row else None


def list_users(database: sqlite_utils.Database) -> list[User]:
    """Every active user, by name."""
    rows = database.execute("SELECT name, role, created_at FROM users WHERE disabled_at IS NULL ORDER BY name")
    return [User(*row) for row in rows]


def authenticate(database: sqlite_utils.Database, name: str, password: str) -> User | None:
    """The user when the password matches, else None (same work whether or not the name exists)."""
    row = database.execute(
        "SELECT name, role, created_at, password_hash FROM users WHERE name = ? AND disabled_at IS NULL",
        ((name or "").strip(),)).fetchone()
    if row is None:
        if not _dummy_hash:
            _dummy_hash.append(hash_password("not a password"))
        check_password(_dummy_hash[0], password or "")
        return None
    return User(*row[:3]) if check_password(row[3], password or "") else None


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(database: sqlite_utils.Database, name: str, label: str = "", *,
                 actor: str | None = None) -> ApiToken:
    """Make a new API token for a user; the returned object carries the secret, which is not stored."""
    if get_user(database, name) is None:
        raise UserError(f"unknown user '{name}'; add it first with `winback user add`")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = utc_now()
    with transaction(database) as conn:
        cursor = conn.execute(
            "INSERT INTO api_tokens (token_hash, user_name, label, created_at) VALUES (?, ?, ?, ?)",
            (_token_hash(secret), name, label, created))
        token_id = int(cursor.lastrowid or 0)
        audit(conn, "create_token", "user", name, json.dumps({"token_id": token_id, "label": label}), actor)
    return ApiToken(token_id, name, label, created, None, secret)


def revoke_token(database: sqlite_utils.Database, token_id: int, *, actor: str | None = None) -> None:
    """Revoke a token by id (audited); it stops working at once."""
    with transaction(database) as conn:
        row = conn.execute("SELECT user_name FROM api_tokens WHERE id = ? AND revoked_at IS NULL",
                           (token_id,)).fetchone()
        if row is None:
            raise UserError(f"no active API token with id {token_id}")
        conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (utc_now(), token_id))
        audit(conn, "revoke_token", "user", row[0], json.dumps({"token_id": token_id}), actor)


def list_tokens(database: sqlite_utils.Database, name: str | None = None) -> list[ApiToken]:
    """Tokens (without secrets), optionally of one user, oldest first."""
    rows = database.execute(
        "SELECT id, user_name, label, created_at, revoked_at FROM api_tokens "
        "WHERE (? IS NULL OR user_name = ?) ORDER BY id", (name, name))
    return [ApiToken(*row) for row in rows]


def user_for_token(database: sqlite_utils.Database, secret: str) -> User | None:
    """The active user an unrevoked token belongs to, None for anything else."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    row = database.execute(
        "SELECT u.name, u.role, u.created_at FROM api_tokens t JOIN users u ON u.name = t.user_name "
        "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
        (_token_hash(secret),)).fetchone()
    return User(*row) if row else None
