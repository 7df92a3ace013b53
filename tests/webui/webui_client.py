"""Test-client helpers: log in through the form, post forms with the session's CSRF token."""
from __future__ import annotations

import re

from flask.testing import FlaskClient
from webui_shop import PASSWORD


def csrf_of(client: FlaskClient) -> str:
    """The session's CSRF token (made by any page that has a form)."""
    with client.session_transaction() as session:
        if "csrf_token" not in session:
            session["csrf_token"] = "token-for-tests-0123456789"
        return session["csrf_token"]


def login(client: FlaskClient, name: str, password: str = PASSWORD):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def post(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """A form POST carrying the session's CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_of(client)}, **kwargs)
