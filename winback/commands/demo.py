"""`winback demo`: build the demo registry and run every stage of the pipeline on it."""
from __future__ import annotations

import json

import click

from common.settings import resolve_db_path
from winback.cli_support import clean_errors


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Registry file to (re)build (default: $WINBACK_DB, else ./registry.db). Replaced if it exists.")
@click.option("--users", "n_users", type=click.IntRange(min=500, max=2_000_000), default=20_000, show_default=True,
              help="How many shop users to simulate.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the simulated shop.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the demo writes its delivery/outcome files and models (default: a temporary folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@clean_errors
def demo(db: str | None, n_users: int, seed: int, workdir: str | None, as_json: bool) -> None:
    """Simulate a shop and run churn → experiment → analysis → uplift → allocation on it, printing a summary."""
    from winback.demo import run_demo  # heavy imports only when the demo runs

    summary = run_demo(resolve_db_path(db), n_users=n_users, seed=seed, workdir=workdir, progress=not as_json)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
    click.echo(f"\nDemo registry: {summary.db}")
    for line in summary.lines:
        click.echo(line)
    click.echo(f"\nNext: winback analyze demo-winback --db {summary.db}")
