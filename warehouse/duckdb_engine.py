"""DuckDB, the embedded default warehouse: one file of typed columns, SQL run in-process, Parquet out.

The registry stays on SQLite (small and transactional); behaviour events, features and scores live
here. Callers use `query_frame`, `scalar`, `has_table`, `transaction`, `dialect` and `write_parquet`;
the Spark engine (warehouse/spark_engine.py) offers the same, so the feature SQL runs on either.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.dialect import Dialect
from warehouse.errors import DataError, WarehouseError

if TYPE_CHECKING:  # frames come from DuckDB's own .df(); opening a warehouse does not load pandas
    import pandas as pd


class DuckDBWarehouse:
    """A DuckDB file holding the `events` table (and anything exported to it); runs SQL into DataFrames."""

    dialect = Dialect("duckdb")
    engine = "duckdb"

    def __init__(self, path: str | os.PathLike[str], memory_limit: str | None = None):
        """Open (or create) the file; `memory_limit` such as '2GB' caps DuckDB's memory (it spills to disk past it)."""
        import duckdb  # here, not at import time: the CLI's --help must stay fast

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.Error = duckdb.Error
        try:
            self.conn = duckdb.connect(str(self.path))
            if memory_limit is not None:
                self.conn.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), '')}'")
        except duckdb.Error as error:
            raise WarehouseError(f"cannot open the warehouse {self.path} as a DuckDB file: {error}") from error

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({str(self.path)!r})"

    def execute(self, sql: str, params: Mapping[str, object] | None = None):
        """Run one statement with bound parameters; engine failures become WarehouseError."""
        try:
            return self.conn.execute(self.dialect.bind(sql, params))
        except self.Error as error:
            raise WarehouseError(f"query failed on {self.path}: {error}") from error

    def query_frame(self, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Run one SELECT and return its rows as a DataFrame."""
        cursor = self.execute(sql, params)
        try:
            return cursor.df()
        except self.Error as error:
            raise WarehouseError(f"query failed on {self.path}: {error}") from error

    def scalar(self, sql: str, params: Mapping[str, object] | None = None) -> object:
        """The first column of the first row of a query (None when there is no row)."""
        rows = self.execute(sql, params).fetchall()  # fetched to the end: DuckDB 2 keeps a pending result otherwise
        return rows[0][0] if rows else None

    def has_table(self, name: str) -> bool:
        """Whether a table or view of that name exists."""
        count = self.scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = :name",
                            {"name": name})
        return isinstance(count, int) and count > 0

    def put_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Replace table `name` with the rows of a DataFrame (used to export small registry tables)."""
        self.conn.register("_winback_frame", frame)
        try:
            self.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _winback_frame')
        finally:
            self.conn.unregister("_winback_frame")

    def write_parquet(self, sql: str, path: str | os.PathLike[str], params: Mapping[str, object] | None = None) -> Path:
        """Write a query's rows to a Parquet file (COPY, streamed by DuckDB without a DataFrame)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        quoted = str(target).replace("'", "''")
        self.execute(f"COPY ({sql}) TO '{quoted}' (FORMAT PARQUET)", params)
        return target

    @contextmanager
    def transaction(self) -> Iterator:
        """BEGIN ... COMMIT; any error rolls back so the warehouse stays as it was."""
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def read_raw(path: Path) -> pd.DataFrame:
    """A CSV (every column as text, so ids keep leading zeros) or Parquet file read by DuckDB's readers.

    A file DuckDB cannot read is a DataError naming the file and DuckDB's first line of explanation.
    """
    import duckdb

    sql = f"SELECT * FROM {reader_sql(path)}"
    conn = duckdb.connect()
    try:
        return conn.execute(sql).df()
    except (duckdb.Error, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(str(path), None, None, f"cannot be read as CSV or Parquet ({reason})") from error
    finally:
        conn.close()


def reader_sql(path: Path) -> str:
    """The DuckDB table function reading an events file: Parquet typed, CSV with every cell as text."""
    quoted = str(path).replace("'", "''")
    if path.name.lower().endswith((".parquet", ".pq")):
        return f"read_parquet('{quoted}')"
    return f"read_csv('{quoted}', all_varchar = true, header = true, delim = ',', quote = '\"')"
