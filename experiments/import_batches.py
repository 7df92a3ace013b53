"""Import batches: each imported file, listed and undone (kept apart from experiments/imports.py, which needs pandas,
so `winback import list` starts without it)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from common.settings import resolve_actor
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ImportDataError
from experiments.lookup import unknown_name
from experiments.mirror_upkeep import undoing_import


@dataclass(frozen=True)
class ImportBatch:
    """One imported file: what, from where, into which experiments, how many rows, and whether it was undone."""

    id: int
    kind: str
    source: str
    experiment_keys: tuple[str, ...]
    rows_read: int
    inserted: int
    imported_at: str
    imported_by: str
    undone_at: str | None
    undone_by: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def list_imports(db: RegistryLike = None, experiment_key: str | None = None) -> list[ImportBatch]:
    """Import batches, newest first, optionally only those that touched one experiment."""
    database = open_registry(db)
    rows = database.execute(
        "SELECT id, kind, source, experiment_keys, rows_read, inserted, imported_at, imported_by, undone_at, undone_by "
        "FROM import_batches ORDER BY id DESC").fetchall()
    batches = [ImportBatch(r[0], r[1], r[2], tuple(json.loads(r[3])), *r[4:]) for r in rows]
    return [b for b in batches if experiment_key is None or experiment_key in b.experiment_keys]


def undo_import(batch_id: int, db: RegistryLike = None, actor: str | None = None) -> ImportBatch:
    """Delete the rows a batch inserted (rows it found already present stay), in one transaction; audited.

    Refused for a concluded experiment: its decision rests on those rows.
    """
    database = open_registry(db)
    found = database.execute("SELECT kind FROM import_batches WHERE id = ?", (batch_id,)).fetchone()
    with undoing_import(database.conn, found[0] if found else "outcomes", batch_id) as mark, \
            transaction(database) as conn:
        row = conn.execute("SELECT kind, experiment_keys, undone_at FROM import_batches WHERE id = ?",
                           (batch_id,)).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute("SELECT id FROM import_batches ORDER BY id")]
            raise unknown_name("import", str(batch_id), known, "see `winback import list`")
        kind, keys_json, undone_at = row
        if undone_at is not None:
            raise ImportDataError(f"import {batch_id}", None, None, f"already undone at {undone_at}")
        keys = json.loads(keys_json)
        concluded = [k for (k,) in conn.execute(
            f"SELECT key FROM experiments WHERE status = 'concluded' AND key IN ({', '.join('?' * len(keys))})", keys)]
        if concluded:
            raise ImportDataError(f"import {batch_id}", None, None,
                                  f"experiment '{concluded[0]}' is concluded; its decision rests on these rows")
        if kind == mark.table:
            mark.mark_before()
        deleted = conn.execute(f"DELETE FROM {kind} WHERE import_id = ?", (batch_id,)).rowcount
        if kind == mark.table:
            mark.mark_after()
        who = resolve_actor(actor)
        conn.execute("UPDATE import_batches SET undone_at = ?, undone_by = ? WHERE id = ?", (utc_now(), who, batch_id))
        for key in keys:
            audit(conn, f"undo import {kind}", "experiment", key,
                  json.dumps({"import_id": batch_id, "rows_deleted": deleted}), who)
    return next(b for b in list_imports(database) if b.id == batch_id)
