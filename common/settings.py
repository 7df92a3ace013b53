"""Every setting Winback reads: arguments first, then WINBACK_* environment variables, then defaults.

This is the only module that reads `WINBACK_*` variables, so `grep` finds every knob in one place.
"""
from __future__ import annotations

import getpass
import os
from pathlib import Path

DEFAULT_DB = "registry.db"
DEFAULT_MODEL_DIR = "models"
DEFAULT_SPARK_MASTER = "local[*]"

ENV_DB = "WINBACK_DB"
ENV_WAREHOUSE = "WINBACK_WAREHOUSE"
ENV_MODEL_DIR = "WINBACK_MODEL_DIR"
ENV_VALUE_PER_RETAINED = "WINBACK_VALUE_PER_RETAINED"
ENV_ACTOR = "WINBACK_ACTOR"
ENV_SPARK_MASTER = "WINBACK_SPARK_MASTER"
ENV_SECRET_KEY = "WINBACK_SECRET_KEY"
ENV_DUCKDB_MEMORY = "WINBACK_DUCKDB_MEMORY"
ENV_CURRENCY = "WINBACK_CURRENCY"
ENV_FACTS = "WINBACK_FACTS"

SETTINGS: dict[str, str] = {
    ENV_DB: "registry file (default ./registry.db)",
    ENV_WAREHOUSE: "warehouse file holding the behaviour events (default: beside the registry)",
    ENV_MODEL_DIR: "folder of fitted model files (default ./models)",
    ENV_VALUE_PER_RETAINED: "value of one retained customer for margin and ROI (default: none)",
    ENV_ACTOR: "who the audit log names (default: the login user)",
    ENV_SPARK_MASTER: "Spark master for --engine spark (default local[*])",
    ENV_SECRET_KEY: "the web UI's session signing key (required by `winback serve` outside the demo)",
    ENV_DUCKDB_MEMORY: "cap on the DuckDB warehouse's memory, e.g. 2GB (it spills to disk past it; default: DuckDB's)",
    ENV_CURRENCY: "currency shown after money amounts, e.g. EUR (default: none; costs and values are plain numbers)",
    ENV_FACTS: "where analysis SQL reads assignments and outcomes: mirror (columnar copy beside the registry, default) "
               "or registry (SQLite itself)",
}


def env(name: str) -> str | None:
    """A WINBACK_* variable, None when unset or empty."""
    if name not in SETTINGS:
        raise KeyError(f"unknown setting {name}")
    value = os.environ.get(name)
    return value if value else None


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The registry path: the --db argument, else $WINBACK_DB, else ./registry.db."""
    return Path(db or env(ENV_DB) or DEFAULT_DB)


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where fitted models are saved: the argument, else $WINBACK_MODEL_DIR, else ./models."""
    return Path(model_dir or env(ENV_MODEL_DIR) or DEFAULT_MODEL_DIR)


def resolve_warehouse_setting(warehouse: str | os.PathLike[str] | None = None) -> str | None:
    """The warehouse argument, else $WINBACK_WAREHOUSE, else None (the engine picks its default)."""
    return str(warehouse) if warehouse else env(ENV_WAREHOUSE)


def resolve_actor(actor: str | None = None) -> str:
    """Who the audit log names: the argument, else $WINBACK_ACTOR, else the login user."""
    if actor:
        return actor
    named = env(ENV_ACTOR)
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def value_per_retained_setting() -> str | None:
    """$WINBACK_VALUE_PER_RETAINED as text (the caller parses and validates it), None when unset."""
    return env(ENV_VALUE_PER_RETAINED)


def resolve_spark_master(master: str | None = None) -> str:
    """The Spark master: the argument, else $WINBACK_SPARK_MASTER, else local[*]."""
    return master or env(ENV_SPARK_MASTER) or DEFAULT_SPARK_MASTER


def secret_key_setting() -> str | None:
    """$WINBACK_SECRET_KEY, None when unset."""
    return env(ENV_SECRET_KEY)


def duckdb_memory_setting() -> str | None:
    """$WINBACK_DUCKDB_MEMORY (e.g. '2GB'), None when unset: DuckDB then takes its own default (80% of RAM)."""
    return env(ENV_DUCKDB_MEMORY)


def currency_setting() -> str | None:
    """$WINBACK_CURRENCY (e.g. 'EUR'), shown after money amounts; None when unset."""
    return env(ENV_CURRENCY)


def facts_setting(facts: str | None = None) -> str:
    """Where analysis SQL runs: the argument, else $WINBACK_FACTS, else 'mirror' (the caller checks the value)."""
    return facts or env(ENV_FACTS) or "mirror"
