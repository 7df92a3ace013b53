"""Shared pieces for CLI command modules: the --db option and WinbackError → one clean line."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from common.errors import WinbackError

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Registry file (default: $WINBACK_DB, else ./registry.db).",
)


def clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a WinbackError into a click error: 'Error: <message>' and exit code 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WinbackError as error:
            raise click.ClickException(str(error)) from error

    return wrapper
