"""CLI for churn early warning: load events, train a risk model, score users, flag a cohort."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from churn.choices import DEFAULT_FLAG_STAGES, DEFAULT_TARGET_PRECISION, FLAG_RULES, STAGES, TIER_BASES
from winback.cli_support import clean_errors, db_option, echo_unknown, unknown_events_option

if TYPE_CHECKING:
    import pandas as pd

warehouse_option = click.option(
    "--warehouse", type=click.Path(dir_okay=False), default=None,
    help="DuckDB warehouse file holding the events (default: $WINBACK_WAREHOUSE, else "
         "<registry>-warehouse.duckdb beside the registry).",
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
        from churn.cdnow import read_cdnow

        return read_cdnow(path)
    return path


def _warehouse_with(path: str | None, events_format: str, warehouse: str | None, db: str | None,
                    unknown_events: str = "refuse"):
    from churn.ingest import load_events
    from warehouse.engine import open_warehouse

    wh = open_warehouse(warehouse, db)
    events = _events(path, events_format)
    if events is not None:
        loaded = load_events(events, wh, name=str(path), unknown_events=unknown_events)  # type: ignore[arg-type]
        echo_unknown(loaded, err=True)  # stdout is the command's own result
    return wh


def _warn_past_events(wh, as_of: str) -> None:
    """Warn when --as-of lies days past the warehouse's last event: every user then looks idle for days the data
    does not cover (recency grows, recent activity falls), and risk and stages drift with the gap."""
    import pandas as pd

    from churn.features import parse_as_of
    from warehouse.events_table import event_time_range

    stamp = parse_as_of(as_of)  # a bad date is one clean error line, before any work
    _, last = event_time_range(wh)
    if last is None:
        return
    last_day = pd.Timestamp(last).normalize()
    gap = (stamp.normalize() - last_day).days
    if gap > 1:
        click.echo(f"Warning: the warehouse's events end {last_day.date()}, {gap} days before --as-of {as_of}: every "
                   f"user looks {gap} days more idle than the data can tell; use --as-of {last_day.date()}, or load "
                   "newer events", err=True)


@click.group()
def churn() -> None:
    """Churn early warning: who is slipping away, how valuable they are, and why."""


@churn.command("load")
@click.option("--events", "events_path", type=click.Path(dir_okay=False), required=True, help="Events CSV or Parquet.")
@format_option
@unknown_events_option
@click.option("--append", is_flag=True,
              help="Add the file's events to those loaded (a file appended before adds nothing) instead of replacing.")
@warehouse_option
@db_option
@clean_errors
def churn_load(events_path: str, events_format: str, unknown_events: str, append: bool, warehouse: str | None,
               db: str | None) -> None:
    """Validate an events file and load it into the warehouse (one transaction; reloading replaces, --append adds)."""
    from churn.ingest import load_events
    from warehouse.engine import open_warehouse

    wh = open_warehouse(warehouse, db)
    result = load_events(_events(events_path, events_format), wh, name=events_path, mode="append" if append else
                         "replace", unknown_events=unknown_events)  # type: ignore[arg-type]
    if result.skipped:
        click.echo(f"{events_path} was appended before: nothing added ({result.total_rows:,} events in {wh.path})")
    else:
        click.echo(f"loaded {result.rows_written:,} events from {events_path} into {wh.path}"
                   + (f" ({result.total_rows:,} in all)" if append else ""))
    echo_unknown(result)


@churn.command("train")
@events_option
@format_option
@unknown_events_option
@as_of_option
@click.option("--horizon-days", type=click.IntRange(min=1, max=3650), required=True, help="Churn = no order within this many days.")
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
def churn_train(events_path, events_format, unknown_events, as_of, horizon_days, name, validate_as_of, target_precision,
                calibration, model_dir, warehouse, db) -> None:
    """Train a calibrated risk model as of a date with labels from the next horizon, validate, store it."""
    import pandas as pd

    from churn.pipeline import train
    from experiments.models import check_model_name

    check_model_name(name, "churn", db)  # before loading events or training: a bad or taken name costs nothing
    wh = _warehouse_with(events_path, events_format, warehouse, db, unknown_events)
    result = train(wh, as_of, horizon_days, name, db, validate_as_of=validate_as_of,
                   target_precision=target_precision, calibration=calibration, model_dir=model_dir, progress=True)
    v = result.validation
    if v.source == "holdout":  # the model was fitted on the users not held out; say so, and why no later date
        later = (pd.Timestamp(validate_as_of) if validate_as_of else
                 pd.Timestamp(result.as_of) + pd.Timedelta(days=result.horizon_days))
        fitted = f"{result.n_train - v.n_users:,} users ({v.n_users:,} more held out to validate)"
        where = (f"validated on the {v.n_users:,} held-out users (churn rate {v.churn_rate:.1%}; the events end "
                 f"before {later.date()} + {result.horizon_days} days, so no later date can be checked)")
    else:
        fitted = f"{result.n_train:,} users"
        where = f"validated as of {v.as_of} on {v.n_users:,} users (churn rate {v.churn_rate:.1%})"
    click.echo(f"model {result.name}: trained as of {result.as_of} on {fitted}, "
               f"churn rate {result.train_churn_rate:.1%}, horizon {result.horizon_days} days")
    click.echo(f"{where}: "
               f"ROC AUC {v.roc_auc:.3f}, PR AUC {v.pr_auc:.3f}, top decile precision {v.top_decile_precision:.3f} "
               f"recall {v.top_decile_recall:.3f}, Brier {v.brier:.3f}")
    items = sorted(v.thresholds.items())
    cuts = ", ".join(f"{k} {t['threshold']:.3f}" for k, t in items if t["threshold"] == t["threshold"])
    unreached = [k for k, t in items if t["threshold"] != t["threshold"]]
    click.echo(f"stage thresholds for precision {v.target_precision:.2f}: {cuts or 'none'}"
               + (f"; no risk cut-off reaches it in {', '.join(unreached)} (flag --rule stage-thresholds leaves "
                  "them out)" if unreached else ""))
    click.echo(f"saved to {result.path}")


def _tier_clv_options(func):
    """--tiers, --high-value-share, --high-value-monthly, --clv-months, --margin, --no-clv."""
    options = [
        click.option("--tiers", type=click.Choice(TIER_BASES), default="clv", show_default=True,
                     help="High value = the top --high-value-share of buyers by predicted customer value (clv) or "
                          "by average monthly spend (spend), or monthly spend above --high-value-monthly (monthly)."),
        click.option("--high-value-share", type=float, default=0.2, show_default=True,
                     help="Share of buyers that is high value (tiers clv and spend)."),
        click.option("--high-value-monthly", type=float, default=500.0, show_default=True,
                     help="Monthly spend above which a user is high value (tiers monthly)."),
        click.option("--clv-months", type=int, default=12, show_default=True,
                     help="Horizon of the predicted customer value, in months."),
        click.option("--margin", type=float, default=1.0, show_default=True,
                     help="Share of spend that is margin: clv is predicted spend times this."),
        click.option("--no-clv", is_flag=True, help="Skip customer value (BG/NBD + Gamma-Gamma); no clv column."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _value_settings(tiers, high_value_share, high_value_monthly, clv_months, margin, no_clv):
    """The tier rule and customer-value settings from the options."""
    from churn.clv import ClvSettings
    from churn.segments import TierRule

    rule = TierRule(basis=tiers, high_value_share=high_value_share, high_value_monthly=high_value_monthly)
    return rule, None if no_clv else ClvSettings(horizon_months=clv_months, margin=margin)


def _write_table(frame: pd.DataFrame, out: str) -> None:
    """Write a table as CSV or Parquet, by the file's suffix."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise click.BadParameter(f"{out}: write .csv or .parquet", param_hint="'--out'")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False, float_format="%.6f")
    else:
        frame.to_parquet(path, index=False)


