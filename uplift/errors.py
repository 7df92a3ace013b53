"""Errors raised by uplift models, evaluation, the model store and budget allocation."""
from common.errors import WinbackError


class UpliftError(WinbackError):
    """Bad input to an uplift fit, score or allocation; the message names the column, value and fix."""
