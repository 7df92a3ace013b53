"""`winback user`: web UI users (hashed passwords, one role each) and their REST API tokens."""
from __future__ import annotations

import sys

import click

from experiments.choices import ROLES
from winback.cli_support import clean_errors, db_option


@click.group()
def user() -> None:
    """Web UI users and API tokens."""


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@db_option
@clean_errors
def add(name: str, role: str, password_stdin: bool, db: str | None) -> None:
    """Add user NAME with a role; the password is asked for (or read from stdin) and stored hashed."""
    from experiments.db import registry
    from experiments.users import add_user

    with registry(db) as database:
        created = add_user(database, name, _password(password_stdin), role)
    click.echo(f"user {created.name} added with role {created.role}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@db_option
@clean_errors
def password(name: str, password_stdin: bool, db: str | None) -> None:
    """Set a new password for user NAME."""
    from experiments.db import registry
    from experiments.users import set_password

    with registry(db) as database:
        set_password(database, name, _password(password_stdin))
    click.echo(f"password of {name} changed")


@user.command("list")
@db_option
@clean_errors
def list_(db: str | None) -> None:
    """Users with their roles and active API tokens."""
    from experiments.db import registry
    from experiments.users import list_tokens, list_users

    with registry(db) as database:
        users, tokens = list_users(database), list_tokens(database)
    for item in users:
        active = [t for t in tokens if t.user_name == item.name and t.revoked_at is None]
        click.echo(f"{item.name}\t{item.role}\t{len(active)} active token(s)\tsince {item.created_at[:10]}")


@user.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for (shown in listings).")
@db_option
@clean_errors
def token(name: str, label: str, db: str | None) -> None:
    """Make a REST API token for user NAME; it is printed once and only its hash is kept."""
    from experiments.db import registry
    from experiments.users import create_token

    with registry(db) as database:
        made = create_token(database, name, label)
    click.echo(made.secret)
    click.echo(f"token {made.id} of {name}: send it as 'Authorization: Bearer <token>'; it is not shown again",
               err=True)


@user.command("revoke-token")
@click.argument("token_id", type=int)
@db_option
@clean_errors
def revoke(token_id: int, db: str | None) -> None:
    """Revoke API token TOKEN_ID (see `winback user list`)."""
    from experiments.db import registry
    from experiments.users import revoke_token

    with registry(db) as database:
        revoke_token(database, token_id)
    click.echo(f"token {token_id} revoked")


@user.command("disable")
@click.argument("name")
@db_option
@clean_errors
def disable(name: str, db: str | None) -> None:
    """Disable user NAME: their sessions and API tokens stop working at once (enable brings them back)."""
    from experiments.db import registry
    from experiments.sessions import set_disabled

    with registry(db) as database:
        set_disabled(database, name, True)
    click.echo(f"user {name} disabled: their sessions ended and their tokens refused")


@user.command("enable")
@click.argument("name")
@db_option
@clean_errors
def enable(name: str, db: str | None) -> None:
    """Enable user NAME again (they sign in anew)."""
    from experiments.db import registry
    from experiments.sessions import set_disabled

    with registry(db) as database:
        set_disabled(database, name, False)
    click.echo(f"user {name} enabled")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@db_option
@clean_errors
def role(name: str, role: str, db: str | None) -> None:
    """Give user NAME another role; their sessions end, so it applies from their next sign-in."""
    from experiments.db import registry
    from experiments.sessions import set_role

    with registry(db) as database:
        set_role(database, name, role)
    click.echo(f"user {name} is now {role}; their sessions ended")


@user.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@clean_errors
def remove(name: str, yes: bool, db: str | None) -> None:
    """Remove user NAME and their API tokens (the audit log keeps their name on what they did)."""
    from experiments.db import registry
    from experiments.sessions import remove_user

    if not yes:
        click.confirm(f"Remove user {name} and their API tokens?", abort=True)
    with registry(db) as database:
        remove_user(database, name)
    click.echo(f"user {name} removed")
