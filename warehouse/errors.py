"""Errors raised while loading or querying behaviour data in the warehouse."""
from __future__ import annotations

from winback.errors import WinbackError


class DataError(WinbackError):
    """Bad input data; the message names the file, the 1-based data row and the column, and the fix."""

    def __init__(self, source: str, row: int | None, column: str | None, problem: str):
        where = str(source)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")
        self.source, self.row, self.column, self.problem = str(source), row, column, problem


class WarehouseError(WinbackError):
    """The warehouse cannot answer: missing file, no events loaded, or an engine failure."""
