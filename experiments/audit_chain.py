"""The audit log's tamper evidence: a SHA-256 hash chain over its rows and the triggers that keep it append-only.

Each row carries `prev_hash` (the previous row's `row_hash`, 64 zeros for the first) and `row_hash`, the SHA-256
of the previous hash and the row's own fields. Triggers refuse UPDATE, DELETE and any INSERT that does not add a
new row at the end (so `INSERT OR REPLACE` cannot swap a row); they are checked, and re-created when missing or
altered, every time the registry is opened. Anyone able to write the file can still drop a trigger and rewrite
the whole chain from the first row they change: `verify_chain` then still passes, which is why
`winback audit verify` prints the head hash to be noted elsewhere (docs/security.md).
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from experiments.schema import AUDIT_TRIGGERS

GENESIS = "0" * 64
FIELDS = ("id", "at", "actor", "action", "object_type", "object_key", "detail")


def row_hash(prev_hash: str, row: Sequence[object]) -> str:
    """SHA-256 of the previous row's hash and this row's fields (id, at, actor, action, type, key, detail)."""
    payload = json.dumps([prev_hash, *row], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(conn: sqlite3.Connection, at: str, actor: str, action: str, object_type: str, object_key: str,
           detail: str) -> None:
    """Append one chained row; call inside a write transaction so the head cannot move underneath."""
    head = conn.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    row_id, prev = (head[0] + 1, head[1] or GENESIS) if head else (1, GENESIS)
    fields = (row_id, at, actor, action, object_type, object_key, detail)
    conn.execute(
        "INSERT INTO audit_log (id, at, actor, action, object_type, object_key, detail, prev_hash, row_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, prev, row_hash(prev, fields)),
    )


def backfill(conn: sqlite3.Connection) -> None:
    """Chain the rows written before the chain existed (run once, inside the migration that adds it)."""
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    prev = GENESIS
    for row in conn.execute(f"SELECT {', '.join(FIELDS)} FROM audit_log ORDER BY id").fetchall():
        digest = row_hash(prev, row)
        conn.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row[0]))
        prev = digest
    create_missing_triggers(conn)


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    """Names of audit triggers that are absent or differ from their definition."""
    present = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"))
    return [name for name, sql in AUDIT_TRIGGERS.items() if _normal(present.get(name)) != _normal(sql)]


def create_missing_triggers(conn: sqlite3.Connection) -> list[str]:
    """(Re-)create every audit trigger that is absent or altered; returns their names."""
    names = missing_triggers(conn)
    for name in names:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(AUDIT_TRIGGERS[name])
    return names


@dataclass(frozen=True)
class ChainCheck:
    """The result of re-computing the chain: rows checked, the first broken row (None if intact), the head."""

    rows: int
    first_broken_id: int | None
    problem: str
    head_hash: str

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_chain(conn: sqlite3.Connection) -> ChainCheck:
    """Re-compute every row's hash in id order and name the first row whose hash, link or id does not fit."""
    prev, expected_id, count = GENESIS, 1, 0
    cursor = conn.execute(f"SELECT {', '.join(FIELDS)}, prev_hash, row_hash FROM audit_log ORDER BY id")
    for row in cursor:
        fields, stored_prev, stored_hash = row[:7], row[7], row[8]
        count += 1
        problem = ""
        odd = next((FIELDS[i] for i, v in enumerate(fields) if not isinstance(v, (str, int)) and v is not None), None)
        if odd is not None or not isinstance(fields[0], int):
            # A cell of another type (a BLOB written by hand) cannot have been hashed by `append`: name the row.
            return ChainCheck(count, int(fields[0]) if isinstance(fields[0], int) else expected_id,
                              f"its {odd or 'id'} is not text as `append` writes it (the row was changed by hand)",
                              stored_hash if isinstance(stored_hash, str) else "")
        if fields[0] != expected_id:
            problem = f"id {fields[0]} follows id {expected_id - 1}: row(s) {expected_id}..{fields[0] - 1} are missing"
        elif stored_prev != prev:
            problem = "its prev_hash does not match the previous row's hash (a row before it was changed or removed)"
        elif stored_hash != row_hash(prev, fields):
            problem = "its contents do not match its hash (the row was changed after it was written)"
        if problem:
            return ChainCheck(count, int(fields[0]), problem, stored_hash or "")
        prev, expected_id = stored_hash, expected_id + 1
    return ChainCheck(count, None, "", prev)
