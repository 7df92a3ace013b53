"""The opt-out list: users who must never be assigned to, or sent, a retention treatment again.

Opt-outs win: assignment skips them, a delivery sent at or after the opt-out is refused on import
(experiments/import_rules.py), plans leave them out (`opted_out`), and the analysis keeps already-assigned
users in their arm (intention to treat) while reporting how many per arm opted out.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from experiments.db import RegistryLike, audit, open_registry, registry, transaction, utc_now
from experiments.identity import check_ids


def add_opt_outs(user_ids: Iterable[str], reason: str = "", db: RegistryLike = None,
                 source: str = "user ids") -> int:
    """Add users to the opt-out list (idempotent); returns how many were new. Audited with the user ids."""
    given = list(user_ids)
    check_ids(given, source, "user_id")
    ids = sorted(set(given))
    database = open_registry(db)
    with transaction(database) as conn:
        new = [r[0] for r in conn.execute(
            "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT user_id FROM opt_outs) ORDER BY value",
            (json.dumps(ids),))]
        now = utc_now()
        conn.executemany("INSERT INTO opt_outs (user_id, reason, opted_out_at) VALUES (?, ?, ?)",
                         [(u, reason, now) for u in new])
        audit(conn, "opt_out", "users", f"{len(new)} users",
              json.dumps({"reason": reason, "count": len(new), "user_ids": new}))
        touched: dict[str, list[str]] = {}
        for key, user in conn.execute(
            "SELECT a.experiment_key, a.user_id FROM assignments a "
            "WHERE a.user_id IN (SELECT value FROM json_each(?)) ORDER BY 1, 2", (json.dumps(new),)):
            touched.setdefault(key, []).append(user)
        for key, users in touched.items():  # visible in `experiment audit KEY` for every experiment they are in
            audit(conn, "opt_out", "experiment", key, json.dumps({"reason": reason, "user_ids": users}))
    return len(new)


def count_opt_outs(db: RegistryLike = None) -> int:
    """How many users have opted out."""
    return int(open_registry(db).execute("SELECT COUNT(*) FROM opt_outs").fetchone()[0])


def opted_out(user_ids: Iterable[object], db: RegistryLike = None) -> np.ndarray:
    """A boolean mask: which of `user_ids` are on the opt-out list (compared exactly)."""
    ids = [str(u) for u in user_ids]
    with registry(db) as database:
        hits = [r[0] for r in database.execute(
            "SELECT key FROM json_each(?) WHERE value IN (SELECT user_id FROM opt_outs)", (json.dumps(ids),))]
    mask = np.zeros(len(ids), dtype=bool)
    mask[hits] = True
    return mask


def opted_out_ids(db: RegistryLike = None) -> list[str]:
    """Every opted-out user id (for engines that filter users where they are, such as Spark)."""
    with registry(db) as database:
        return [r[0] for r in database.execute("SELECT user_id FROM opt_outs ORDER BY user_id")]
