"""Shared pieces for CLI command modules: the --db and --unknown-events options, and WinbackError → one clean line."""
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

unknown_events_option = click.option(
    "--unknown-events",
    type=click.Choice(["refuse", "skip"]),
    default="refuse",
    show_default=True,
    help="Rows of event types Winback does not know: refuse the file, or skip those rows (one line says how many "
         "of which types); every other row is checked either way.",
)


def echo_unknown(result: Any, *, err: bool = False) -> None:
    """Print the one line saying which rows of unknown event types a load left out (nothing when none were);
    `err` for commands whose standard output is their result (JSON, tables)."""
    if result is not None and result.unknown_types:
        from churn.ingest import describe_unknown

        click.echo(describe_unknown(result.unknown_types), err=err)


def clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a WinbackError into a click error: 'Error: <message>' and exit code 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WinbackError as error:
            raise click.ClickException(str(error)) from error

    return wrapper
