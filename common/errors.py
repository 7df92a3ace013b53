"""The root of every Winback exception; each package subclasses it in its own errors.py.

This module imports nothing so core packages can depend on it without pulling in a front door.
"""
from __future__ import annotations


class WinbackError(Exception):
    """An error a user can act on; the CLI prints its message as one line, without a traceback."""


class InputRowError(WinbackError):
    """Bad input in a file or frame: the message names the source, the 1-based data row and the column."""

    def __init__(self, source: str, row: int | None, column: str | None, problem: str):
        where = str(source)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")
        self.source, self.row, self.column, self.problem = str(source), row, column, problem
