"""`winback user` and `winback serve`: exit codes and exact lines; the demo's logins and stored secret key."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner

from experiments.db import registry
from experiments.users import authenticate, user_for_token
from webui.config import resolve_secret_key, secret_key_file
from winback.cli import cli
from winback.web_demo import demo_logins


def run(*args: str, stdin: str | None = None, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin, env=env)


def test_user_add_reads_the_password_from_stdin_and_hashes_it(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    result = run("user", "add", "ana", "--role", "growth", "--password-stdin", "--db", db, stdin="long enough pw\n")
    assert result.exit_code == 0 and result.output == "user ana added with role growth\n"
    with registry(db) as database:
        assert authenticate(database, "ana", "long enough pw").role == "growth"
    again = run("user", "add", "ana", "--role", "admin", "--password-stdin", "--db", db, stdin="long enough pw\n")
    assert again.exit_code == 1
    assert again.output == ("Error: user 'ana' already exists; pick another name or use `winback user password`\n")
    short = run("user", "add", "bo", "--role", "finance", "--password-stdin", "--db", db, stdin="short\n")
    assert short.output == "Error: the password of 'bo' must have at least 8 characters\n"
    bad_role = run("user", "add", "bo", "--role", "boss", "--password-stdin", "--db", db, stdin="long enough pw\n")
    assert bad_role.exit_code == 2 and "'boss' is not one of 'growth', 'finance', 'strategy', 'admin'" in bad_role.output


def test_user_token_prints_the_secret_once(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    run("user", "add", "fin", "--role", "finance", "--password-stdin", "--db", db, stdin="long enough pw\n")
    result = CliRunner().invoke(cli, ["user", "token", "fin", "--label", "export", "--db", db])
    assert result.exit_code == 0
    secret = result.stdout.strip()
    with registry(db) as database:
        assert user_for_token(database, secret).name == "fin"
    listed = run("user", "list", "--db", db).output
    assert listed.startswith("fin\tfinance\t1 active token(s)\tsince ")
    assert run("user", "revoke-token", "1", "--db", db).output == "token 1 revoked\n"
    assert run("user", "token", "ghost", "--db", db).output == (
        "Error: unknown user 'ghost'; add it first with `winback user add`\n")


def test_serve_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WINBACK_SECRET_KEY"}
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "r.db")], env={**env, "WINBACK_SECRET_KEY": ""})
    assert result.exit_code == 1
    assert result.output == ("Error: set WINBACK_SECRET_KEY (a long random string) before serving a real registry, "
                             "or run `winback serve --demo`\n")


def test_demo_secret_key_is_generated_once_and_private(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WINBACK_SECRET_KEY", raising=False)
    db = tmp_path / "r.db"
    assert resolve_secret_key(db) is None
    made = resolve_secret_key(db, create=True)
    assert len(made) == 64 and resolve_secret_key(db) == made
    assert stat.S_IMODE(secret_key_file(db).stat().st_mode) == 0o600
    monkeypatch.setenv("WINBACK_SECRET_KEY", "from-the-environment")
    assert resolve_secret_key(db) == "from-the-environment"


def test_demo_logins_one_per_role_with_fresh_passwords(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = demo_logins(db)
    assert {name: role for name, (role, _) in first.items()} == {
        "demo-growth": "growth", "demo-finance": "finance", "demo-strategy": "strategy", "demo-admin": "admin"}
    second = demo_logins(db)
    with registry(db) as database:
        for name, (role, password) in second.items():
            assert authenticate(database, name, password).role == role
            assert authenticate(database, name, first[name][1]) is None
