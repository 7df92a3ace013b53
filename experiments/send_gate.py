"""The one gate every send list passes: who may be given a retention treatment now, and why the others may not.

Experiment assignment (`experiments.targeting.assign_users`) and budget plans (`uplift.plan_runs`) both screen
their candidates here, so no door and no cycle filters on its own. The rules, first match names the fate:
`already` (assigned in this experiment: keeps its arm), `opt_out` (the opt-out list), `holdout` (a programme's
holdout, kept out of everything), `layer` (in another running experiment of the same layer) and `cap` (given
`contact_cap` treatments, non-control arms, within the window).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from experiments.choices import DEFAULT_CAP_WINDOW_DAYS, DEFAULT_CONTACT_CAP
from experiments.db import RegistryLike, registry, transaction
from experiments.programmes import holdout_ids

FATES = ("already", "opt_out", "holdout", "layer", "cap")
FATE_WORDS = {"already": "already assigned", "opt_out": "opted out", "holdout": "in a programme holdout",
              "layer": "in another running experiment of the layer", "cap": "at the contact cap"}


@dataclass(frozen=True)
class Screening:
    """Which candidates may be sent something (`kept`, in the order given) and how many each rule left out."""

    kept: np.ndarray
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())

    def describe(self) -> str:
        """'2 opted out, 1 at the contact cap' (empty when nobody was left out)."""
        return ", ".join(f"{n:,} {FATE_WORDS[fate]}" for fate, n in self.left_out.items() if n)


def window_start(cap_window_days: int, now: datetime | None = None) -> str:
    """The registry timestamp from which treatments count toward the contact cap."""
    return ((now or datetime.now(UTC)) - timedelta(days=cap_window_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mark_fates(conn: sqlite3.Connection, *, experiment_key: str | None, layer: str | None, contact_cap: int,
               since: str) -> dict[str, int]:
    """Mark the rows of the temporary table `candidate (user_id, fate)` that may not be sent, each with its first
    rule; returns the count per fate (and `eligible`)."""
    if experiment_key is not None:
        conn.execute("UPDATE candidate SET fate = 'already' WHERE user_id IN "
                     "(SELECT user_id FROM assignments WHERE experiment_key = ?)", (experiment_key,))
    conn.execute("UPDATE candidate SET fate = 'opt_out' WHERE fate IS NULL AND user_id IN (SELECT user_id FROM opt_outs)")
    if conn.execute("SELECT 1 FROM programmes LIMIT 1").fetchone():
        open_ids = [r[0] for r in conn.execute("SELECT user_id FROM candidate WHERE fate IS NULL")]
        held = sorted(holdout_ids(conn, open_ids))
        conn.executemany("UPDATE candidate SET fate = 'holdout' WHERE user_id = ? AND fate IS NULL", ((u,) for u in held))
    if layer is not None:
        conn.execute("UPDATE candidate SET fate = 'layer' WHERE fate IS NULL AND user_id IN ("
                     " SELECT a.user_id FROM assignments a JOIN experiments e ON e.key = a.experiment_key"
                     " WHERE e.layer = ? AND e.status = 'running' AND e.key != ?)", (layer, experiment_key or ""))
    conn.execute("UPDATE candidate SET fate = 'cap' WHERE fate IS NULL AND user_id IN ("
                 " SELECT a.user_id FROM assignments a"
                 " JOIN arms r ON r.experiment_key = a.experiment_key AND r.arm_key = a.arm_key"
                 " WHERE r.is_control = 0 AND a.experiment_key != ? AND a.assigned_at >= ?"
                 " GROUP BY a.user_id HAVING COUNT(*) >= ?)", (experiment_key or "", since, contact_cap))
    return dict(conn.execute("SELECT COALESCE(fate, 'eligible'), COUNT(*) FROM candidate GROUP BY 1").fetchall())


def fill_candidates(conn: sqlite3.Connection, user_ids: Iterable[str]) -> None:
    """A fresh temporary `candidate` table holding the given ids once each."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS candidate (user_id TEXT PRIMARY KEY, fate TEXT)")
    conn.execute("DELETE FROM candidate")
    conn.executemany("INSERT OR IGNORE INTO candidate (user_id) VALUES (?)", ((u,) for u in user_ids))


def screen_users(db: RegistryLike, user_ids: Iterable[object], *, contact_cap: int = DEFAULT_CONTACT_CAP,
                 cap_window_days: int = DEFAULT_CAP_WINDOW_DAYS, now: datetime | None = None) -> Screening:
    """Screen the users of a send list that is not an experiment assignment (a budget plan): opt-outs, programme
    holdouts and the contact cap apply; the order of `user_ids` is kept in `kept`."""
    ids = [str(u) for u in user_ids]
    with registry(db) as database, transaction(database) as conn:
        fill_candidates(conn, ids)
        counts = mark_fates(conn, experiment_key=None, layer=None, contact_cap=contact_cap,
                            since=window_start(cap_window_days, now))
        blocked = {r[0] for r in conn.execute("SELECT user_id FROM candidate WHERE fate IS NOT NULL")}
        conn.execute("DROP TABLE candidate")
    kept = ~pd.Series(ids, dtype=object).isin(blocked).to_numpy()
    return Screening(kept, {fate: int(counts.get(fate, 0)) for fate in FATES if counts.get(fate)})
