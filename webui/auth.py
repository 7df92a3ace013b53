"""Login, logout, who is asking (session or API token) and which roles may do which action."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from experiments.sessions import end_sessions, record_failed_sign_in, session_version, sign_in_block
from experiments.users import ROLES, authenticate, get_user, user_for_token
from webui.registry import get_db

bp = Blueprint("auth", __name__)

# Each action and the roles allowed to do it (admin may do everything); viewing needs only a login.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "launch": ("growth",),  # create, edit, start, stop experiments and assign users
    "import": ("growth",),  # upload deliveries and outcomes, undo an import
    "catalog": ("growth",),  # add and change treatments and metrics
    "refresh": ("growth", "finance", "strategy"),  # recompute an analysis snapshot
    "allocate": ("finance",),  # run a budget allocation
    "decide": ("strategy",),  # declare a winner
}


def allowed(action: str, role: str | None = None) -> bool:
    """Whether the role (default: the current user's) may do `action`."""
    role = role or (g.user.role if g.get("user") else None)
    if role is None:
        return False
    return role == "admin" or role in PERMISSIONS[action]


def _is_api() -> bool:
    return request.blueprint == "api"


def _is_download() -> bool:
    """A CSV twin of a page (GET .../*.csv): scripts fetch these with the same token as the JSON API."""
    return request.method in ("GET", "HEAD") and request.path.endswith(".csv")


def requires(action: str | None = None) -> Callable:
    """A logged-in user (API: a token, or the session for reads) and, when `action` is given, a role allowed to do it."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("user") is None:
                if _is_api() or (_is_download() and request.headers.get("Authorization")):
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
            if action is not None and not allowed(action):
                abort(403, description=f"your role ({g.user.role}) may not {action}; roles that may: "
                                       f"{', '.join(PERMISSIONS[action] + ('admin',))}")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _load_user() -> None:
    """g.user from a bearer token (API) or the session; g.via says which."""
    g.user, g.via = None, None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and (_is_api() or _is_download()):
        g.user, g.via = user_for_token(get_db(), header.removeprefix("Bearer ").strip()), "token"
        if g.user is None:
            abort(401, description="the API token is unknown or revoked")
        return
    if _is_api() and request.method not in ("GET", "HEAD", "OPTIONS"):
        abort(401, description="changes through the API need an API token (Authorization: Bearer ...)")
    name = session.get("user")
    if name:
        # A cookie made before a logout, a password or role change or a disable carries an older version: refused.
        if session.get("version") != session_version(get_db(), name):
            session.clear()
            return
        g.user, g.via = get_user(get_db(), name), "session"
        if g.user is None:
            session.clear()


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login.

    Browsers read `/\\evil.example` as `//evil.example` and drop tabs and newlines from a URL (`/<tab>/evil.example`),
    so a path holding a backslash or a control character is refused too, whatever the Location header's quoting.
    """
    if (not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc
            or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return url_for("growth.experiments")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        name, address = request.form.get("username", "").strip(), request.remote_addr or "unknown"
        blocked = sign_in_block(get_db(), name, address)
        if blocked is not None:
            current_app.logger.warning("sign-in refused for %r from %s: %s", name[:64], address, blocked.reason)
            flash(f"Sign-in is paused: {blocked.reason}. Try again after {blocked.retry_at}.", "error")
            return render_template("login.html", roles=ROLES), 429
        user = authenticate(get_db(), name, request.form.get("password", ""))
        if user is None:
            record_failed_sign_in(get_db(), name, address)
            current_app.logger.warning("failed sign-in for %r from %s", name[:64], address)
            flash("Unknown user or wrong password.", "error")
            return render_template("login.html", roles=ROLES), 401
        session.clear()
        session.permanent = True  # lives PERMANENT_SESSION_LIFETIME (8 hours), not the browser's whim
        session["user"], session["version"] = user.name, session_version(get_db(), user.name)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", roles=ROLES)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Ends every session of the user, not only this browser's copy of the cookie."""
    name = session.get("user")
    if name and session.get("version") == session_version(get_db(), name):
        end_sessions(get_db(), name, reason="logout", actor=name)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for /favicon.ico whatever the page links: answer with the page's icon, not a 404."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/")
def index() -> Any:
    return redirect(url_for("growth.experiments"))


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.context_processor(lambda: {"allowed": allowed, "current_user": g.get("user")})
