"""Errors as pages (or one JSON shape under /api/v1), never a traceback."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from common.errors import WinbackError
from webui.wording import for_the_page


def _respond(status: int, title: str, message: str) -> Any:
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return jsonify({"ok": False, "status": status, "error": title, "message": message}), status
    return render_template("error.html", status=status, title=title, message=message), status


def _http_error(error: HTTPException) -> Any:
    return _respond(error.code or 500, error.name, error.description or "")


def _winback_error(error: WinbackError) -> Any:
    """A refused operation (bad input, wrong state): the service's own message, status 400."""
    return _respond(400, "Not possible", str(error) if request.blueprint == "api" else for_the_page(str(error)))


def _unexpected(error: Exception) -> Any:
    current_app.logger.exception("unexpected error on %s", request.path)
    return _respond(500, "Internal Server Error", "Something went wrong on our side; the error is in the server log.")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(WinbackError, _winback_error)
    app.register_error_handler(Exception, _unexpected)
