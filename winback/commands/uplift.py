"""CLI for uplift: fit and score per-user uplift models, and allocate treatments under a budget."""
from __future__ import annotations

import math
from pathlib import Path

import click
import pandas as pd

from uplift.allocation import allocate as allocate_treatments
from uplift.errors import UpliftError
from uplift.fitting import fit_uplift
from uplift.store import load_uplift_model, save_uplift_model, score_uplift
from winback.cli_support import clean_errors, db_option

_CSV = click.Path(exists=True, dir_okay=False)


def read_csv(path: str, id_col: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet table (ids kept as exact text, other columns typed), or one clear error."""
    from uplift.inputs import read_table

    return read_table(path, id_col)


def _pairs(values: tuple[str, ...], option: str, convert) -> dict:
    """Parse repeated NAME=VALUE options."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key] = convert(raw)
        except ValueError:
            raise UpliftError(f"{option} takes NAME=NUMBER, got '{item}'") from None
    return out


@click.group()
def uplift() -> None:
    """Per-user uplift models: which treatment changes whose outcome."""


@uplift.command("fit")
@click.option("--data", required=True, type=_CSV, help="Experiment users: features, arm and outcome, one row per user.")
@click.option("--treatment", "treatment_col", required=True, help="Column holding each user's arm.")
@click.option("--outcome", "outcome_col", required=True, help="Outcome column (0/1 or a number).")
@click.option("--control", required=True, help="Name of the control arm in the treatment column.")
@click.option("--id", "id_col", required=True, help="User id column (not used as a feature).")
@click.option("--name", required=True, help="Name to store the model under.")
@click.option("--learner", type=click.Choice(["auto", "s", "t", "x", "dr", "forest"]), default="auto", show_default=True,
              help="Meta-learner (S/T/X/DR on LightGBM), uplift forest, or auto: best held-out Qini of S, T, X, DR.")
@click.option("--exclude", multiple=True, help="Column to leave out of the features (repeatable), e.g. other outcomes.")
@click.option("--arm-weight", multiple=True, help="Known assignment weight ARM=W (repeatable); default: observed shares.")
@click.option("--holdout", type=float, default=0.3, show_default=True, help="Share of users held out for evaluation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split and the learners.")
@click.option("--experiment", "experiment_key", default=None, help="Experiment key to record with the model.")
@click.option("--model-dir", default=None, help="Where to save the model file (default: $WINBACK_MODEL_DIR or ./models).")
@db_option
@clean_errors
def fit(data: str, treatment_col: str, outcome_col: str, control: str, id_col: str, name: str, learner: str,
        exclude: tuple[str, ...], arm_weight: tuple[str, ...], holdout: float, seed: int, experiment_key: str | None,
        model_dir: str | None, db: str | None) -> None:
    """Fit uplift learners on a randomized experiment, report held-out Qini/AUUC, store the best."""
    from uplift.inputs import check_fit_input

    frame = read_csv(data, id_col)
    weights = _pairs(arm_weight, "--arm-weight", float) or None
    check_fit_input(frame, data, treatment_col=treatment_col, outcome_col=outcome_col, control=control,
                    arm_weights=weights)
    result = fit_uplift(frame, treatment_col=treatment_col, outcome_col=outcome_col, control=control, id_col=id_col,
                        exclude=exclude, learner=learner, arm_weights=weights, holdout=holdout, seed=seed)  # type: ignore[arg-type]
    for report in result.reports:
        for score in report.scores:
            click.echo(f"{report.learner:<7} {score.treatment:<24} qini {score.qini:7.4f}  auuc {score.auuc:7.4f}  "
                       f"ate {score.observed_ate:+.4f}")
    record = save_uplift_model(result, name, data=frame, experiment_key=experiment_key, db=db, model_dir=model_dir)
    click.echo(f"model {record.name}: learner {record.learner}, {len(record.features)} features, "
               f"treatments {', '.join(result.treatments)}; saved to {record.path}")


@uplift.command("score")
@click.option("--model", "model_name", required=True, help="Name of a stored uplift model.")
@click.option("--data", required=True, type=_CSV, help="Users to score, with the model's feature columns.")
@click.option("--id", "id_col", required=True, help="User id column.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV to write: id, then one uplift column per treatment.")
@db_option
@clean_errors
def score(model_name: str, data: str, id_col: str, out: str, db: str | None) -> None:
    """Predict each user's uplift for every treatment with a stored model."""
    from uplift.inputs import check_score_input

    model, record = load_uplift_model(model_name, db)
    table = read_csv(data, id_col)
    check_score_input(getattr(model, "encoder_", None), table, data)
    scores = score_uplift(model, record, table, id_col=id_col)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    click.echo(f"scored {len(scores)} users with model {record.name} ({record.learner}) -> {out}")


def _value(raw: str, scores: pd.DataFrame):
    """--value-per-retained: a number, or the name of a per-user column in the scores file."""
    try:
        number = float(raw)
    except ValueError:
        if raw not in scores.columns:
            raise UpliftError(f"--value-per-retained '{raw}' is neither a number nor a column of the scores file") from None
        return scores.pop(raw).to_numpy(float)
    if not math.isfinite(number) or number < 0:
        raise UpliftError(f"--value-per-retained must be a non-negative number, got {raw}")
    return number


@click.command("allocate")
@click.option("--scores", required=True, type=_CSV, help="Uplift scores: user id column, then one column per treatment.")
@click.option("--costs", required=True, type=_CSV, help="JSON file mapping treatment -> unit cost.")
@click.option("--budget", required=True, type=float, help="Total spend allowed.")
@click.option("--value-per-retained", default="1", show_default=True,
              help="Value of one retained user: a number, or a column of the scores file (e.g. predicted margin).")
@click.option("--capacity", multiple=True, help="Most users a treatment can serve, T=N (repeatable).")
@click.option("--id", "id_col", default="user_id", show_default=True, help="User id column of the scores file.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV to write: user_id, treatment, expected_uplift, cost.")
@db_option
@clean_errors
def allocate(scores: str, costs: str, budget: float, value_per_retained: str, capacity: tuple[str, ...], id_col: str,
             out: str, db: str | None) -> None:
    """Give each user at most one treatment, maximizing expected incremental value within budget and capacities."""
    from common.settings import resolve_db_path
    from experiments.optouts import opted_out
    from uplift.inputs import check_scores, read_costs

    table = read_csv(scores, id_col)
    check_scores(table, scores, id_col)
    unit_costs = read_costs(costs)
    left_out = opted_out(table[id_col], db) if resolve_db_path(db).exists() else None
    if left_out is not None and left_out.any():  # opt-outs win: a plan never offers them a treatment
        click.echo(f"{int(left_out.sum())} opted-out users left out of the plan")
        table = table[~left_out].reset_index(drop=True)
    ids = table.pop(id_col)
    value = _value(value_per_retained, table)
    caps = _pairs(capacity, "--capacity", int)
    result = allocate_treatments(table, unit_costs, budget, value, caps)
    frame = result.to_frame(ids)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    click.echo(f"treated {sum(result.counts.values())} of {len(frame)} users ({counts}); cost {result.total_cost:,.2f} "
               f"of {budget:,.2f}; expected incremental retained {result.expected_retained:,.1f}, "
               f"value {result.expected_value:,.2f} -> {out}")
