"""Errors raised while loading or querying behaviour data in the warehouse."""
from __future__ import annotations

from common.errors import InputRowError, WinbackError


class DataError(InputRowError):
    """Bad input data; the message names the file, the 1-based data row and the column, and the fix."""


class WarehouseError(WinbackError):
    """The warehouse cannot answer: missing file, no events loaded, or an engine failure."""
