"""Fixtures: a small shop registry (built once, copied per test), a real Flask app, clients logged in per role."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from webui_shop import PASSWORD, Shop, build_shop

from webui import create_app


def copy_registry(source: Path, target: Path) -> None:
    """A consistent copy with SQLite's backup API (includes what still sits in the WAL file)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return build_shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture
def shop(shop_template: Shop, tmp_path: Path) -> Shop:
    """A private copy of the shop registry for one test."""
    db = tmp_path / "registry.db"
    copy_registry(shop_template.db, db)
    return Shop(db, shop_template.outcomes)


@pytest.fixture
def app(shop: Shop) -> Flask:
    return create_app({"DB": str(shop.db), "SECRET_KEY": "test-secret", "TESTING": True})


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


@pytest.fixture
def as_user(app: Flask):
    """as_user('gina') → a client logged in as gina."""
    def make(name: str) -> FlaskClient:
        client = app.test_client()
        response = login(client, name)
        if response.status_code != 302:
            raise RuntimeError(f"login of {name} failed: {response.status_code}")
        return client
    return make
