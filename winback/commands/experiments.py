"""CLI for the registry: treatments, metrics, experiments and their lifecycle, assignment, imports, decisions."""
from __future__ import annotations

import json

import click

from experiments.catalog import (
    TREATMENT_KINDS,
    Metric,
    Treatment,
    list_metrics,
    list_treatments,
    save_metric,
    save_treatment,
)
from experiments.definitions import (
    Arm,
    Experiment,
    create_experiment,
    get_experiment,
    list_experiments,
)
from experiments.errors import ExperimentError
from experiments.imports import import_deliveries, import_outcomes
from experiments.audit_log import read_audit_log
from experiments.cohorts import list_cohorts
from experiments.lifecycle import list_decisions, record_decision, start_experiment, stop_experiment
from experiments.optouts import add_opt_outs, count_opt_outs
from experiments.targeting import (
    DEFAULT_CAP_WINDOW_DAYS,
    DEFAULT_CONTACT_CAP,
    assign_users,
    read_user_ids,
)
from winback.cli_support import clean_errors, db_option


@click.group()
def treatment() -> None:
    """The treatment catalog: coupons, VIP service, recommendations, care content, with unit costs."""


@treatment.command("add")
@click.argument("key")
@click.option("--name", help="Human-readable name (default: the key).")
@click.option("--kind", type=click.Choice(TREATMENT_KINDS), required=True, help="What sort of treatment it is.")
@click.option("--unit-cost", type=float, required=True, help="What one delivery costs.")
@click.option("--capacity", type=int, default=None, help="How many users it can serve (e.g. VIP seats).")
@db_option
@clean_errors
def treatment_add(key: str, name: str | None, kind: str, unit_cost: float, capacity: int | None, db: str | None) -> None:
    """Add a treatment, or update its name, kind, cost and capacity."""
    saved = save_treatment(Treatment(key, name or key, kind, unit_cost, capacity), db)  # type: ignore[arg-type]
    click.echo(f"treatment {saved.key}: {saved.kind}, unit cost {saved.unit_cost:g}")


@treatment.command("list")
@db_option
@clean_errors
def treatment_list(db: str | None) -> None:
    """List the treatment catalog."""
    for t in list_treatments(db):
        capacity = "unlimited" if t.capacity is None else str(t.capacity)
        click.echo(f"{t.key:<20} {t.kind:<15} cost {t.unit_cost:>8.2f}  capacity {capacity:<10} {t.name}")


@click.group()
def metric() -> None:
    """Metric definitions: binary or continuous, and whether higher is better."""


@metric.command("add")
@click.argument("key")
@click.option("--kind", type=click.Choice(["binary", "continuous"]), required=True, help="Proportion or mean metric.")
@click.option("--lower-is-better", is_flag=True, help="For guardrails such as unsubscribes or complaints.")
@click.option("--description", default="", help="What the metric measures.")
@db_option
@clean_errors
def metric_add(key: str, kind: str, lower_is_better: bool, description: str, db: str | None) -> None:
    """Declare a metric (used by analysis and guardrail checks)."""
    saved = save_metric(Metric(key, kind, not lower_is_better, description), db)  # type: ignore[arg-type]
    click.echo(f"metric {saved.key}: {saved.kind}, {'higher' if saved.higher_is_better else 'lower'} is better")


@metric.command("list")
@db_option
@clean_errors
def metric_list(db: str | None) -> None:
    """List declared metrics."""
    for m in list_metrics(db):
        click.echo(f"{m.key:<20} {m.kind:<11} {'higher' if m.higher_is_better else 'lower'} is better  {m.description}")


