"""Login, roles per action, CSRF on every form, API tokens, and errors shown as pages without tracebacks."""
from __future__ import annotations

import pytest
from webui_client import csrf_of, login, post
from webui_shop import EXPERIMENT

from experiments.db import registry
from experiments.users import create_token, revoke_token


def test_pages_need_a_login(app) -> None:
    client = app.test_client()
    response = client.get("/experiments/wb-q4/results?method=ttest")
    assert response.status_code == 302
    assert response.location == "/login?next=/experiments/wb-q4/results?method%3Dttest"


def test_login_with_the_wrong_password_is_refused(app) -> None:
    client = app.test_client()
    response = login(client, "gina", "not the password")
    assert response.status_code == 401
    assert "Unknown user or wrong password." in response.text
    assert login(client, "nobody").status_code == 401
    assert client.get("/experiments").status_code == 302


def test_login_follows_only_local_next_paths(app) -> None:
    client = app.test_client()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "gina", "password": "correct horse battery", "csrf_token": token})
    assert response.location == "/experiments"


def test_login_form_without_csrf_token_is_rejected(app) -> None:
    response = app.test_client().post("/login", data={"username": "gina", "password": "correct horse battery"})
    assert response.status_code == 400
    assert "CSRF token is missing" in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("url, data", [
    ("/experiments/wb-q4/refresh", {}),
    ("/experiments/wb-q4/decide", {"winner": "reco", "rationale": "cheapest"}),
    ("/experiments/wb-q4/stop", {"confirm": "yes"}),
    ("/launch", {"action": "create", "key": "x"}),
    ("/logout", {}),
])
def test_every_form_rejects_a_missing_or_wrong_csrf_token(as_user, url: str, data: dict) -> None:
    client = as_user("ada")
    missing = client.post(url, data=data)
    wrong = client.post(url, data={**data, "csrf_token": "forged"})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "CSRF token is missing or does not match" in response.text
    with registry(client.application.config["DB"]) as database:  # nothing happened
        assert database.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


@pytest.mark.parametrize("name, url, data", [
    ("finn", "/launch", {"action": "create", "key": "new-one"}),
    ("stella", "/experiments/wb-q4/stop", {"confirm": "yes"}),
    ("gina", "/experiments/wb-q4/decide", {"winner": "reco", "rationale": "cheapest"}),
    ("finn", "/experiments/wb-q4/decide", {"winner": "reco", "rationale": "cheapest"}),
])
def test_roles_that_may_not_act_get_403(as_user, name: str, url: str, data: dict) -> None:
    response = post(as_user(name), url, data)
    assert response.status_code == 403
    assert "may not" in response.text and "Traceback" not in response.text


def test_every_role_may_look(as_user) -> None:
    for name in ("gina", "finn", "stella", "ada"):
        assert as_user(name).get("/experiments/wb-q4/finance").status_code == 200


def test_logout_ends_the_session(as_user) -> None:
    client = as_user("gina")
    assert post(client, "/logout").status_code == 302
    assert client.get("/experiments").status_code == 302


def _token(shop, name: str) -> str:
    with registry(shop.db) as database:
        return create_token(database, name, "tests").secret


def test_api_needs_a_token_or_session(app, shop) -> None:
    client = app.test_client()
    response = client.get("/api/v1/experiments")
    assert response.status_code == 401 and response.json["ok"] is False and response.json["status"] == 401
    bad = client.get("/api/v1/experiments", headers={"Authorization": "Bearer wbk_not-a-token"})
    assert bad.status_code == 401 and bad.json["message"] == "the API token is unknown or revoked"
    token = _token(shop, "finn")
    good = client.get("/api/v1/experiments", headers={"Authorization": f"Bearer {token}"})
    assert good.status_code == 200 and [e["key"] for e in good.json["experiments"]] == [EXPERIMENT]
    who = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json
    assert who["user"]["name"] == "finn" and who["via"] == "token"


def test_revoked_token_stops_working(app, shop) -> None:
    token = _token(shop, "ada")
    with registry(shop.db) as database:
        revoke_token(database, 1, actor="ada")
    response = app.test_client().get("/api/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_api_changes_need_a_token_and_the_role(app, shop, as_user) -> None:
    client = as_user("ada")
    # A logged-in browser session may read the API but not change anything through it (no CSRF there).
    assert client.get("/api/v1/experiments").status_code == 200
    assert client.post("/api/v1/experiments/wb-q4/refresh", data={"csrf_token": csrf_of(client)}).status_code == 401
    growth = {"Authorization": f"Bearer {_token(shop, 'gina')}"}
    made = app.test_client().post("/api/v1/experiments/wb-q4/refresh", headers=growth)
    assert made.status_code == 201 and made.json["snapshot"]["created_by"] == "gina"
    denied = app.test_client().post("/api/v1/experiments/wb-q4/decide", headers=growth,
                                    data={"winner": "reco", "rationale": "x"})
    assert denied.status_code == 403 and "may not decide" in denied.json["message"]


def test_errors_are_pages_not_tracebacks(app, as_user) -> None:
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    client = as_user("gina")
    unknown = client.get("/experiments/no-such/results")
    assert unknown.status_code == 404
    assert "unknown experiment &#39;no-such&#39;" in unknown.text and "Traceback" not in unknown.text
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "404 · Not Found" in missing.text
    broken = client.get("/boom")
    assert broken.status_code == 500
    assert "secret internals" not in broken.text and "Traceback" not in broken.text
    api = client.get("/api/v1/experiments/no-such/results")
    assert api.status_code == 404 and api.json["error"] == "Not Found"
    assert client.get("/experiments/wb-q4/results?method=magic").status_code == 400


def test_only_finance_and_admin_may_allocate(as_user) -> None:
    client = as_user("gina")
    assert client.get("/allocate").status_code == 200  # looking is allowed
    response = post(client, "/allocate", {"key": "p", "budget": "10"})
    assert response.status_code == 403 and "may not allocate" in response.text
    listed = as_user("finn").get("/api/v1/allocations").json
    assert [t["key"] for t in listed["treatments"]] == ["coupon_10", "reco_email"]
    assert [e["key"] for e in listed["experiments"]] == ["wb-q4"]
