"""Errors the front door raises itself (bad combinations of options or files), shown as one `Error:` line."""
from __future__ import annotations

from common.errors import WinbackError


class CommandError(WinbackError):
    """A command cannot run as asked; the message says what to do instead."""


def cli_error(message: str) -> CommandError:
    """The error to raise for `message`."""
    return CommandError(message)
