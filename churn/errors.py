"""Errors raised by churn modelling: bad dates, unknown models, data too thin to learn from."""
from common.errors import WinbackError


class ChurnError(WinbackError):
    """A churn operation that cannot run as asked; the message says what to change."""
