"""The web UI's secret key: $WINBACK_SECRET_KEY, else one generated for a demo and stored beside its registry."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from common.settings import secret_key_setting


def secret_key_file(db: str | os.PathLike[str]) -> Path:
    """Where a demo's generated key is kept: `<registry>.secret-key`, readable by its owner only."""
    return Path(f"{db}.secret-key")


def resolve_secret_key(db: str | os.PathLike[str], *, create: bool = False) -> str | None:
    """$WINBACK_SECRET_KEY, else the key stored beside the registry, else (create=True) a new stored key."""
    key = secret_key_setting()
    if key:
        return key
    path = secret_key_file(db)
    if path.exists():
        return path.read_text().strip() or None
    if not create:
        return None
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
