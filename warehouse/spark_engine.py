"""Apache Spark for the same SQL: events from Parquet or a table, features and labels by Spark SQL.

`SparkWarehouse` offers what the DuckDB warehouse offers (`query_frame`, `scalar`, `has_table`,
`put_frame`, `write_parquet`, `dialect`), plus `sql` returning a Spark DataFrame so per-user results
can stay in the cluster (scored by `mapInPandas`, written as Parquet) and only small results come home.
The master comes from the argument, else the setting read by `common.settings.resolve_spark_master`,
else local[*]; a local master binds to 127.0.0.1 only.
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from common.settings import resolve_spark_master
from warehouse.dialect import Dialect
from warehouse.errors import WarehouseError
from warehouse.event_vocabulary import EVENT_TYPES

if TYPE_CHECKING:  # pyspark is an optional extra: imported only when a session is made
    from pyspark.sql import DataFrame, SparkSession

EVENTS_VIEW = "events"
REQUIRED = ("user_id", "event_type", "ts")
# The DuckDB loader's reading of a row, where Spark can match it cheaply: event types with whitespace around
# them trimmed, timestamps floored to the second, NULL amounts 0; rows without a user, a time or a known
# event type are left out (the loader refuses such files, or with --unknown-events skip leaves the unknown types
# out too, so they never reach features on DuckDB).
TRIMMED_TYPE = "regexp_replace(CAST(event_type AS STRING), '^\\\\s+|\\\\s+$', '')"  # spaces, tabs around it
TYPED_EVENTS = (
    "SELECT user_id, event_type, ts, amount, item, category, channel FROM ("
    "SELECT CAST(user_id AS STRING) AS user_id, "
    + TRIMMED_TYPE + " AS event_type, "
    "date_trunc('SECOND', CAST(ts AS TIMESTAMP)) AS ts, "
    "COALESCE(CAST({amount} AS DOUBLE), CAST(0 AS DOUBLE)) AS amount, "
    "CAST({item} AS STRING) AS item, CAST({category} AS STRING) AS category, CAST({channel} AS STRING) AS channel "
    "FROM {source}) WHERE user_id IS NOT NULL AND ts IS NOT NULL AND event_type IN ({known})"
)
# The rows of unknown event types that view leaves out, per type: what the DuckDB loader's
# `--unknown-events skip` reports (there, an unknown row is left out whatever its other cells hold).
UNKNOWN_TYPES = (
    "SELECT event_type, COUNT(*) AS n FROM (SELECT " + TRIMMED_TYPE + " AS event_type FROM {source}) "
    "WHERE event_type <> '' AND event_type NOT IN ({known}) GROUP BY event_type"
)
RAW_VIEW = "_winback_raw_events"


def spark_session(master: str | None = None, *, app_name: str = "winback", shuffle_partitions: int | None = None) -> SparkSession:
    """A SparkSession on the resolved master (UTC session time zone, Arrow transfers, loopback if local)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise WarehouseError("the Spark engine needs pyspark: pip install -e '.[spark]'") from error
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    chosen = resolve_spark_master(master)
    builder = (
        SparkSession.builder.master(chosen).appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if chosen.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # Spark's own variable: never bind beyond loopback
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local Python workers use this interpreter
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions or 8))
    elif shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    try:
        session = builder.getOrCreate()
    except Exception as error:  # the JVM failing to start surfaces as many exception types
        raise WarehouseError(f"cannot start Spark on master {chosen!r}: {_first_line(error)}") from error
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkWarehouse:
    """The `events` view in a SparkSession (from Parquet files or a catalog table); runs the shared SQL."""

    dialect = Dialect("spark")
    engine = "spark"

    def __init__(self, spark: SparkSession, *, events: str | os.PathLike[str] | None = None, table: str | None = None):
        self.spark = spark
        self.path = str(events) if events is not None else (table or f"spark:{EVENTS_VIEW}")
        if events is not None and table is not None:
            raise WarehouseError("give the events as Parquet files or as a table, not both")
        if events is not None:
            self._register(self._read_parquet(str(events)), str(events))
        elif table is not None:
            self._register(self._table(table), table)

    def __repr__(self) -> str:
        return f"SparkWarehouse({self.path!r})"

    def _read_parquet(self, path: str) -> DataFrame:
        """Parquet files or a folder: a local path must exist; a URL (s3a://, hdfs://, file://) is Spark's to read."""
        if "://" not in path and not Path(path).exists():
            raise WarehouseError(f"{path}: file not found")
        try:
            return self.spark.read.parquet(str(path))
        except Exception as error:
            hint = ("; write timestamps in microseconds (pandas: to_parquet(coerce_timestamps='us'))"
                    if "NANOS" in str(error) else "")
            raise WarehouseError(f"{path}: cannot be read as Parquet by Spark ({_first_line(error)}){hint}") from error

    def _table(self, name: str) -> DataFrame:
        try:
            return self.spark.table(name)
        except Exception as error:
            raise WarehouseError(f"no table {name!r} in the Spark catalog ({_first_line(error)})") from error

    def _register(self, frame: DataFrame, label: str) -> None:
        """Expose the source as the typed `events` view (missing optional columns become NULL)."""
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise WarehouseError(f"{label}: required column '{missing[0]}' is missing "
                                 f"(have: {', '.join(frame.columns)})")
        frame.createOrReplaceTempView(RAW_VIEW)
        optional = {c: (c if c in frame.columns else "NULL") for c in ("amount", "item", "category", "channel")}
        typed = self.spark.sql(TYPED_EVENTS.format(source=RAW_VIEW, known=_known_types(), **optional))
        typed.createOrReplaceTempView(EVENTS_VIEW)

    def unknown_event_types(self) -> dict[str, int]:
        """Rows the `events` view leaves out for an event type Winback does not know, per type (empty when none).

        One aggregation over the source's event type column (Parquet reads that column alone), run only when
        asked: the view itself skips such rows silently, as it must stay a lazy view."""
        if not self.has_table(RAW_VIEW):
            return {}
        try:  # not through sql(): its parameter binding is not for this literal-holding, parameterless text
            rows = self.spark.sql(UNKNOWN_TYPES.format(source=RAW_VIEW, known=_known_types())).collect()
        except Exception as error:
            raise WarehouseError(f"{self.path}: cannot count unknown event types on Spark ({_first_line(error)})") from error
        return {str(row[0]): int(row[1]) for row in rows}

    def sql(self, sql: str, params: Mapping[str, object] | None = None) -> DataFrame:
        """A Spark DataFrame for one query (lazy: nothing runs until it is collected or written)."""
        try:
            return self.spark.sql(self.dialect.bind(sql, params))
        except Exception as error:
            raise WarehouseError(f"query failed on Spark: {_first_line(error)}") from error

    def query_frame(self, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Run one SELECT and bring its rows home as a DataFrame (for small results only)."""
        frame = self.sql(sql, params)
        try:
            return frame.toPandas()
        except Exception as error:
            raise WarehouseError(f"query failed on Spark: {_first_line(error)}") from error

    def scalar(self, sql: str, params: Mapping[str, object] | None = None) -> object:
        """The first column of the first row of a query (None when there is no row)."""
        row = self.sql(sql, params).first()
        return None if row is None else row[0]

    def has_table(self, name: str) -> bool:
        """Whether a table or temporary view of that name exists."""
        return bool(self.spark.catalog.tableExists(name))

    def put_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a small pandas frame (e.g. exported assignments) as a temporary view."""
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def write_parquet(self, sql: str, path: str | os.PathLike[str], params: Mapping[str, object] | None = None) -> Path:
        """Write a query's rows as Parquet files in a folder (written by the executors, not the driver)."""
        target = Path(path)
        self.sql(sql, params).write.mode("overwrite").parquet(str(target))
        return target


def _known_types() -> str:
    """The vocabulary as a SQL list of literals."""
    return ", ".join("'" + name + "'" for name in EVENT_TYPES)


def _first_line(error: BaseException) -> str:
    """The first line of an engine error, without the JVM stack."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
