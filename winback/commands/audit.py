"""`winback audit verify`: re-compute the audit log's hash chain and name the first broken row."""
from __future__ import annotations

import json

import click

from winback.cli_support import clean_errors, db_option, existing_registry


@click.group()
def audit() -> None:
    """The registry's append-only, hash-chained audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@db_option
@clean_errors
def audit_verify(as_json: bool, db: str | None) -> None:
    """Check every audit row against its hash and its predecessor's; exit 1 naming the first broken row."""
    db = existing_registry(db)
    from experiments.audit_log import verify_audit_log

    check = verify_audit_log(db)
    if as_json:
        click.echo(json.dumps(check.to_dict(), indent=2))
    if not check.ok:
        raise click.ClickException(f"audit log broken at row {check.first_broken_id}: {check.problem}")
    if not as_json:
        click.echo(f"audit log intact: {check.rows} rows, head hash {check.head_hash}")