def parse_arm(text: str) -> Arm:
    """`NAME:TREATMENT:WEIGHT` (TREATMENT '-' for none) → Arm."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ExperimentError(f"arm '{text}' must look like NAME:TREATMENT:WEIGHT (TREATMENT '-' for none)")
    name, treatment_key, weight = parts
    try:
        value = float(weight)
    except ValueError:
        raise ExperimentError(f"arm '{text}': weight '{weight}' is not a number") from None
    return Arm(name, None if treatment_key in ("", "-") else treatment_key, value)


@click.group()
def experiment() -> None:
    """Experiments: define, start, assign users, stop."""


@experiment.command("create")
@click.argument("key")
@click.option("--name", required=True, help="Short title.")
@click.option("--primary-metric", required=True, help="The metric the decision rests on, e.g. retained.")
@click.option("--arm", "arms", multiple=True, required=True, help="NAME:TREATMENT:WEIGHT, repeat per arm; TREATMENT '-' for none.")
@click.option("--control", default=None, help="Which arm is the control (default: the first).")
@click.option("--hypothesis", default="", help="What you expect and why.")
@click.option("--owner", default="", help="Who is responsible.")
@click.option("--cohort", "target_cohort", default=None, help="Target cohort key in the registry (from `churn flag`).")
@click.option("--guardrail", "guardrails", multiple=True, help="Metric that must not get worse; repeatable.")
@click.option("--layer", default="default", show_default=True, help="Mutual-exclusion layer.")
@click.option("--coverage", type=float, default=1.0, show_default=True, help="Share of eligible users included.")
@click.option("--hash-version", type=click.Choice(["1", "2"]), default="2", show_default=True, help="GrowthBook hash version.")
@click.option("--value-per-retained", type=float, default=None,
              help="What one retained user is worth (margin), used for ROI in `winback analyze`.")
@db_option
@clean_errors
def experiment_create(key, name, primary_metric, arms, control, hypothesis, owner, target_cohort, guardrails, layer,
                      coverage, hash_version, value_per_retained, db) -> None:
    """Create a draft experiment; KEY is also the assignment hash seed."""
    parsed = [parse_arm(a) for a in arms]
    control_key = control or parsed[0].key
    if control_key not in {a.key for a in parsed}:
        raise click.ClickException(f"--control '{control_key}' is not one of the arms: {', '.join(a.key for a in parsed)}")
    parsed = [Arm(a.key, a.treatment, a.weight, a.key == control_key) for a in parsed]
    created = create_experiment(
        Experiment(key=key, name=name, primary_metric=primary_metric, arms=tuple(parsed), hypothesis=hypothesis,
                   owner=owner, target_cohort=target_cohort, guardrail_metrics=tuple(guardrails), layer=layer,
                   coverage=coverage, hash_version=int(hash_version), value_per_retained=value_per_retained),
        db,
    )
    click.echo(f"experiment {created.key} created as draft with arms {', '.join(a.key for a in created.arms)}")


@experiment.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def experiment_show(key: str, as_json: bool, db: str | None) -> None:
    """Show an experiment's definition and status."""
    found = get_experiment(key, db)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    click.echo(f"{found.key}: {found.name} [{found.status}]  layer {found.layer}, coverage {found.coverage:g}")
    click.echo(f"  primary metric {found.primary_metric}; guardrails {', '.join(found.guardrail_metrics) or 'none'}")
    click.echo(f"  target cohort {found.target_cohort or 'none'}; owner {found.owner or '-'}")
    for arm in found.arms:
        click.echo(f"  arm {arm.key:<16} treatment {arm.treatment or '-':<16} weight {arm.weight:g}{'  (control)' if arm.is_control else ''}")
    for decision in list_decisions(key, db):
        click.echo(f"  decided {decision.decided_at[:10]} by {decision.decided_by}: winner {decision.winner_arm} "
                   f"({decision.rationale})")


@experiment.command("list")
@click.option("--status", type=click.Choice(["draft", "running", "stopped", "concluded"]), default=None)
@db_option
@clean_errors
def experiment_list(status: str | None, db: str | None) -> None:
    """List experiments, newest first."""
    for found in list_experiments(db, status):  # type: ignore[arg-type]
        click.echo(f"{found.key:<24} {found.status:<10} {found.name}")


@experiment.command("start")
@click.argument("key")
@db_option
@clean_errors
def experiment_start(key: str, db: str | None) -> None:
    """draft → running; arms and weights are frozen from here on."""
    click.echo(f"experiment {start_experiment(key, db).key} is running")


@experiment.command("stop")
@click.argument("key")
@db_option
@clean_errors
def experiment_stop(key: str, db: str | None) -> None:
    """running → stopped; no more assignments."""
    click.echo(f"experiment {stop_experiment(key, db).key} is stopped")


@experiment.command("assign")
@click.argument("key")
@click.option("--users", type=click.Path(dir_okay=False), default=None,
              help="CSV or Parquet with a user_id column (default: the experiment's target cohort).")
@click.option("--id-column", default="user_id", show_default=True, help="Column holding user ids.")
@click.option("--contact-cap", type=int, default=DEFAULT_CONTACT_CAP, show_default=True,
              help="Skip users already given this many treatments in the window.")