@churn.command("features")
@events_option
@format_option
@unknown_events_option
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="CSV or Parquet to write: user_id and every numeric churn feature.")
@warehouse_option
@db_option
@clean_errors
def churn_features(events_path, events_format, unknown_events, as_of, out, warehouse, db) -> None:
    """Write the churn features of every user with history as of a date (inputs for uplift models)."""
    import pandas as pd

    from churn.pipeline import history_features

    wh = _warehouse_with(events_path, events_format, warehouse, db, unknown_events)
    _warn_past_events(wh, as_of)
    if Path(out).suffix.lower() == ".csv":  # written by DuckDB: the same bytes without the rows through pandas
        from churn.feature_csv import write_features_csv

        count, users = write_features_csv(wh, as_of, out)
    else:
        features = history_features(wh, as_of).reset_index()
        _write_table(features, out)
        count, users = features.shape[1] - 1, len(features)
    click.echo(f"wrote {count} features of {users:,} users as of {pd.Timestamp(as_of).date()} into {out}")


@churn.command("score")
@click.option("--model", required=True, help="Name of a trained churn model.")
@events_option
@format_option
@unknown_events_option
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="CSV or Parquet to write: user_id, risk, clv, stage, tier, reason[, features].")
@click.option("--with-features", is_flag=True, help="Append the churn features (the inputs uplift models use).")
@_tier_clv_options
@warehouse_option
@db_option
@clean_errors
def churn_score(model, events_path, events_format, unknown_events, as_of, out, with_features, tiers, high_value_share,
                high_value_monthly, clv_months, margin, no_clv, warehouse, db) -> None:
    """Score every user with history as of a date: churn risk, customer value, stage, value tier, likely reason."""
    import pandas as pd

    from churn.pipeline import score

    rule, value = _value_settings(tiers, high_value_share, high_value_monthly, clv_months, margin, no_clv)
    wh = _warehouse_with(events_path, events_format, warehouse, db, unknown_events)
    _warn_past_events(wh, as_of)
    scored = score(model, wh, as_of, db, tiers=rule, clv=value, with_features=with_features, progress=True)
    _write_table(scored, out)
    click.echo(f"scored {len(scored):,} users as of {pd.Timestamp(as_of).date()} with {model} into {out}")


