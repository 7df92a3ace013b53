"""Errors raised by the statistics engine: bad inputs a caller can fix."""
from common.errors import WinbackError


class StatsError(WinbackError):
    """Inputs the statistics cannot work with; the message names the argument, its value and the fix."""
