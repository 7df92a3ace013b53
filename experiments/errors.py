"""Errors raised by the experiment registry, assignment and imports."""
from winback.errors import WinbackError


class ExperimentError(WinbackError):
    """A registry operation that the experiment's state or definition does not allow."""


class ImportDataError(WinbackError):
    """Bad input in an imported file; the message names the file, row and column."""

    def __init__(self, path: str, row: int | None, column: str | None, problem: str):
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")
        self.path, self.row, self.column, self.problem = str(path), row, column, problem
