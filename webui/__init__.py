"""Winback's web UI and REST API: Flask app factory, blueprints by audience, pages that read services.

`create_app(config)` wires the registry connection per request, login and roles, CSRF, error pages and
the blueprints: growth (experiments, overview, launch, results), finance, strategy, models, and the
JSON API under /api/v1. Views parse input, call core services and format; they hold no SQL.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from common.errors import WinbackError
from common.settings import currency_setting, resolve_db_path, secret_key_setting


class WebConfigError(WinbackError):
    """The web UI cannot start with this configuration (e.g. no secret key)."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app; `config` overrides DB (registry path), SECRET_KEY and CURRENCY (else their WINBACK_* settings)."""
    app = Flask(__name__)
    app.config.from_mapping(
        DB=str(resolve_db_path()),
        SECRET_KEY=secret_key_setting(),
        CURRENCY=currency_setting(),  # shown after every money amount; None: plain numbers
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),  # a working day; logout and account changes end it sooner
        MAX_CONTENT_LENGTH=256 * 1024 * 1024,  # a scores file of a few million users
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        raise WebConfigError("the web UI needs a secret key: set WINBACK_SECRET_KEY (e.g. to the output of "
                             "`python -c 'import secrets; print(secrets.token_hex(32))'`) or use `winback serve --demo`")

    from webui import auth, csrf, errors, formatting, registry
    from webui.views import api, catalog, data, finance, growth, models, programmes, strategy

    registry.init_app(app)
    auth.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    for blueprint in (auth.bp, growth.bp, data.bp, catalog.bp, finance.bp, strategy.bp, models.bp, programmes.bp,
                      api.bp):
        app.register_blueprint(blueprint)
    app.after_request(_security_headers)
    return app


def _security_headers(response: Any) -> Any:
    """No page may be framed by another site (a hidden frame could trick a click on Stop or Decide), and no
    download (a CSV of names someone typed) may be sniffed into HTML by the browser."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Scripts, styles and images only from this server (charts are inline SVG; bars use style attributes).
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
    return response
