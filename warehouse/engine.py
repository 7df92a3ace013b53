"""The SQL runner: where the warehouse lives and how queries reach it (SQLite now, a Spark seam later).

Callers only use `Warehouse.query_frame`, `Warehouse.transaction` and `Warehouse.dialect`; a Spark
engine would implement the same three with a SparkSession, and the feature SQL (warehouse/feature_sql.py)
renders its few engine-specific expressions through the dialect.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from common.settings import resolve_db_path, resolve_warehouse_setting
from warehouse.errors import WarehouseError

EngineName = Literal["sqlite", "spark"]
BUSY_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Dialect:
    """The engine-specific bits of otherwise standard SQL."""

    name: EngineName

    def days_between(self, start: str, end: str) -> str:
        """SQL for the (fractional) days from timestamp expression `start` to `end`."""
        if self.name == "sqlite":
            return f"(julianday({end}) - julianday({start}))"
        return f"((unix_timestamp({end}) - unix_timestamp({start})) / 86400.0)"


def resolve_warehouse_path(
    warehouse: str | os.PathLike[str] | None = None, db: str | os.PathLike[str] | None = None
) -> Path:
    """The warehouse file: the argument, else $WINBACK_WAREHOUSE, else the registry file itself."""
    return Path(resolve_warehouse_setting(warehouse) or resolve_db_path(db))


class Warehouse:
    """A SQLite warehouse file holding the `events` table; runs SQL and returns DataFrames."""

    dialect = Dialect("sqlite")

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as error:
            raise WarehouseError(f"cannot open the warehouse {self.path}: {error}") from error
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA temp_store = FILE")
        self.conn.execute("PRAGMA cache_size = -262144")  # 256 MB page cache for GROUP BY scans

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    def query_frame(self, sql: str, params: dict | tuple = (), chunk_rows: int = 100_000) -> pd.DataFrame:
        """Run one SELECT and return its rows as a DataFrame (fetched in chunks to bound memory)."""
        try:
            chunks = list(pd.read_sql_query(sql, self.conn, params=params, chunksize=chunk_rows))
        except (sqlite3.Error, pd.errors.DatabaseError) as error:
            raise WarehouseError(f"query failed on {self.path}: {error}") from error
        if not chunks:
            cursor = self.conn.execute(f"SELECT * FROM ({sql}) LIMIT 0", params)
            return pd.DataFrame(columns=[c[0] for c in cursor.description])
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]

    def scalar(self, sql: str, params: dict | tuple = ()) -> object:
        """The first column of the first row of a query (None when there is no row)."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def has_table(self, name: str) -> bool:
        return self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) == 1

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any error rolls back so the warehouse stays as it was."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def open_warehouse(
    warehouse: str | os.PathLike[str] | Warehouse | None = None, db: str | os.PathLike[str] | None = None
) -> Warehouse:
    """A Warehouse for a path (or the default location); an open Warehouse is passed through."""
    if isinstance(warehouse, Warehouse):
        return warehouse
    return Warehouse(resolve_warehouse_path(warehouse, db))
