"""CLI for uplift: fit calibrated targeting models, score users, and allocate a budget into a CRM-ready plan.

Heavy libraries (pandas, LightGBM, causalml) load inside the commands, so `winback --help` stays quick.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

from common.errors import WinbackError
from common.spreadsheet import inert_frame
from winback.cli_support import clean_errors, db_option, echo_unknown, unknown_events_option
from winback.commands.warehouse import ENGINES

if TYPE_CHECKING:
    import pandas as pd

_FILE = click.Path(exists=True, dir_okay=False)
# "auto" and every preset of uplift.candidates.PRESETS, spelled out so `winback uplift --help` loads no LightGBM
# (tests/uplift/test_pseudo_forest.py checks the two lists agree).
LEARNER_CHOICES = ["auto", "s", "s_fine", "t", "x", "dr", "forest", "logit", "pooled_t", "pseudo_forest", "pseudo_rules", "s_coarse",
                   "t_coarse", "x_coarse", "dr_coarse", "logit_pairs", "logit_strong"]
AUTO_HELP = ("auto: s, s_coarse, pseudo_forest, pseudo_rules and logit (uplift.candidates.DEFAULT_CANDIDATES) and their average, each "
             "calibrated with and without the noise gate, chosen by the doubly robust value of the plan each produces; "
             "or one of them by name.")


class UpliftCliError(WinbackError):
    """A wrong combination of uplift options."""


def read_csv(path: str, id_col: str | None = None):
    """Read a CSV or Parquet table (ids kept as exact text, other columns typed), or one clear error."""
    from uplift.inputs import read_table

    return read_table(path, id_col)


def _training_frame(experiment_key, data, treatment_col, outcome_col, control, id_col, arm_weight, events_path,
                    warehouse, db, unknown_events="refuse"):
    """The randomized users to learn from: a file (--data with its columns) or an experiment of the registry with
    churn features from the warehouse; returns the frame, the arm weights, control and the column names."""
    from uplift.plan_inputs import parse_pairs

    if data is None and experiment_key is None:
        raise UpliftCliError("give --experiment KEY (learn from the registry) or --data FILE")
    if data is not None:
        absent = [o for o, v in (("--treatment", treatment_col), ("--outcome", outcome_col), ("--control", control),
                                 ("--id", id_col)) if v is None]
        if absent:
            raise UpliftCliError(f"--data needs {', '.join(absent)}")
        from uplift.inputs import check_fit_input

        frame = read_csv(data, id_col)
        weights = parse_pairs(arm_weight, "--arm-weight", float) or None
        check_fit_input(frame, data, treatment_col=treatment_col, outcome_col=outcome_col, control=control,
                        arm_weights=weights)
    else:
        from churn.ingest import load_events
        from uplift.experiment_data import ARM_COLUMN, OUTCOME_COLUMN, experiment_table
        from warehouse.engine import open_warehouse

        wh = open_warehouse(warehouse, db)
        if events_path:
            loaded = load_events(events_path, wh, name=events_path, unknown_events=unknown_events)
            echo_unknown(loaded, err=True)
        table = experiment_table(experiment_key, db=db, warehouse=wh)
        for note in table.notes:
            click.echo(f"note: {note}", err=True)
        frame, weights, control = table.data, table.weights, table.control
        treatment_col, outcome_col, id_col = ARM_COLUMN, OUTCOME_COLUMN, "user_id"
    if treatment_col not in frame.columns:
        raise UpliftCliError(f"{data}: no column '{treatment_col}' (--treatment)")
    return frame, weights, control, treatment_col, outcome_col, id_col


def _unplanned(experiment_key, db, treatments: list[str], allow: tuple[str, ...]) -> dict[str, list[str]]:
    """Treatments that failed a guardrail in the registry's experiment (less the allowed ones), each with a note:
    fitted, but in no plan, as `allocate --model` leaves them out."""
    from common.settings import resolve_db_path

    # With --data the key may be a label only; with --experiment the experiment was read already.
    if not experiment_key or not resolve_db_path(db).exists() or not _in_registry(experiment_key, db):
        return {}
    from experiments.plans import excluded_treatments

    unplanned = {k: v for k, v in excluded_treatments(db, experiment_key, allow).items() if k in treatments}
    for key, metrics in unplanned.items():
        click.echo(f"note: {key} failed guardrail(s) {', '.join(metrics)} in {experiment_key}: fitted, but left out of "
                   f"every plan, as allocate --model will leave it out (--allow-treatment {key} to plan it)", err=True)
    return unplanned


def _in_registry(key: str, db: str | None) -> bool:
    """Whether experiment `key` is in the registry."""
    from experiments.definitions import get_experiment
    from experiments.errors import ExperimentError

    try:
        get_experiment(key, db)
    except ExperimentError:
        return False
    return True


def _catalog_costs(db: str | None, treatments: list[str], required: bool = True) -> dict[str, float] | None:
    """Unit costs of the given treatment keys from the registry's catalog (None when some are missing and not required)."""
    from experiments.catalog import list_treatments

    catalog = {t.key: t.unit_cost for t in list_treatments(db)}
    missing = [t for t in treatments if t not in catalog]
    if missing:
        if not required:
            return None
        listed = ", ".join(missing[:10]) + (f", ... ({len(missing)} in all)" if len(missing) > 10 else "")
        raise UpliftCliError(f"treatment(s) {listed} are not in the catalog; give their costs with --costs"
                             + (" (or is this a features file? --scores takes `winback uplift score` output)"
                                if len(missing) > 10 else ""))
    return {t: float(catalog[t]) for t in treatments}


