"""Sessions that end (issue 23): a cookie saved before logout, a password change, a role change or a disable is
refused on its next request; sign-in is rate limited per user and per address, and failures are kept."""
from __future__ import annotations

from click.testing import CliRunner
from webui_client import login, post
from webui_shop import PASSWORD

from experiments.db import registry
from experiments.sessions import MAX_FAILURES_PER_USER
from winback.cli import cli


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def _signed_in(client) -> bool:
    return client.get("/experiments").status_code == 200


def test_a_cookie_saved_before_logout_is_refused(app, as_user) -> None:
    gina = as_user("gina")
    saved = _cookie(gina)
    assert _signed_in(_with_cookie(app, saved))
    post(gina, "/logout")
    assert not _signed_in(_with_cookie(app, saved))  # the copy an attacker kept is dead too


def test_password_role_and_disable_end_sessions_from_the_cli(shop, app, as_user) -> None:
    for change in (["user", "password", "finn", "--password-stdin"], ["user", "role", "finn", "strategy"],
                   ["user", "disable", "finn"]):
        finn = as_user("finn")
        saved = _cookie(finn)
        result = CliRunner().invoke(cli, [*change, "--db", str(shop.db)], input="a brand new password\n")
        assert result.exit_code == 0, result.output
        assert not _signed_in(_with_cookie(app, saved)), change
        if change[1] == "password":
            CliRunner().invoke(cli, ["user", "password", "finn", "--password-stdin", "--db", str(shop.db)],
                               input=f"{PASSWORD}\n")
    client = app.test_client()
    assert login(client, "finn").status_code == 401  # disabled
    assert CliRunner().invoke(cli, ["user", "enable", "finn", "--db", str(shop.db)]).exit_code == 0
    assert login(app.test_client(), "finn").status_code == 302
    with registry(shop.db) as database:
        assert database.execute("SELECT role FROM users WHERE name = 'finn'").fetchone() == ("strategy",)
        actions = [r[0] for r in database.execute("SELECT action FROM audit_log WHERE object_key = 'finn' "
                                                  "AND object_type = 'user' ORDER BY id")]
    changes = [a for a in actions if a in ("password", "role", "disable", "enable")]
    assert changes == ["password", "password", "role", "disable", "enable"]  # the second password: put back


def test_sign_in_is_rate_limited_and_failures_are_kept(shop, app) -> None:
    client = app.test_client()
    for _ in range(MAX_FAILURES_PER_USER):
        assert login(client, "gina", "wrong password").status_code == 401
    paused = login(client, "gina")  # even the right password waits out the window
    assert paused.status_code == 429 and "Sign-in is paused: too many failed sign-ins for this user" in paused.text
    assert login(app.test_client(), "stella").status_code == 302  # another user is not blocked
    with registry(shop.db) as database:
        assert database.execute("SELECT COUNT(*) FROM sign_in_failures WHERE user_name = 'gina'").fetchone() == (
            MAX_FAILURES_PER_USER,)


def test_every_response_carries_a_content_security_policy(as_user) -> None:
    policy = as_user("gina").get("/experiments").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_remove_deletes_the_user_and_their_tokens(shop) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["user", "token", "stella", "--db", str(shop.db)]).exit_code == 0
    result = runner.invoke(cli, ["user", "remove", "stella", "--yes", "--db", str(shop.db)])
    assert result.output == "user stella removed\n"
    with registry(shop.db) as database:
        assert database.execute("SELECT COUNT(*) FROM api_tokens WHERE user_name = 'stella'").fetchone() == (0,)
    assert runner.invoke(cli, ["user", "remove", "nobody", "--yes", "--db", str(shop.db)]).output == (
        "Error: unknown user 'nobody'\n")