@churn.command("flag")
@click.option("--model", required=True, help="Name of a trained churn model.")
@events_option
@format_option
@unknown_events_option
@as_of_option
@click.option("--cohort", "cohort_key", required=True, help="Cohort key to (re)write in the registry.")
@click.option("--rule", type=click.Choice(FLAG_RULES), default="precision", show_default=True,
              help="precision: the riskiest users while their mean risk reaches the target precision; "
                   "stage-thresholds: the model's per-stage cut-offs from training; "
                   "tier-share: the riskiest --tier-share of each value tier.")
@click.option("--tier-share", type=float, default=None,
              help="With --rule tier-share: the share of each value tier's candidates to flag, in (0, 1].")
@click.option("--target-precision", type=float, default=None,
              help="Expected precision of the cohort (default: the model's training target).")
@click.option("--max-users", type=int, default=None, help="Capacity: flag at most this many of the riskiest users.")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(STAGES),
              help="Lifecycle stage to flag from (repeatable; default: all but churned).")
@click.option("--min-risk", type=float, default=None, help="Flag users at or above this risk (instead of the rule).")
@_tier_clv_options
@warehouse_option
@db_option
@clean_errors
def churn_flag(model, events_path, events_format, unknown_events, as_of, cohort_key, rule, tier_share, target_precision,
               max_users, stages, min_risk, tiers, high_value_share, high_value_monthly, clv_months, margin, no_clv, warehouse,
               db) -> None:
    """Score, pick the users at risk and write them as a cohort that experiments can target."""
    from churn.cohort_flags import flag_cohort
    from churn.flagging import FlagSpec
    from experiments.identity import check_name

    check_name(cohort_key, "cohort name")  # before loading events or scoring
    spec = FlagSpec(rule=rule, target_precision=target_precision, max_users=max_users, min_risk=min_risk,
                    stages=tuple(stages) or DEFAULT_FLAG_STAGES, tier_share=tier_share)
    tier_rule, value = _value_settings(tiers, high_value_share, high_value_monthly, clv_months, margin, no_clv)
    wh = _warehouse_with(events_path, events_format, warehouse, db, unknown_events)
    _warn_past_events(wh, as_of)
    result = flag_cohort(model, as_of, cohort_key, db, warehouse=wh, spec=spec, tiers=tier_rule, clv=value,
                         progress=True)
    stages_text = ", ".join(f"{k} {v:,}" for k, v in result.flagged_by_stage.items())
    tiers_text = ", ".join(f"{k} {v:,}" for k, v in result.flagged_by_tier.items())
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"cohort {cohort_key}: {result.n_flagged:,} of {result.n_scored:,} users flagged by {model} "
               f"as of {result.as_of} ({stages_text or 'nobody'}; rule: {result.rule})")
    if result.n_flagged:
        click.echo(f"expected precision {result.expected_precision:.3f} ({result.expected_churners:,.0f} expected "
                   f"churners); tiers: {tiers_text} (high value: {result.tier_rule})")
