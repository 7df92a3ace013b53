"""Reading the append-only audit log: who changed what, and when."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from experiments.audit_chain import ChainCheck, verify_chain
from experiments.db import RegistryLike, open_registry, registry


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    at: str
    actor: str
    action: str
    object_type: str
    object_key: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def readable_detail(self) -> str:
        """The detail as 'field: value; ...' for people (it is stored as JSON for machines and the hash chain)."""
        return readable_detail(self.detail)


def readable_detail(detail: str) -> str:
    """A JSON object's fields as 'name: value' separated by '; ' (lists by ', ', nested objects in parentheses,
    empty fields left out); any other text as it is."""
    try:
        value = json.loads(detail) if detail else {}
    except json.JSONDecodeError:
        return detail
    return _readable(value) if isinstance(value, dict) else detail


def _readable(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_readable(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list):
        return ", ".join(f"({_readable(v)})" if isinstance(v, dict) else _readable(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def read_audit_log(
    db: RegistryLike = None, *, object_key: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest `limit` entries, optionally about one object (e.g. an experiment key), oldest first."""
    database = open_registry(db)
    rows = database.execute(
        "SELECT at, actor, action, object_type, object_key, detail FROM ("
        " SELECT * FROM audit_log WHERE (? IS NULL OR object_key = ?) ORDER BY id DESC LIMIT ?"
        ") ORDER BY id",
        (object_key, object_key, limit),
    ).fetchall()
    return [AuditEntry(*row) for row in rows]


def verify_audit_log(db: RegistryLike = None) -> ChainCheck:
    """Re-compute the audit log's hash chain; the result names the first row that does not fit."""
    with registry(db) as database:
        return verify_chain(database.conn)
