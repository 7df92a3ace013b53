"""Warehouse-native metrics: definitions over behaviour events, and sufficient statistics computed by a
warehouse engine (DuckDB or Spark) instead of the registry (issue 14).

A metric defined here (event type, 'any' / 'count' / 'amount', window in days after assignment) needs no
imported outcome rows: its per-user values are computed from the events where they live. Metrics without
a definition use the imported outcomes, exported to the warehouse and reduced there with the same SQL
semantics as the registry (experiments/metrics.py), so both paths give the same numbers.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal, get_args

from experiments.db import audit, open_registry, transaction
from experiments.errors import ExperimentError
from experiments.metrics import imported_sums
from warehouse.event_vocabulary import EVENT_TYPES
from warehouse.metric_sql import ASSIGNMENTS, DEFINITIONS, OUTCOMES, event_sums_sql, outcome_sums_sql

if TYPE_CHECKING:  # pandas is imported where frames are built: an analysis of imported outcomes needs none
    import pandas as pd

EventValue = Literal["any", "count", "amount"]
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True)
class EventMetric:
    """A metric computed from events: `value` of `event_type` events in the `window_days` after assignment."""

    metric_key: str
    event_type: str
    value: EventValue
    window_days: int

    def to_dict(self) -> dict:
        return asdict(self)


def define_event_metric(definition: EventMetric, db: str | os.PathLike[str] | None = None) -> EventMetric:
    """Store (or replace) a metric's event definition; the metric itself must be declared first."""
    if definition.event_type not in EVENT_TYPES:
        raise ExperimentError(f"metric '{definition.metric_key}': unknown event type {definition.event_type!r}; "
                              f"known types: {', '.join(EVENT_TYPES)}")
    if definition.value not in get_args(EventValue):
        raise ExperimentError(f"metric '{definition.metric_key}': value must be one of "
                              f"{', '.join(get_args(EventValue))}, got {definition.value!r}")
    if not 1 <= int(definition.window_days) <= MAX_WINDOW_DAYS:
        raise ExperimentError(f"metric '{definition.metric_key}': window must be 1 to {MAX_WINDOW_DAYS} days, "
                              f"got {definition.window_days}")
    database = open_registry(db)
    with transaction(database) as conn:
        kind = conn.execute("SELECT kind FROM metrics WHERE key = ?", (definition.metric_key,)).fetchone()
        if kind is None:
            raise ExperimentError(f"no metric '{definition.metric_key}'; declare it first with `winback metric add`")
        if (kind[0] == "binary") != (definition.value == "any"):
            raise ExperimentError(f"metric '{definition.metric_key}' is {kind[0]}: use value 'any' for a binary "
                                  "metric and 'count' or 'amount' for a continuous one")
        conn.execute(
            "INSERT INTO metric_events (metric_key, event_type, value, window_days) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(metric_key) DO UPDATE SET event_type = excluded.event_type, value = excluded.value, "
            "window_days = excluded.window_days",
            (definition.metric_key, definition.event_type, definition.value, int(definition.window_days)))
        audit(conn, "define", "metric", definition.metric_key, json.dumps(definition.to_dict()))
    return definition


def _definition_rows(conn, key: str) -> list[tuple]:
    """The event definitions of the experiment's own metrics (primary and guardrails): metric, event type, value
    kind, window days."""
    primary, guardrails = conn.execute(
        "SELECT primary_metric, guardrail_metrics FROM experiments WHERE key = ?", (key,)).fetchone()
    names = [primary, *json.loads(guardrails or "[]")]
    return conn.execute(
        f"SELECT metric_key, event_type, value, window_days FROM metric_events "
        f"WHERE metric_key IN ({', '.join('?' * len(names))}) ORDER BY metric_key", names).fetchall()


def _definitions(rows: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=["metric", "event_type", "value_kind", "window_days"]).astype(
        {"metric": object, "event_type": object, "value_kind": object, "window_days": "int64"})


