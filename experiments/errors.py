"""Errors raised by the experiment registry, assignment and imports."""
from common.errors import InputRowError, WinbackError


class ExperimentError(WinbackError):
    """A registry operation that the experiment's state or definition does not allow."""


class ImportDataError(InputRowError):
    """Bad input in an imported file; the message names the file, row and column."""


class RegistryError(ExperimentError):
    """The registry file cannot be used: not a SQLite database, locked too long, or its audit log is broken."""
