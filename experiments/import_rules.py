"""Rules an import must pass beyond its own file, checked on the staged rows inside the import's transaction.

- nothing is imported into a concluded experiment (its decision is final);
- opt-outs win: a delivery sent to a user at or after their opt-out is refused, naming the row;
- no timestamp lies in the future (more than a day ahead of the registry's clock) or before 1970;
- no number is larger than 1e15 in size (checked with the file's other values in imports.py);
- deliveries sent long before the experiment existed are imported but reported (a shop's clock may be set to
  its own calendar, e.g. the demo's simulated dates), so an off-by-decades date never passes silently.
"""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from experiments.errors import ImportDataError

FUTURE_SLACK = timedelta(days=1)
EARLIEST = "1970-01-01T00:00:00.000000Z"  # nothing a shop records predates the Unix epoch
MAX_ABS_VALUE = 1e15  # per value; squares summed over 10^8 users stay far inside float range
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def _first_bad(conn: sqlite3.Connection, sql: str, params: tuple[str, ...], path: str, column: str, problem: str) -> None:
    row = conn.execute(sql, params).fetchone()
    if row is not None:
        raise ImportDataError(path, int(row[0]), column, problem.format(*row[1:]))


def check_staged(conn: sqlite3.Connection, table: str, timestamps: tuple[str, ...], path: str,
                 now: datetime | None = None) -> None:
    """Refuse the first staged row that breaks a rule (concluded experiment, opted-out user, future time)."""
    _first_bad(
        conn, "SELECT s._row, s.experiment_key FROM staging s JOIN experiments e ON e.key = s.experiment_key "
              "WHERE e.status = 'concluded' ORDER BY s._row LIMIT 1", (),
        path, "experiment_key", "experiment '{}' is concluded; its data can no longer change",
    )
    latest = ((now or datetime.now(UTC)) + FUTURE_SLACK).strftime(STAMP)
    for column in timestamps:
        _first_bad(conn, f"SELECT _row, {column} FROM staging WHERE {column} > ? ORDER BY _row LIMIT 1", (latest,),
                   path, column, "{} lies in the future")
        _first_bad(conn, f"SELECT _row, {column} FROM staging WHERE {column} < ? ORDER BY _row LIMIT 1", (EARLIEST,),
                   path, column, "{} is before 1970; check the date")
    if table == "deliveries":
        _first_bad(
            conn, "SELECT s._row, s.user_id, o.opted_out_at, s.sent_at FROM staging s "
                  "JOIN opt_outs o ON o.user_id = s.user_id WHERE s.sent_at >= o.opted_out_at ORDER BY s._row LIMIT 1",
            (), path, "user_id",
            "user '{}' opted out at {}; a delivery sent at {} breaks the opt-out and is refused",
        )


def early_deliveries_note(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """A note when staged deliveries were sent more than a year before their experiment was created."""
    if table != "deliveries":
        return ()
    row = conn.execute(
        "SELECT COUNT(*), MIN(s.sent_at) FROM staging s JOIN experiments e ON e.key = s.experiment_key "
        "WHERE julianday(s.sent_at) < julianday(e.created_at) - 366").fetchone()
    if not row[0]:
        return ()
    note = (f"{row[0]} deliveries were sent over a year before their experiment was created (earliest {row[1]}); "
            "check the sent_at clock")
    return (note,)