def _frame(conn, sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(conn.execute(sql, params).fetchall(), columns=columns)


class WarehouseSums:
    """A `sums_source` for experiments.metrics.collect that computes the outcome sums in `warehouse`; `notes`
    then says what the numbers cannot see (event windows that end past the warehouse's last event)."""

    def __init__(self, warehouse) -> None:
        self.warehouse = warehouse
        self.notes: list[str] = []

    def __call__(self, conn, segment_sql: str, join_sql: str, params: dict, pre_period: bool) -> dict:
        warehouse = self.warehouse
        key = params["key"]
        rows = _definition_rows(conn, key)
        defined = [row[0] for row in rows]
        sums = {k: v for k, v in self._imported(conn, segment_sql, join_sql, params, pre_period).items()
                if k[1] not in defined}
        if rows:
            definitions = _definitions(rows)
            if not warehouse.has_table("events"):
                raise ExperimentError(f"experiment '{key}' has event metrics ({', '.join(defined)}) but the "
                                      f"warehouse {warehouse.path} holds no events; load them first")
            assignments = _assignments(conn, segment_sql, join_sql, params)
            warehouse.put_frame(ASSIGNMENTS, assignments)
            warehouse.put_frame(DEFINITIONS, definitions)
            sums |= _read(warehouse.query_frame(event_sums_sql(warehouse.dialect, pre_period)))
            self.notes = _window_notes(warehouse, assignments["assigned_at"], definitions)
        return sums

    def _imported(self, conn, segment_sql: str, join_sql: str, params: dict, pre_period: bool) -> dict:
        """The imported outcomes' sums, by the registry's fact SQL where the outcomes are held column-wise: the
        fact mirror's Parquet files, read by DuckDB or by Spark (experiments/fact_source.py, spark_facts.py)."""
        if self.warehouse.engine == "spark":
            from experiments.fact_source import design_rows, mirror_files
            from experiments.spark_facts import SparkFacts

            with mirror_files(conn) as files:
                if files is not None:
                    source = SparkFacts(self.warehouse.spark, files, design_rows(conn))
                    return imported_sums(source, segment_sql, join_sql, params, pre_period)
            return self._exported(conn, segment_sql, join_sql, params, pre_period)  # no mirror: ship the rows
        from experiments.fact_source import open_facts

        with open_facts(conn) as fact_source:
            return imported_sums(fact_source, segment_sql, join_sql, params, pre_period)

    def _exported(self, conn, segment_sql: str, join_sql: str, params: dict, pre_period: bool) -> dict:
        """The outcomes and assignments exported to the warehouse as frames, reduced there (without a mirror)."""
        outcomes = _frame(
            conn, "SELECT user_id, metric, period, value FROM outcomes WHERE experiment_key = :key", params,
            ["user_id", "metric", "period", "value"]).astype(
            {"user_id": object, "metric": object, "period": object, "value": "float64"})
        if not len(outcomes):
            return {}
        self.warehouse.put_frame(ASSIGNMENTS, _assignments(conn, segment_sql, join_sql, params))
        self.warehouse.put_frame(OUTCOMES, outcomes)
        return _read(self.warehouse.query_frame(outcome_sums_sql(pre_period)))


def _assignments(conn, segment_sql: str, join_sql: str, params: dict) -> pd.DataFrame:
    """The experiment's assignments with their segment and a typed assignment time, for the warehouse."""
    import pandas as pd

    from experiments.fact_source import registry_views

    registry_views(conn)
    assignments = _frame(
        conn, f"SELECT a.user_id, a.arm_key, {segment_sql} AS segment, a.assigned_at FROM assignment_rows a "
              f"{join_sql} WHERE a.experiment_key = :key", params, ["user_id", "arm_key", "segment", "assigned_at"])
    assignments["assigned_at"] = (pd.to_datetime(assignments["assigned_at"], utc=True, format="ISO8601")
                                  .dt.tz_localize(None).astype("datetime64[us]"))
    return assignments.astype({"user_id": object, "arm_key": object, "segment": object})


def warehouse_sums(warehouse) -> WarehouseSums:
    """A `sums_source` for experiments.metrics.collect that computes the outcome sums in `warehouse`."""
    return WarehouseSums(warehouse)


def _window_notes(warehouse, assigned_at: pd.Series, definitions: pd.DataFrame) -> list[str]:
    """Event metrics whose windows after assignment end past the warehouse's last event: users count as 0 there
    (no events) whether or not they acted, so the effect is read on missing data."""
    import pandas as pd

    from warehouse.events_table import event_time_range

    _, last = event_time_range(warehouse)
    if last is None or assigned_at.empty:
        return []
    last_ts = pd.Timestamp(last)
    notes = []
    for row in definitions.itertuples(index=False):
        window_end = assigned_at + pd.Timedelta(days=int(str(row.window_days)))
        short = int((window_end > last_ts).sum())
        if short:
            share = ("every assigned user" if short == len(assigned_at) else
                     f"{short:,} of {len(assigned_at):,} assigned users")
            notes.append(f"metric '{row.metric}' reads {row.event_type} events in the {row.window_days} days after "
                         f"assignment, but the warehouse's events end {last_ts.date()}: for {share} "
                         f"that window is not over in the data, so they count fewer events than they will (0 when "
                         f"assigned after it); load events through {window_end.max().date()}")
    return notes


def _read(frame: pd.DataFrame) -> dict[tuple[str, str, str], tuple]:
    """Engine rows → {(arm, metric, segment): (post, post2, pre, pre2, cross, has_pre, non_binary)}."""
    values = frame[["post", "post2", "pre", "pre2", "cross_sum", "has_pre", "non_binary"]].astype(float)
    keys = zip(frame["arm_key"].astype(str), frame["metric"].astype(str), frame["segment"].astype(str))
    return {k: tuple(row) for k, row in zip(keys, values.itertuples(index=False, name=None))}


def engine_sums(engine: str, *, warehouse=None, db=None, events=None, table=None, master=None):
    """`warehouse_sums` on the named engine (DuckDB file, or Spark over Parquet events / a table)."""
    from warehouse.engine import open_engine

    return warehouse_sums(open_engine(engine, warehouse=warehouse, db=db, events=events, table=table, master=master))
