"""Uploaded files kept between a preview and its confirmation: one folder beside the registry, random names only.

A name typed by a user never becomes a path: a stored upload is addressed by a token this module made (hex), and
its original file name is kept only as text for messages.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import abort
from werkzeug.datastructures import FileStorage

from webui.registry import db_path

SUFFIXES = (".csv", ".parquet", ".pq")
TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _folder() -> Path:
    registry = Path(db_path())
    folder = registry.with_name(f"{registry.stem}-uploads")
    folder.mkdir(exist_ok=True)
    return folder


def keep(upload: FileStorage | None, what: str) -> tuple[str, str]:
    """Store an uploaded table under a random token; returns (token, the file's own name for messages)."""
    if upload is None or not upload.filename:
        abort(400, description=f"choose the {what} file (CSV or Parquet)")
    name = Path(upload.filename).name
    suffix = Path(name).suffix.lower()
    token = secrets.token_hex(16)
    upload.save(_folder() / f"{token}{suffix if suffix in SUFFIXES else '.csv'}")
    return token, name


def path_of(token: str) -> Path:
    """The stored upload of a token made by `keep`; anything else is a 400."""
    if not TOKEN.match(token or ""):
        abort(400, description="the uploaded file is unknown or already imported; choose it again")
    found = [p for p in (_folder() / f"{token}{s}" for s in SUFFIXES) if p.is_file()]
    if not found:
        abort(400, description="the uploaded file is unknown or already imported; choose it again")
    return found[0]


def discard(token: str) -> None:
    """Forget a stored upload (after its import, or when the preview refused it)."""
    if TOKEN.match(token or ""):
        for suffix in SUFFIXES:
            (_folder() / f"{token}{suffix}").unlink(missing_ok=True)
