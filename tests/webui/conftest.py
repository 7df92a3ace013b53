"""Fixtures: a small shop registry (built once, copied per test), a real Flask app, clients logged in per role."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from webui_client import login
from webui_shop import Shop, build_shop, copy_registry

from webui import create_app


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
