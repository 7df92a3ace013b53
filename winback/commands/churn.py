"""CLI for churn early warning: load events, train a risk model, score users, flag a cohort."""
from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from churn.cdnow import read_cdnow
from churn.ingest import load_events
from churn.pipeline import DEFAULT_TARGET_PRECISION, flag, score, train
from warehouse.engine import open_warehouse
from winback.cli_support import clean_errors, db_option

warehouse_option = click.option(
    "--warehouse", type=click.Path(dir_okay=False), default=None,
    help="Warehouse file holding the events (default: $WINBACK_WAREHOUSE, else the registry file).",
)
events_option = click.option(
    "--events", "events_path", type=click.Path(dir_okay=False), default=None,
    help="Events CSV or Parquet (user_id, event_type, ts, amount, item, category, channel) loaded into the "
         "warehouse first, replacing what it held; omit to use the events already loaded.",
)
format_option = click.option(
    "--events-format", type=click.Choice(["events", "cdnow"]), default="events", show_default=True,
    help="'cdnow' reads CDNOW's whitespace-separated transactions (each purchase an order).",
)
as_of_option = click.option("--as-of", required=True, help="As-of date YYYY-MM-DD (history up to and including it).")


def _events(path: str | None, events_format: str):
    """What to load: None (use the warehouse as it is), a path, or a CDNOW file as an events frame."""
    if path is None:
        return None
    if events_format == "cdnow":
        return read_cdnow(path)
    return path


def _warehouse_with(path: str | None, events_format: str, warehouse: str | None, db: str | None):
    wh = open_warehouse(warehouse, db)
    events = _events(path, events_format)
    if events is not None:
        load_events(events, wh, name=str(path))
    return wh


@click.group()
def churn() -> None:
    """Churn early warning: who is slipping away, how valuable they are, and why."""


@churn.command("load")
@click.option("--events", "events_path", type=click.Path(dir_okay=False), required=True, help="Events CSV or Parquet.")
@format_option
@warehouse_option
@db_option
@clean_errors
def churn_load(events_path: str, events_format: str, warehouse: str | None, db: str | None) -> None:
    """Validate an events file and load it into the warehouse (one transaction; reloading replaces)."""
    wh = open_warehouse(warehouse, db)
    result = load_events(_events(events_path, events_format), wh, name=events_path)
    click.echo(f"loaded {result.rows_written} events from {events_path} into {wh.path}")


@churn.command("train")
@events_option
@format_option
@as_of_option
@click.option("--horizon-days", type=click.IntRange(min=1), required=True, help="Churn = no order within this many days.")
@click.option("--name", required=True, help="Name the model is stored under.")
@click.option("--validate-as-of", default=None, help="Later date to validate on (default: as-of + horizon).")
@click.option("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION, show_default=True,
              help="Precision the per-stage thresholds aim for.")
@click.option("--calibration", type=click.Choice(["sigmoid", "isotonic"]), default="sigmoid", show_default=True,
              help="Probability calibration method.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Where the model file goes (default: $WINBACK_MODEL_DIR, else ./models).")
@warehouse_option
@db_option
@clean_errors
def churn_train(events_path, events_format, as_of, horizon_days, name, validate_as_of, target_precision,
                calibration, model_dir, warehouse, db) -> None:
    """Train a calibrated risk model as of a date with labels from the next horizon, validate, store it."""
    wh = _warehouse_with(events_path, events_format, warehouse, db)
    result = train(wh, as_of, horizon_days, name, db, validate_as_of=validate_as_of,
                   target_precision=target_precision, calibration=calibration, model_dir=model_dir, progress=True)
    v = result.validation
    click.echo(f"model {result.name}: trained as of {result.as_of} on {result.n_train} users "
               f"(churn rate {result.train_churn_rate:.1%}, horizon {result.horizon_days} days)")
    click.echo(f"validated as of {v.as_of} ({v.source}, {v.n_users} users, churn rate {v.churn_rate:.1%}): "
               f"ROC AUC {v.roc_auc:.3f}, PR AUC {v.pr_auc:.3f}, top decile precision {v.top_decile_precision:.3f} "
               f"recall {v.top_decile_recall:.3f}, Brier {v.brier:.3f}")
    cuts = ", ".join(f"{k} {t['threshold']:.3f}" if t["threshold"] == t["threshold"] else f"{k} none"
                     for k, t in sorted(v.thresholds.items()))
    click.echo(f"stage thresholds for precision {v.target_precision:.2f}: {cuts}")
    click.echo(f"saved to {result.path}")


@churn.command("score")
@click.option("--model", required=True, help="Name of a trained churn model.")
@events_option
@format_option
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="CSV to write: user_id, risk, stage, tier, reason.")
@warehouse_option
@db_option
@clean_errors
def churn_score(model, events_path, events_format, as_of, out, warehouse, db) -> None:
    """Score every user with history as of a date: churn risk, lifecycle stage, value tier, likely reason."""
    wh = _warehouse_with(events_path, events_format, warehouse, db)
    scored = score(model, wh, as_of, db, progress=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(out, index=False, float_format="%.6f")
    click.echo(f"scored {len(scored)} users as of {pd.Timestamp(as_of).date()} with {model} into {out}")


@churn.command("flag")
@click.option("--model", required=True, help="Name of a trained churn model.")
@events_option
@format_option
@as_of_option
@click.option("--cohort", "cohort_key", required=True, help="Cohort key to (re)write in the registry.")
@click.option("--min-risk", type=float, default=None, help="Flag users at or above this risk (instead of stage thresholds).")
@click.option("--top", type=int, default=None, help="Flag at most this many of the riskiest users.")
@warehouse_option
@db_option
@clean_errors
def churn_flag(model, events_path, events_format, as_of, cohort_key, min_risk, top, warehouse, db) -> None:
    """Score and write the users at risk as a cohort that experiments can target."""
    wh = _warehouse_with(events_path, events_format, warehouse, db)
    result = flag(model, wh, as_of, cohort_key, db, min_risk=min_risk, top=top, progress=True)
    stages = ", ".join(f"{k} {v}" for k, v in result.flagged_by_stage.items())
    click.echo(f"cohort {result.cohort_key}: {result.n_flagged} of {result.n_scored} users flagged by {model} "
               f"as of {result.as_of} ({stages or 'nobody'}; rule: {result.rule})")
