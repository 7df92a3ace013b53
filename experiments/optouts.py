"""The opt-out list: users who must never be assigned to a retention treatment."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable

from experiments.db import audit, open_registry, transaction, utc_now


def add_opt_outs(user_ids: Iterable[str], reason: str = "", db: str | os.PathLike[str] | None = None) -> int:
    """Add users to the opt-out list (idempotent); returns how many were new."""
    ids = sorted({str(u) for u in user_ids})
    database = open_registry(db)
    with transaction(database) as conn:
        before = conn.execute("SELECT COUNT(*) FROM opt_outs").fetchone()[0]
        now = utc_now()
        conn.executemany(
            "INSERT OR IGNORE INTO opt_outs (user_id, reason, opted_out_at) VALUES (?, ?, ?)",
            [(u, reason, now) for u in ids],
        )
        added = conn.execute("SELECT COUNT(*) FROM opt_outs").fetchone()[0] - before
        audit(conn, "opt_out", "users", f"{added} users", json.dumps({"reason": reason, "count": added}))
    return added


def count_opt_outs(db: str | os.PathLike[str] | None = None) -> int:
    """How many users have opted out."""
    return open_registry(db).execute("SELECT COUNT(*) FROM opt_outs").fetchone()[0]
