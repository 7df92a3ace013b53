"""One registry connection per request, opened on first use and closed when the request ends."""
from __future__ import annotations

import sqlite_utils
from flask import Flask, current_app, g

from experiments.db import open_registry


def get_db() -> sqlite_utils.Database:
    """The request's open registry (created on first use)."""
    if "database" not in g:
        g.database = open_registry(current_app.config["DB"])
    return g.database


def db_path() -> str:
    """The registry file path, for services that still take a path."""
    return str(current_app.config["DB"])


def close_db(_error: BaseException | None = None) -> None:
    database = g.pop("database", None)
    if database is not None:
        database.conn.close()


def init_app(app: Flask) -> None:
    """Close the request's connection on teardown; migrate the registry once at start."""
    app.teardown_appcontext(close_db)
    open_registry(app.config["DB"]).conn.close()
