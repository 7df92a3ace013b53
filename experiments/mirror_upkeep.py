"""Keeping the fact mirror in step when the registry's services write, so the next analysis finds it ready.

Nothing depends on these calls for correctness (every use of the mirror checks it first, experiments/fact_mirror.py):
they move the copying to the write that caused it, and let `import undo` drop one batch's rows from the mirror
instead of rebuilding it. A mirror that cannot be used now is left for the next analysis to bring up.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from common.settings import facts_setting
from experiments.fact_mirror import FactMirror, Fingerprint, MirrorUnavailable, fingerprint, registry_file

_UNUSABLE = (MirrorUnavailable, OSError, sqlite3.Error, ValueError)


def _mirror(conn: sqlite3.Connection) -> FactMirror | None:
    path = registry_file(conn)
    if path is None or facts_setting() != "mirror":
        return None
    return FactMirror(path)


def refresh_mirror(conn: sqlite3.Connection) -> bool:
    """Bring the registry's mirror in step now (call after a write is committed); False when it cannot be."""
    mirror = _mirror(conn)
    if mirror is None:
        return False
    try:
        with mirror.locked():
            mirror.sync(conn)
    except _UNUSABLE:
        return False
    return True


class UndoMark:
    """The registry's fingerprint of one table just before and just after a batch's rows are deleted."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self.conn, self.table = conn, table
        self.before: Fingerprint | None = None
        self.after: Fingerprint | None = None

    def mark_before(self) -> None:
        self.before = fingerprint(self.conn, self.table)

    def mark_after(self) -> None:
        self.after = fingerprint(self.conn, self.table)


@contextmanager
def undoing_import(conn: sqlite3.Connection, table: str, import_id: int) -> Iterator[UndoMark]:
    """Around an undo's transaction: the mirror synced first, then that batch's rows dropped from it after commit."""
    mark = UndoMark(conn, table)
    mirror = _mirror(conn)
    with ExitStack() as stack:
        try:
            if mirror is not None:
                stack.enter_context(mirror.locked())
                mirror.sync(conn)
        except _UNUSABLE:
            stack.close()
            mirror = None
        yield mark
        if mirror is not None and mark.before is not None and mark.after is not None:
            try:
                mirror.drop_import(table, import_id, mark.before, mark.after)
            except _UNUSABLE:
                pass