@click.option("--cap-window-days", type=int, default=DEFAULT_CAP_WINDOW_DAYS, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@db_option
@clean_errors
def experiment_assign(key, users, id_column, contact_cap, cap_window_days, as_json, db) -> None:
    """Assign users to a running experiment (idempotent: re-running adds no duplicates)."""
    ids = read_user_ids(users, id_column) if users else None
    summary = assign_users(key, ids, db=db, contact_cap=contact_cap, cap_window_days=cap_window_days)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    click.echo(
        f"{summary.candidates} candidates: {summary.newly_assigned} newly assigned, {summary.already_assigned} already, "
        f"{summary.excluded_opt_out} opted out, {summary.excluded_layer} in another experiment of the layer, "
        f"{summary.excluded_contact_cap} over the contact cap, {summary.outside_coverage} outside coverage"
    )
    click.echo("arm sizes: " + ", ".join(f"{arm} {n}" for arm, n in summary.arm_sizes.items()))


@experiment.command("audit")
@click.argument("key", required=False)
@click.option("--limit", type=int, default=50, show_default=True, help="How many of the newest entries.")
@db_option
@clean_errors
def experiment_audit(key: str | None, limit: int, db: str | None) -> None:
    """Who changed what and when: the audit log, for one experiment (KEY) or the whole registry."""
    for entry in read_audit_log(db, object_key=key, limit=limit):
        click.echo(f"{entry.at[:19]}  {entry.actor:<14} {entry.action:<10} {entry.object_type:<11} {entry.object_key}")


@click.group()
def cohort() -> None:
    """Flagged cohorts in the registry (written by `winback churn flag`), which experiments target."""


@cohort.command("list")
@db_option
@clean_errors
def cohort_list(db: str | None) -> None:
    """Each cohort with its size, mean risk, model and scoring time."""
    for row in list_cohorts(db).itertuples(index=False):
        click.echo(f"{row.cohort_key:<24} {row.users:>8,} users  mean risk {row.mean_risk:.3f}  "
                   f"model {row.model or '-'}  scored {str(row.scored_at)[:19]}")


@click.group()
def optout() -> None:
    """The opt-out list: users never assigned to any treatment."""


@optout.command("add")
@click.argument("user_ids", nargs=-1)
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None, help="CSV/Parquet with a user_id column.")
@click.option("--reason", default="", help="Why (e.g. 'asked by e-mail').")
@db_option
@clean_errors
def optout_add(user_ids: tuple[str, ...], path: str | None, reason: str, db: str | None) -> None:
    """Add users to the opt-out list, from arguments and/or a file."""
    ids = list(user_ids) + (list(read_user_ids(path)) if path else [])
    if not ids:
        raise click.UsageError("give user ids or --file")
    added = add_opt_outs(ids, reason, db)
    click.echo(f"{added} users added to the opt-out list ({count_opt_outs(db)} in all)")


@click.group("import")
def imports() -> None:
    """Import deliveries and outcomes from CSV or Parquet (one transaction per file, idempotent)."""


def _report(summary) -> None:
    click.echo(f"{summary.path}: {summary.rows_read} rows, {summary.inserted} new, {summary.unchanged} already present")


@imports.command("deliveries")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@clean_errors
def import_deliveries_command(paths: tuple[str, ...], db: str | None) -> None:
    """Deliveries: experiment_key, user_id, treatment_key, sent_at, cost[, channel]."""
    for path in paths:
        _report(import_deliveries(path, db))


@imports.command("outcomes")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@clean_errors
def import_outcomes_command(paths: tuple[str, ...], db: str | None) -> None:
    """Outcomes: experiment_key, user_id, metric, value[, period pre|post, observed_at]."""
    for path in paths:
        _report(import_outcomes(path, db))


@click.command()
@click.argument("key")
@click.option("--winner", required=True, help="The winning arm.")
@click.option("--rationale", required=True, help="The evidence behind the choice.")
@click.option("--by", "decided_by", required=True, help="Who decided.")
@db_option
@clean_errors
def decide(key: str, winner: str, rationale: str, decided_by: str, db: str | None) -> None:
    """Record the winning treatment of a stopped experiment and conclude it."""
    decision = record_decision(key, winner, rationale, decided_by, db)
    click.echo(f"experiment {key} concluded: winner {decision.winner_arm} (decided by {decision.decided_by})")
