"""Where things live: arguments first, then WINBACK_* environment variables, then defaults."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = "registry.db"
DEFAULT_MODEL_DIR = "models"


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The registry path: the --db argument, else $WINBACK_DB, else ./registry.db."""
    return Path(db or os.environ.get("WINBACK_DB") or DEFAULT_DB)


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where fitted models are saved: the argument, else $WINBACK_MODEL_DIR, else ./models."""
    return Path(model_dir or os.environ.get("WINBACK_MODEL_DIR") or DEFAULT_MODEL_DIR)
