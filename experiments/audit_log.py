"""Reading the append-only audit log: who changed what, and when."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

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

    def to_dict(self) -> dict:
        return asdict(self)


def read_audit_log(
    db: str | os.PathLike[str] | None = None, *, object_key: str | None = None, limit: int = 100
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
