"""CLI for the warehouse engines: event-defined metrics, features and churn scores written as Parquet."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from winback.cli_support import clean_errors, db_option

ENGINES = ("duckdb", "spark")


def engine_options(func: Callable[..., Any] | None = None, *, default: str = "the registry's imported outcomes"
                   ) -> Callable[..., Any]:
    """--engine, --warehouse and --events, shared by every command that can run in a warehouse engine; `default`
    says what the command does without --engine (analyze reads imported outcomes, the warehouse commands DuckDB)."""
    if func is None:
        return lambda f: engine_options(f, default=default)
    func = click.option("--events", "events", type=click.Path(), default=None,
                        help="Spark only: Parquet events (file or folder) to read instead of a loaded warehouse.")(func)
    func = click.option("--warehouse", type=click.Path(dir_okay=False), default=None,
                        help="DuckDB warehouse file (default: $WINBACK_WAREHOUSE, else <registry>-warehouse.duckdb).")(func)
    return click.option("--engine", type=click.Choice(ENGINES), default=None,
                        help="Compute in this warehouse engine (Spark master: $WINBACK_SPARK_MASTER, default "
                             f"local[*]); default: {default}.")(func)


@click.group()
def warehouse() -> None:
    """Warehouse engines: DuckDB on one machine, Spark beyond it, the same SQL on both."""


@warehouse.command("define-metric")
@click.argument("key")
@click.option("--event", "event_type", required=True, help="Event type the metric counts, e.g. order.")
@click.option("--value", type=click.Choice(["any", "count", "amount"]), required=True,
              help="any: 1 if such an event (binary metric); count: how many; amount: their summed amount.")
@click.option("--window-days", type=click.IntRange(1, 3650), required=True, help="Days after assignment that count.")
@db_option
@clean_errors
def define_metric(key: str, event_type: str, value: str, window_days: int, db: str | None) -> None:
    """Compute metric KEY from behaviour events in the warehouse instead of imported outcomes."""
    from experiments.warehouse_metrics import EventMetric, define_event_metric

    done = define_event_metric(EventMetric(key, event_type, value, window_days), db)  # type: ignore[arg-type]
    click.echo(f"metric {done.metric_key}: {done.value} of {done.event_type} events in the {done.window_days} "
               "days after assignment")


@warehouse.command("features")
@click.option("--as-of", required=True, help="As-of date YYYY-MM-DD (history up to and including it).")
@click.option("--out", required=True, type=click.Path(), help="Parquet file (DuckDB) or folder (Spark) to write.")
@engine_options(default="duckdb")
@db_option
@clean_errors
def features(as_of: str, out: str, engine: str | None, warehouse: str | None, events: str | None, db: str | None) -> None:
    """Write every user's churn features as of a date as Parquet, computed by the engine."""
    from churn.features import write_features
    from warehouse.engine import open_engine

    wh = open_engine(engine or "duckdb", warehouse=warehouse, db=db, events=events)
    written = write_features(wh, as_of, out)
    click.echo(f"features as of {as_of} written to {written} by {wh.engine}")
    if wh.engine == "spark":  # DuckDB's loader said so when the events were loaded; Spark's view skips silently
        unknown = wh.unknown_event_types()
        if unknown:
            from churn.ingest import describe_unknown

            click.echo(describe_unknown(unknown), err=True)


@warehouse.command("score")
@click.option("--model", required=True, help="Name of a trained churn model.")
@click.option("--as-of", required=True, help="As-of date YYYY-MM-DD.")
@click.option("--out", required=True, type=click.Path(), help="Parquet file (DuckDB) or folder (Spark) to write.")
@engine_options(default="duckdb")
@db_option
@clean_errors
def score(model: str, as_of: str, out: str, engine: str | None, warehouse: str | None, events: str | None,
          db: str | None) -> None:
    """Score every user's churn risk as of a date into Parquet (Spark: mapInPandas, the model broadcast)."""
    from churn.spark_scoring import score_to_parquet

    summary = score_to_parquet(model, as_of, out, engine=engine or "duckdb", warehouse=warehouse, db=db, events=events)
    click.echo(f"scored {summary.n_scored} users as of {summary.as_of} with {model} by {summary.engine} into {out}")
