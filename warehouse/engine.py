"""Where the warehouse lives and which engine runs its SQL: DuckDB by default, Spark at scale.

Callers use `open_warehouse` (the DuckDB file) or `open_engine` (DuckDB or Spark); both engines offer
`query_frame`, `scalar`, `has_table`, `put_frame`, `write_parquet` and a `dialect`, so the one feature
SQL (warehouse/feature_sql.py) and the metric SQL (warehouse/metric_sql.py) run on either.
"""
from __future__ import annotations

import os
from pathlib import Path

from common.settings import duckdb_memory_setting, resolve_db_path, resolve_warehouse_setting
from warehouse.dialect import ENGINES, Dialect, EngineName
from warehouse.duckdb_engine import DuckDBWarehouse
from warehouse.errors import WarehouseError

__all__ = [
    "ENGINES",
    "Dialect",
    "EngineName",
    "Warehouse",
    "check_engine",
    "open_engine",
    "open_warehouse",
    "resolve_warehouse_path",
]

Warehouse = DuckDBWarehouse
WAREHOUSE_SUFFIX = "-warehouse.duckdb"


def resolve_warehouse_path(
    warehouse: str | os.PathLike[str] | None = None, db: str | os.PathLike[str] | None = None
) -> Path:
    """The warehouse file: the argument, else $WINBACK_WAREHOUSE, else `<registry>-warehouse.duckdb` beside it."""
    chosen = resolve_warehouse_setting(warehouse)
    if chosen:
        return Path(chosen)
    registry = resolve_db_path(db)
    return registry.with_name(registry.stem + WAREHOUSE_SUFFIX)


def open_warehouse(
    warehouse: str | os.PathLike[str] | DuckDBWarehouse | None = None, db: str | os.PathLike[str] | None = None
) -> DuckDBWarehouse:
    """A DuckDB warehouse for a path (or the default location); an open warehouse is passed through."""
    if isinstance(warehouse, DuckDBWarehouse):
        return warehouse
    return DuckDBWarehouse(resolve_warehouse_path(warehouse, db), memory_limit=duckdb_memory_setting())


def check_engine(name: str) -> EngineName:
    """The engine name, or a WarehouseError listing the engines there are."""
    if name not in ENGINES:
        raise WarehouseError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
    return name  # type: ignore[return-value]


def open_engine(
    engine: str = "duckdb", *, warehouse: str | os.PathLike[str] | None = None, db: str | os.PathLike[str] | None = None,
    events: str | os.PathLike[str] | None = None, table: str | None = None, master: str | None = None,
):
    """The warehouse for an engine: the DuckDB file, or a Spark session over Parquet events or a table."""
    name = check_engine(engine)
    if name == "duckdb":
        if events is not None or table is not None:
            raise WarehouseError("--events/--table pick Spark's events; with DuckDB, load events with `winback churn load`")
        return open_warehouse(warehouse, db)
    from warehouse.spark_engine import SparkWarehouse, spark_session

    return SparkWarehouse(spark_session(master), events=events, table=table)
