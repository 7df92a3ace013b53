"""CSRF protection for every form: a random token per session, checked on every state-changing request.

The REST API is exempt only for requests authenticated by a bearer token (a browser never sends one by
itself); session-authenticated API calls may only read.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, g, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    """The session's token, made on first use."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def _check() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.blueprint == "api" and g.get("via") == "token":
        return
    sent = request.form.get(FIELD) or request.headers.get(HEADER, "")
    expected = session.get(FIELD, "")
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="the form's CSRF token is missing or does not match this session; "
                               "reload the page and try again")


def init_app(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = csrf_token
