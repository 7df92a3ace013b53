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


def existing_registry(db: str | None) -> str | None:
    """For read-only commands: refuse a registry file that does not exist instead of creating an empty one (a
    nightly `audit verify --db typo/x.db` would otherwise report an intact, empty log forever)."""
    from common.settings import resolve_db_path

    path = resolve_db_path(db)
    if not path.exists():
        raise click.ClickException(f"no registry at {path}: check --db or $WINBACK_DB (this command only reads, "
                                   "so it does not create one)")
    return db