def _catalog_capacities(db: str | None, treatments: list[str]) -> dict[str, int]:
    """The catalog's capacity (e.g. VIP seats) of each of these treatments that has one; none without a registry."""
    from common.settings import resolve_db_path
    from experiments.catalog import list_treatments

    if not resolve_db_path(db).exists():
        return {}
    return {t.key: int(t.capacity) for t in list_treatments(db) if t.key in treatments and t.capacity is not None}


def _fmt(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.1f}"


def _training_source(command):
    """The options that say which randomized users to learn from (`_training_frame` reads them), and which
    treatments that failed a guardrail there may still be planned: shared by `uplift fit` and `uplift prove`."""
    options = [
        click.option("--experiment", "experiment_key", default=None,
                     help="The experiment in the registry to learn from (assignments, primary-metric outcomes, arm "
                          "weights, churn features from the warehouse as of the assignment day); with --data, only a "
                          "label recorded with the result."),
        click.option("--data", type=_FILE, default=None,
                     help="Or: a CSV of experiment users with features, arm and outcome."),
        click.option("--treatment", "treatment_col", default=None, help="With --data: column holding each user's arm."),
        click.option("--outcome", "outcome_col", default=None, help="With --data: outcome column (0/1 or a number)."),
        click.option("--control", default=None, help="With --data: the control arm's name in the treatment column."),
        click.option("--id", "id_col", default=None, help="With --data: user id column (not used as a feature)."),
        click.option("--arm-weight", multiple=True, help="With --data: known assignment weight ARM=W (repeatable)."),
        click.option("--events", "events_path", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="With --experiment: load this events file into the warehouse first."),
        unknown_events_option,
        click.option("--warehouse", type=click.Path(dir_okay=False), default=None,
                     help="Warehouse holding the events (default: $WINBACK_WAREHOUSE, else the registry file)."),
        click.option("--allow-treatment", multiple=True,
                     help="Plan this treatment even though it failed a guardrail in the experiment (repeatable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
def uplift() -> None:
    """Per-user uplift models: which treatment changes whose outcome."""


@uplift.command("fit")
@_training_source
@click.option("--name", required=True, help="Name to store the model under.")
@click.option("--learner", type=click.Choice(LEARNER_CHOICES), default="auto", show_default=True,
              help=AUTO_HELP)
@click.option("--costs", type=_FILE, default=None,
              help="JSON treatment -> unit cost for the plan the choice is judged on (default: the catalog's costs).")
@click.option("--budget", type=float, default=None, help="Budget of that plan (default: enough to treat everybody).")
@click.option("--population", type=int, default=None,
              help="Users the budget is for (default: the experiment's users); budget and capacities scale to it.")
@click.option("--capacity", multiple=True, help="Most users a treatment can serve, T=N (repeatable).")
@click.option("--value-per-retained", default=None,
              help="Value of a retained user (number or data column); default: maximize incremental retained users.")
@click.option("--exclude", multiple=True, help="With --data: column to leave out of the features (repeatable).")
@click.option("--folds", type=int, default=3, show_default=True, help="Cross-fitting folds.")
@click.option("--calibration", type=click.Choice(["isotonic", "linear"]), default="isotonic", show_default=True,
              help="Per-decile calibration of predicted against observed (DR) uplift: monotone steps or a line.")
@click.option("--trees", type=int, default=100, show_default=True, help="LightGBM trees per base model.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the folds and the learners.")
@click.option("--model-dir", default=None, help="Where to save the model file (default: $WINBACK_MODEL_DIR or ./models).")
@db_option
@clean_errors
def fit(experiment_key, data, treatment_col, outcome_col, control, id_col, name, learner, costs, budget, population,
        capacity, value_per_retained, exclude, allow_treatment, arm_weight, folds, calibration, trees, seed, events_path,
        warehouse, model_dir, db, unknown_events="refuse") -> None:
    """Fit calibrated uplift learners by cross-fitting, choose by the value of their plans, store the best."""
    from uplift.choice_notes import forecast_precision, precision_note, tie_note
    from uplift.plan_inputs import plan_spec
    from uplift.store import save_uplift_model
    from uplift.targeting import DEFAULT_CANDIDATES, fit_targeting

    frame, weights, control, treatment_col, outcome_col, id_col = _training_frame(
        experiment_key, data, treatment_col, outcome_col, control, id_col, arm_weight, events_path, warehouse, db,
        unknown_events)
    treatments = sorted(set(frame[treatment_col].astype(str)) - {control})
    cost_source = costs or _catalog_costs(db, treatments, required=False)
    if cost_source is None:
        click.echo("no --costs and not every treatment is in the catalog: candidates are judged on giving each user "
                   "the treatment with the highest positive uplift, with no budget")
        cost_source, budget = {t: 0.0 for t in treatments}, 0.0
    if budget is None:
        from uplift.plan_inputs import read_costs

        unit_costs = cost_source if isinstance(cost_source, dict) else read_costs(cost_source)
        budget = max(unit_costs.values()) * len(frame)
    spec = plan_spec(cost_source, budget, capacity=capacity, value=value_per_retained, scores=frame,
                     population=population or len(frame))
    candidates = DEFAULT_CANDIDATES if learner == "auto" else (learner,)
    unplanned = _unplanned(experiment_key, db, treatments, allow_treatment)
    result = fit_targeting(frame, treatment_col=treatment_col, outcome_col=outcome_col, control=control, spec=spec,
                           id_col=id_col, exclude=exclude, candidates=candidates, ensemble=learner == "auto",
                           arm_weights=weights, folds=folds, seed=seed, n_estimators=trees, calibration=calibration,
                           unplanned=tuple(unplanned))
    unit = "incremental retained users" if spec.value is None else "net value"
    click.echo(f"plan value per user ({unit}, doubly robust, out of fold) and held-out Qini of each candidate:")
    width = max(len(c.learner) for c in result.candidates)  # names line up however long (pseudo_forest_ungated)
    for c in result.candidates:
        mark = "*" if c.learner == result.learner else " "
        click.echo(f"{mark} {c.learner:<{width}} value {c.policy_value.value_per_user:+.4f} "
                   f"[{c.policy_value.ci_low:+.4f}, {c.policy_value.ci_high:+.4f}]  qini {c.mean_qini:7.4f}  "
                   f"treats {c.treated:,}")
    if note := tie_note(result.learner, result.tied, len(result.candidates)):
        click.echo(f"note: {note}")
    if result.blankets:
        click.echo("each treatment sent to random users with the same budget, and the chosen plan's gain over it "
                   "(per user, doubly robust):")
        for b, g in zip(result.blankets, result.gains):
            click.echo(f"  {b.policy:<22} value {b.value_per_user:+.4f} [{b.ci_low:+.4f}, {b.ci_high:+.4f}]  "
                       f"plan's gain {g.value_per_user:+.4f} [{g.ci_low:+.4f}, {g.ci_high:+.4f}]")
    if note := result.blanket_note():
        click.echo(f"note: {note}")
    chosen, users = result.forecast_value, spec.population or len(frame)  # valued where the choice did not look
    click.echo(f"forecast of the chosen plan over {users:,} users: {chosen.value_per_user * users:,.1f} "
               f"{'incremental retained users' if spec.value is None else 'net value'} "
               f"[95% {chosen.ci_low * users:,.1f}, {chosen.ci_high * users:,.1f}]")
    if note := precision_note(forecast_precision(chosen.to_dict())):
        click.echo(f"note: {note}")
    record = save_uplift_model(result, name, data=frame, experiment_key=experiment_key, db=db, model_dir=model_dir)
    click.echo(f"model {record.name}: learner {result.learner}, {len(record.features)} features, treatments "
               f"{', '.join(result.treatments)}; saved to {record.path}")


@uplift.command("prove")
@_training_source
@click.option("--costs", type=_FILE, default=None, help="JSON treatment -> unit cost (default: the catalog's costs).")
@click.option("--budget-per-user", type=click.FloatRange(min=0), required=True,
              help="Budget per held-out user of the plan that is judged (and of the blankets it is compared with).")
@click.option("--holdout", type=click.FloatRange(0.05, 0.8), default=0.3, show_default=True,
              help="Share of the experiment's users kept out of the fit to judge the plan on.")
@click.option("--learner", type=click.Choice(LEARNER_CHOICES), default="auto", show_default=True,
              help="auto: the candidate whose out-of-fold plan value is highest on the fit users, as in uplift fit.")
@click.option("--trees", type=int, default=100, show_default=True, help="LightGBM trees per base model.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the held-out draw, folds and learners.")
@click.option("--chart", type=click.Path(dir_okay=False), default=None,
              help="Also draw the forecast, the plan and each blanket with their intervals (.png/.svg/.pdf).")
@click.option("--json", "as_json", is_flag=True, help="Print the proof as JSON.")
@db_option
@clean_errors
def prove(experiment_key, data, treatment_col, outcome_col, control, id_col, arm_weight, costs, budget_per_user,
          holdout, learner, allow_treatment, trees, seed, chart, as_json, events_path, warehouse, db,
          unknown_events="refuse") -> None:
    """Prove targeting on a randomized experiment: fit on part of it, plan the rest, judge the plan there.

    The held-out users' doubly robust estimates of the plan, of each treatment sent to random users with the same
    budget, and of the plan's gain over each, beside the fit's own forecast (incremental outcome per user)."""
    from common.jsonable import dumps
    from uplift.holdout_proof import prove_on_holdout
    from uplift.plan_inputs import read_costs
    from uplift.targeting import DEFAULT_CANDIDATES

    if chart:
        from winback.charts import CHART_SUFFIXES

        if not chart.lower().endswith(CHART_SUFFIXES):
            raise click.UsageError(f"--chart {chart}: use a .png, .svg or .pdf file name")
    frame, weights, control, treatment_col, outcome_col, id_col = _training_frame(
        experiment_key, data, treatment_col, outcome_col, control, id_col, arm_weight, events_path, warehouse, db,
        unknown_events)
    metric = outcome_col
    if data is None:
        from experiments.definitions import get_experiment

        metric = get_experiment(experiment_key, db).primary_metric
    treatments = sorted(set(frame[treatment_col].astype(str)) - {control})
    cost_source = costs or _catalog_costs(db, treatments, required=True)
    if cost_source is None:
        raise UpliftCliError("give the unit costs with --costs (the catalog does not have them all)")
    unit_costs = cost_source if isinstance(cost_source, dict) else read_costs(cost_source)
    missing = [t for t in treatments if t not in unit_costs]
    if missing:
        raise UpliftCliError(f"no unit cost for treatment(s) {', '.join(missing)}: list them in --costs")
    if not weights:
        weights = frame[treatment_col].astype(str).value_counts(normalize=True).to_dict()
    unplanned = _unplanned(experiment_key, db, treatments, allow_treatment)
    proof = prove_on_holdout(frame, treatment_col=treatment_col, outcome_col=outcome_col, control=control,
                             costs={t: float(unit_costs[t]) for t in treatments}, budget_per_user=budget_per_user,
                             arm_weights=weights, id_col=id_col, holdout=holdout, seed=seed, n_estimators=trees,
                             candidates=DEFAULT_CANDIDATES if learner == "auto" else (learner,),
                             unplanned=tuple(unplanned), progress=not as_json)
    written = None
    if chart:
        from winback.charts import plot_holdout_proof

        written = plot_holdout_proof(proof, chart, title=f"{experiment_key or data}: incremental {metric}")
    if as_json:
        click.echo(dumps(proof.to_dict()))
        return
    for line in proof_lines(proof, metric):
        click.echo(line)
    if written:
        click.echo(f"chart: {written}")


def proof_lines(proof, outcome: str) -> list[str]:
    """What `uplift prove` prints: the setup, forecast against held out, and the plan against each blanket."""
    def est(e) -> str:
        return f"{e.value_per_user:+.4f} [{e.ci_low:+.4f}, {e.ci_high:+.4f}]"

    gap, low, high = proof.forecast_gap
    if not proof.forecast_consistent:
        verdict = "the held-out users do NOT bear the promise out: trust the held-out figure"
    elif proof.targeted.ci_low > 0:
        verdict = "the held-out users bear the promise out"
    else:  # a gap whose interval covers 0 is no evidence when the held-out value itself is not above 0
        verdict = ("not shown to differ, but on the held-out users the plan is not shown to beat treating nobody: "
                   "more users are needed to prove it")
    lines = [f"fitted on {proof.n_fit:,} users (learner {proof.learner}); the plan for the other {proof.n_plan:,} "
             f"treats {proof.treated:,} for {proof.cost:,.2f} of {proof.budget:,.2f}",
             f"incremental {outcome} per held-out user, doubly robust, 95% intervals:",
             f"  forecast (the fit's own, out of fold)  {est(proof.forecast)}",
             f"  the plan, on the held-out users        {est(proof.targeted)}  "
             f"= {proof.targeted.value_per_user * proof.n_plan:,.1f} in total",
             f"  forecast - held out                    {gap:+.4f} [{low:+.4f}, {high:+.4f}]: {verdict}",
             "the same budget sent to random users with one treatment, and the plan's gain over it (paired):"]
    for blanket, gain in zip(proof.blankets, proof.gains):
        sure = " (significant)" if gain.ci_low > 0 else (" (worse)" if gain.ci_high < 0 else "")
        lines.append(f"  {blanket.policy:<28} {est(blanket)}   gain {est(gain)}{sure}")
    return lines


@uplift.command("score")
@click.option("--model", "model_name", required=True, help="Name of a stored uplift model.")
@click.option("--data", required=True, type=_FILE, help="Users to score, with the model's feature columns.")
@click.option("--id", "id_col", required=True, help="User id column.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="CSV to write: id, one calibrated uplift column per treatment, then se:<treatment> columns.")
@click.option("--clv", "clv_path", type=_FILE, default=None,
              help="`winback churn score` output: add each user's clv column, for allocate --value-per-retained clv.")
@click.option("--cohort", "cohort_key", default=None,
              help="Score only this flagged cohort's users (its newest version), e.g. the cohort the model's "
                   "experiment was drawn from.")
@db_option
@clean_errors
def score(model_name: str, data: str, id_col: str, out: str, clv_path: str | None, cohort_key: str | None,
          db: str | None) -> None:
    """Predict each user's calibrated uplift for every treatment with a stored model."""
    from uplift.inputs import check_score_input
    from uplift.scoring import attach_clv, score_users
    from uplift.store import load_uplift_model

    model, record = load_uplift_model(model_name, db)
    table = read_csv(data, id_col)
    learned_on = _experiment_cohort(record.experiment_key, db)
    if cohort_key:
        table = _cohort_rows(table, id_col, cohort_key, data, db)
    elif learned_on:
        click.echo(f"note: model {record.name} learned from experiment {record.experiment_key}, drawn from cohort "
                   f"{learned_on}; its uplift for users outside that cohort is an extrapolation "
                   f"(--cohort {learned_on} scores only them)")
    fold_models = getattr(model, "fold_models", None)
    encoder = fold_models[0][0].encoder_ if fold_models else getattr(model, "encoder_", None)
    check_score_input(encoder, table, data)
    scores = score_users(model, record, table, id_col=id_col)
    if clv_path:
        scores = attach_clv(scores, read_csv(clv_path, "user_id"), id_col=id_col, source=clv_path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    click.echo(f"scored {len(scores):,} users{f' of cohort {cohort_key}' if cohort_key else ''} with model "
               f"{record.name} ({record.learner}){', with their clv' if clv_path else ''} -> {out}")


def _experiment_cohort(experiment_key: str | None, db: str | None) -> str | None:
    """The target cohort of the experiment a model was fitted on, if it came from one that names a cohort."""
    if not experiment_key:
        return None
    from experiments.definitions import get_experiment
    from experiments.errors import ExperimentError

    try:
        return get_experiment(experiment_key, db).target_cohort
    except ExperimentError:  # the experiment was deleted since: nothing to compare with
        return None


def _cohort_rows(table: pd.DataFrame, id_col: str, cohort_key: str, source: str, db: str | None) -> pd.DataFrame:
    """The rows of `table` whose user is in the cohort's newest version; refused when none is."""
    from experiments.cohorts import read_cohort

    members = set(read_cohort(cohort_key, db)["user_id"].astype(str))
    kept = table[table[id_col].astype(str).isin(members)]
    if kept.empty:
        raise click.ClickException(f"none of the {len(table):,} users in {source} is in cohort {cohort_key} "
                                   f"({len(members):,} users): is --id {id_col} the right column?")
    return kept.reset_index(drop=True)


@click.command("allocate")
@click.option("--scores", required=True, type=click.Path(),
              help="Uplift scores: user id, one column per treatment key (CSV or Parquet; with --engine spark, a "
                   "Parquet file or folder).")
@click.option("--costs", type=_FILE, default=None,
              help="JSON treatment key -> unit cost (control may be listed at 0); default: the catalog's costs.")
@click.option("--budget", required=True, type=float, help="Total spend allowed.")
@click.option("--value-per-retained", default=None,
              help="Value of one retained user: a number, or a column of the scores file such as clv; "
                   "default: maximize incremental retained users within the budget.")
@click.option("--capacity", multiple=True, help="Most users a treatment can serve, T=N (repeatable).")
@click.option("--holdout", type=float, default=0.0, show_default=True,
              help="Random share of each treatment's chosen users kept untreated (the plan's control).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the holdout draw.")
@click.option("--model", "model_name", default=None,
              help="The uplift model the scores came from: its experiment's failed guardrails are honoured.")
@click.option("--allow-treatment", multiple=True, help="Give a treatment that failed a guardrail anyway (repeatable).")
@click.option("--record", "record_key", default=None,
              help="Record the plan in the registry under this key, as an experiment whose holdout is the control.")
@click.option("--id", "id_col", default="user_id", show_default=True, help="User id column of the scores file.")
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="spark: allocate where the scores are, in Spark ($WINBACK_SPARK_MASTER, default local[*]), and "
                   "write the plan as Parquet (no --holdout or --record); duckdb or none: in memory on this machine.")
@click.option("--out", required=True, type=click.Path(),
              help="CSV to write (with --engine spark: a Parquet folder): user_id, arm, treatment_key, planned_treatment, "
                   "expected_uplift, cost.")
@db_option
@clean_errors
def allocate(scores, costs, budget, value_per_retained, capacity, holdout, seed, model_name, allow_treatment,
             record_key, id_col, engine, out, db) -> None:
    """Give each user at most one treatment within budget and capacities; write the plan the CRM sends."""
    from common.settings import resolve_db_path
    from uplift.inputs import check_scores
    from uplift.plan_inputs import parse_capacities, read_costs

    caps = parse_capacities(capacity)
    cost_map = read_costs(costs) if costs else None
    if engine == "spark":
        _allocate_in_spark(scores, cost_map, budget, value_per_retained, caps, holdout, model_name, allow_treatment,
                           record_key, id_col, out, db)
        return
    if not Path(scores).exists():  # checked here, not by click: with --engine spark it may be a URL (s3a://)
        raise UpliftCliError(f"--scores {scores}: file not found")
    for option, path in (("--scores", scores), ("--out", out)):
        if Path(path).is_dir():
            raise UpliftCliError(f"{option} {path} is a folder; folders of Parquet files need --engine spark")
    if record_key:
        from experiments.plans import check_plan_key

        check_plan_key(db, record_key)  # a taken key is refused before the scores are read
    from experiments.catalog import list_treatments
    from uplift.plan_runs import read_scores

    # With --costs the costs file names the treatments (its own check names a typo); else the catalog does.
    known = None if cost_map or not resolve_db_path(db).exists() else [t.key for t in list_treatments(db)]
    # The import rules: ids byte for byte and once each, score columns named after treatments, uplifts within [-1, 1].
    table = read_scores(scores, id_col, expected=known, value=value_per_retained)
    check_scores(table, scores, id_col)
    if not resolve_db_path(db).exists():
        from experiments.db import open_registry

        open_registry(db)  # an empty registry: no opt-outs yet, and the plan's record has a home
    from uplift.plan_runs import plan_budget

    run = plan_budget(db, table, budget=budget, costs=cost_map, capacity=caps, value=value_per_retained,
                      holdout=holdout, seed=seed, model=model_name, allow=allow_treatment, id_col=id_col,
                      key=record_key, frontier=False, costs_source=costs or "the catalog's costs")
    for note in run.notes:
        click.echo(f"note: {note}")
    if run.screening.n_left_out:  # the send gate wins: a plan never offers these users a treatment
        click.echo(f"left out of the plan: {run.screening.describe()}")
    result = run.result
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    inert_frame(result.frame).to_csv(out, index=False)  # a send list people open: no live formulas
    _echo_plan(result, len(result.frame), result.frame["cost"].sum(), budget, out)
    if run.record is not None:
        click.echo(f"recorded plan {run.record.key} ({', '.join(f'{k} {v:,}' for k, v in run.record.arms.items())}); "
                   f"analyse it later with: winback analyze {run.record.key}")


def _allocate_in_spark(scores, cost_map, budget, value_per_retained, caps, holdout, model_name, allow_treatment,
                       record_key, id_col, out, db) -> None:
    """allocate --engine spark: the plan computed where the scores are and written as Parquet (no holdout, no record)."""
    from common.settings import resolve_db_path
    from experiments.optouts import opted_out_ids
    from uplift.plan_inputs import check_cost_keys, plan_spec
    from uplift.planning import split_scores
    from uplift.spark_plan import plan_in_spark, read_scores

    for option, given in (("--holdout", holdout > 0), ("--record", record_key)):
        if given:
            raise UpliftCliError(f"{option} is not supported with --engine spark; plan without it, or in memory")
    spark_scores = read_scores(scores, id_col)
    table = spark_scores.header
    value_col = value_per_retained if value_per_retained and value_per_retained in table.columns else None
    _, uplift_cols, _ = split_scores(table, id_col, value_col)
    treatments = [str(c) for c in uplift_cols.columns]
    cost_source = cost_map if cost_map is not None else _catalog_costs(db, treatments)
    if cost_source is None:
        raise UpliftCliError("give the unit costs with --costs (the catalog does not have them all)")
    spec = plan_spec(cost_source, budget, capacity=_catalog_capacities(db, treatments) | caps,
                     value=value_per_retained, scores=table)
    check_cost_keys(spec.costs, uplift_cols.columns, "the costs" if cost_map is not None else "the catalog's costs")
    exclude = {}
    if model_name:
        from experiments.models import load_model_record
        from experiments.plans import excluded_treatments
        from uplift.plan_notes import chosen_on_note

        model_record = load_model_record(model_name, db)
        source = model_record.experiment_key
        if note := chosen_on_note(model_record.metrics.get("chosen_on") or {}, spec.per_user(len(table))):
            click.echo(f"note: {note}")
        if source:
            exclude = excluded_treatments(db, source, allow_treatment)
    ids = opted_out_ids(db) if resolve_db_path(db).exists() else []
    planned = plan_in_spark(spark_scores, spec, out, id_col=id_col, exclude=exclude, opted_out=ids)
    if planned.left_out:
        click.echo(f"left out of the plan: {planned.left_out:,} opted out")  # the words of the in-memory plan
    _echo_plan(planned, planned.users, planned.cost, budget, out)


def _echo_plan(result, users: int, cost: float, budget: float, out: str) -> None:
    """What a plan spent and treated, its forecast and its notes: the same lines for both engines' results."""
    from common.settings import currency_setting

    a = result.allocation
    unit = f" {currency_setting()}" if currency_setting() else ""
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts().items() if k in a.counts)
    click.echo(f"treated {result.treated:,} of {users:,} users ({counts or 'none'}); held out "
               f"{result.held_out:,}; cost {cost:,.2f} of {budget:,.2f}{unit}")
    interval = "" if math.isnan(result.ci_low) else f" [95% {_fmt(result.ci_low)}, {_fmt(result.ci_high)}]"
    click.echo(f"expected incremental retained users {_fmt(result.predicted)}{interval}"
               + ("" if a.objective == "retained" else
                  f"; value {result.predicted_value:,.2f}, net of cost {result.predicted_value - cost:,.2f}{unit}")
               + f" -> {out}")
    for note in result.notes:
        click.echo(f"note: {note}")
