"""CLI for the registry: treatments, metrics, experiments and their lifecycle, assignment, imports, decisions.

Only click and the registry's declared choices load at import time; each command imports its service when it
runs, so `winback --help` stays fast.
"""
from __future__ import annotations

import click

from common.jsonable import dumps
from experiments.choices import (
    DEFAULT_CAP_WINDOW_DAYS,
    DEFAULT_CONTACT_CAP,
    METRIC_KINDS,
    STATUSES,
    TREATMENT_KINDS,
)
from winback.cli_support import clean_errors, db_option


def _currency() -> str:
    """' EUR' after a money amount when $WINBACK_CURRENCY is set (as analyze and allocate show it), else ''."""
    from common.settings import currency_setting

    return f" {currency_setting()}" if currency_setting() else ""


@click.group()
def treatment() -> None:
    """The treatment catalog: coupons, VIP service, recommendations, care content, with unit costs."""


@treatment.command("add")
@click.argument("key")
@click.option("--name", help="Human-readable name (default: the key).")
@click.option("--kind", type=click.Choice(TREATMENT_KINDS), required=True, help="What sort of treatment it is.")
@click.option("--unit-cost", type=click.FloatRange(min=0, max=1e9), required=True, help="What one delivery costs.")
@click.option("--capacity", type=click.IntRange(min=0), default=None, help="How many users it can serve (e.g. VIP seats).")
@db_option
@clean_errors
def treatment_add(key: str, name: str | None, kind: str, unit_cost: float, capacity: int | None, db: str | None) -> None:
    """Add a new treatment (an existing key is refused: use `treatment update`)."""
    from experiments.catalog import Treatment, save_treatment

    saved = save_treatment(Treatment(key, name or key, kind, unit_cost, capacity), db)  # type: ignore[arg-type]
    click.echo(f"treatment {saved.key}: {saved.kind}, unit cost {saved.unit_cost:g}{_currency()}")


@treatment.command("update")
@click.argument("key")
@click.option("--name", default=None, help="New name.")
@click.option("--kind", type=click.Choice(TREATMENT_KINDS), default=None, help="New kind.")
@click.option("--unit-cost", type=click.FloatRange(min=0, max=1e9), default=None, help="New unit cost.")
@click.option("--capacity", type=click.IntRange(min=0), default=None, help="New capacity.")
@db_option
@clean_errors
def treatment_update(key: str, name: str | None, kind: str | None, unit_cost: float | None, capacity: int | None,
                     db: str | None) -> None:
    """Change a treatment (audited); experiments already running keep the unit cost they started with."""
    from experiments.catalog import update_treatment

    if name is None and kind is None and unit_cost is None and capacity is None:
        raise click.UsageError("give at least one of --name, --kind, --unit-cost, --capacity")
    saved = update_treatment(key, db, name=name, kind=kind, unit_cost=unit_cost, capacity=capacity)
    click.echo(f"treatment {saved.key} updated: {saved.kind}, unit cost {saved.unit_cost:g}{_currency()}")


@treatment.command("list")
@db_option
@clean_errors
def treatment_list(db: str | None) -> None:
    """List the treatment catalog."""
    from experiments.catalog import list_treatments

    for t in list_treatments(db):
        capacity = "unlimited" if t.capacity is None else str(t.capacity)
        click.echo(f"{t.key:<20} {t.kind:<15} cost {t.unit_cost:>8.2f}{_currency()}  capacity {capacity:<10} {t.name}")


@click.group()
def metric() -> None:
    """Metric definitions: binary or continuous, and whether higher is better."""


@metric.command("add")
@click.argument("key")
@click.option("--kind", type=click.Choice(METRIC_KINDS), required=True, help="Proportion or mean metric.")
@click.option("--lower-is-better", is_flag=True, help="For guardrails such as unsubscribes or complaints.")
@click.option("--description", default="", help="What the metric measures.")
@db_option
@clean_errors
def metric_add(key: str, kind: str, lower_is_better: bool, description: str, db: str | None) -> None:
    """Declare a metric (used by analysis and guardrail checks); running experiments keep the kind they started with."""
    from experiments.catalog import Metric, save_metric

    saved = save_metric(Metric(key, kind, not lower_is_better, description), db)  # type: ignore[arg-type]
    click.echo(f"metric {saved.key}: {saved.kind}, {'higher' if saved.higher_is_better else 'lower'} is better")


@metric.command("list")
@db_option
@clean_errors
def metric_list(db: str | None) -> None:
    """List declared metrics."""
    from experiments.catalog import list_metrics

    for m in list_metrics(db):
        click.echo(f"{m.key:<20} {m.kind:<11} {'higher' if m.higher_is_better else 'lower'} is better  {m.description}")


@click.group()
def experiment() -> None:
    """Experiments: define, edit, start, assign users, export the send list, stop."""


ARM_HELP = "NAME:TREATMENT:WEIGHT, repeat per arm; TREATMENT '-' for none (a holdout)."


@experiment.command("create")
@click.argument("key")
@click.option("--name", required=True, help="Short title.")
@click.option("--primary-metric", required=True, help="The metric the decision rests on, e.g. retained.")
@click.option("--arm", "arms", multiple=True, required=True, help=ARM_HELP)
@click.option("--control", default=None, help="Which arm is the control (default: the first).")
@click.option("--hypothesis", default="", help="What you expect and why.")
@click.option("--owner", default="", help="Who is responsible.")
@click.option("--cohort", "target_cohort", default=None, help="Target cohort key in the registry (from `churn flag`).")
@click.option("--guardrail", "guardrails", multiple=True, help="Metric that must not get worse; repeatable.")
@click.option("--layer", default="default", show_default=True, help="Mutual-exclusion layer.")
@click.option("--coverage", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="Share of eligible users included.")
@click.option("--hash-version", type=click.Choice(["1", "2"]), default="2", show_default=True, help="GrowthBook hash version.")
@click.option("--value-per-retained", type=click.FloatRange(min=0, max=1e9), default=None,
              help="What one retained user is worth (margin), used for ROI in `winback analyze`.")
@click.option("--bandit", is_flag=True,
              help="A bandit: each programme cycle sets the treatments' weights by Thompson sampling on net value per "
                   "user; the control keeps its weight, the weights given are the burn-in's.")
@click.option("--floor", type=click.FloatRange(min=0, max=1, max_open=True), default=0.05, show_default=True,
              help="Bandit: each treatment's least share of all users.")
@click.option("--burn-in", type=click.IntRange(min=0, max=1000), default=1, show_default=True,
              help="Bandit: weight periods (cycles) that keep the weights given before Thompson sampling starts.")
@db_option
@clean_errors
def experiment_create(key, name, primary_metric, arms, control, hypothesis, owner, target_cohort, guardrails, layer,
                      coverage, hash_version, value_per_retained, bandit, floor, burn_in, db) -> None:
    """Create a draft experiment; KEY is also the assignment hash seed. Unknown names are refused."""
    from experiments.definitions import Experiment, build_arms, create_experiment

    definition = Experiment(key=key, name=name, primary_metric=primary_metric, arms=build_arms(arms, control),
                            hypothesis=hypothesis, owner=owner, target_cohort=target_cohort,
                            guardrail_metrics=tuple(guardrails), layer=layer, coverage=coverage,
                            hash_version=int(hash_version), value_per_retained=value_per_retained)
    if bandit:
        from experiments.bandit_weights import BanditSettings, create_bandit_experiment

        created = create_bandit_experiment(definition, db, BanditSettings(floor=floor, burn_in=burn_in))
        click.echo(f"bandit {created.key} created as draft with arms {', '.join(a.key for a in created.arms)} "
                   f"(control share {created.control.weight:g}, floor {floor:g}, burn-in {burn_in} "
                   f"period{'s' if burn_in != 1 else ''})")
        return
    created = create_experiment(definition, db)
    click.echo(f"experiment {created.key} created as draft with arms {', '.join(a.key for a in created.arms)}")


@experiment.command("bandit")
@click.argument("key")
@click.option("--update", is_flag=True, help="First open the next weight period now (a programme cycle does this).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def experiment_bandit(key: str, update: bool, as_json: bool, db: str | None) -> None:
    """A bandit's weights over time and its analysis: per weight period (users, SRM) and combined (stratified)."""
    from experiments.bandit_analysis import analyze_bandit

    if update:
        from experiments.bandit_weights import update_bandit_weights

        opened = update_bandit_weights(db, key)
        if opened is not None and not as_json:
            click.echo(f"period {opened.period} opened ({opened.rule})")
    report = analyze_bandit(key, db)
    if as_json:
        click.echo(dumps(report.to_dict()))
        return
    click.echo(f"bandit {report.key} [{report.status}]: control {report.control}, floor {report.settings.floor:g}, "
               f"burn-in {report.settings.burn_in}; value per retained user {report.value_per_retained:g}")
    arms = list(report.periods[0].weights) if report.periods else []
    click.echo("weights over time:")
    click.echo(f"  {'period':<7}{'from':<28}{'rule':<16}" + "".join(f"{a:>16}" for a in arms) + "   SRM p")
    for p in report.periods:
        cells = "".join(f"{p.weights[a]:>8.3f} {p.users[a]:>7,}" for a in arms)
        flag = " MISMATCH" if p.srm_flagged else ""
        click.echo(f"  {p.period:<7}{(p.starts_at or '-'):<28}{p.rule:<16}{cells}   {p.srm_p_value:.3g}{flag}")
    click.echo("combined (period-stratified) against control:")
    for a in report.arms:
        c, e = a.comparison, a.economics
        click.echo(f"  {a.arm_key:<14} users {a.users:>7,}  uplift {c.effect:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}]  "
                   f"net/user {a.net_value:+.2f} [{a.net_ci_low:+.2f}, {a.net_ci_high:+.2f}]  p Holm {a.p_holm:.3g}  "
                   f"P(best) {a.p_best:.0%}  cost/retained {e.cost_per_retained:.4g}  ROI {e.roi:+.2f}")
    click.echo(f"winner: {report.winner or 'none yet'}")
    for note in report.notes:
        click.echo(f"note: {note}")


@experiment.command("edit")
@click.argument("key")
@click.option("--name", default=None, help="New title.")
@click.option("--primary-metric", default=None, help="New primary metric.")
@click.option("--arm", "arms", multiple=True, help=ARM_HELP + " Replaces all arms.")
@click.option("--control", default=None, help="Which of the new arms is the control (default: the first).")
@click.option("--hypothesis", default=None, help="New hypothesis.")
@click.option("--owner", default=None, help="New owner.")
@click.option("--cohort", "target_cohort", default=None, help="New target cohort.")
@click.option("--guardrail", "guardrails", multiple=True, help="Replaces the guardrails; repeatable.")
@click.option("--layer", default=None, help="New layer.")
@click.option("--coverage", type=click.FloatRange(min=0, max=1, min_open=True), default=None, help="New coverage.")
@click.option("--value-per-retained", type=click.FloatRange(min=0, max=1e9), default=None, help="New value.")
@db_option
@clean_errors
def experiment_edit(key, name, primary_metric, arms, control, hypothesis, owner, target_cohort, guardrails, layer,
                    coverage, value_per_retained, db) -> None:
    """Edit a draft experiment (audited with what changed); started experiments cannot change."""
    from experiments.definitions import build_arms, update_draft

    if len(arms) == 1:  # an edit of one arm would drop the others
        raise click.UsageError("--arm replaces all arms: repeat it for every arm, the control included")
    changes = dict(name=name, primary_metric=primary_metric, hypothesis=hypothesis, owner=owner,
                   target_cohort=target_cohort, layer=layer, coverage=coverage, value_per_retained=value_per_retained,
                   arms=build_arms(arms, control) if arms else None,
                   guardrail_metrics=tuple(guardrails) if guardrails else None)
    if all(value is None for value in changes.values()):
        raise click.UsageError("nothing to change: give at least one option")
    updated = update_draft(key, db, **changes)
    changed = [f"arms {', '.join(a.key for a in updated.arms)}" if field == "arms" else field.replace("_", " ")
               for field, value in changes.items() if value is not None]
    click.echo(f"experiment {updated.key} updated: {'; '.join(changed)}")


@experiment.command("delete")
@click.argument("key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@clean_errors
def experiment_delete(key: str, yes: bool, db: str | None) -> None:
    """Delete a draft experiment (audited); experiments that started are kept as evidence."""
    from experiments.definitions import delete_draft

    if not yes:
        click.confirm(f"Delete draft experiment {key}?", abort=True)
    delete_draft(key, db)
    click.echo(f"experiment {key} deleted")


@experiment.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def experiment_show(key: str, as_json: bool, db: str | None) -> None:
    """Show an experiment's definition, status, arm sizes and decisions."""
    from experiments.db import registry
    from experiments.definitions import get_experiment
    from experiments.lifecycle import list_decisions

    with registry(db) as database:
        found = get_experiment(key, database)
        decisions = list_decisions(key, database)
    if as_json:
        click.echo(dumps({**found.to_dict(), "decisions": [d.to_dict() for d in decisions]}))
        return
    click.echo(f"{found.key}: {found.name} [{found.status}]  layer {found.layer}, coverage {found.coverage:g}")
    click.echo(f"  primary metric {found.primary_metric}; guardrails {', '.join(found.guardrail_metrics) or 'none'}")
    click.echo(f"  target cohort {found.target_cohort or 'none'}; owner {found.owner or '-'}")
    for arm in found.arms:
        click.echo(f"  arm {arm.key:<16} treatment {arm.treatment or '-':<16} weight {arm.weight:g}{'  (control)' if arm.is_control else ''}")
    from experiments.bandit_weights import get_bandit, weights_in_force

    bandit = get_bandit(db, key)
    if bandit is not None:
        now = weights_in_force(db, key)
        current = ", ".join(f"{a.key} {w:.3g}" for a, w in zip(found.arms, now)) if now else "as defined (no period yet)"
        click.echo(f"  bandit: floor {bandit.floor:g}, burn-in {bandit.burn_in}; weights in force: {current} "
                   f"(`winback experiment bandit {key}`)")
    for decision in decisions:
        override = f"; OVERRIDE: {decision.override}" if decision.override else ""
        click.echo(f"  decided {decision.decided_at[:10]} by {decision.decided_by}: winner {decision.winner_arm} "
                   f"({decision.rationale}{override})")


@experiment.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only experiments in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def experiment_list(status: str | None, as_json: bool, db: str | None) -> None:
    """List experiments, newest first: status, owner, days running, users per arm, decision (the web's list)."""
    from experiments.db import registry
    from experiments.listing import experiment_listing

    with registry(db) as database:
        rows = experiment_listing(database, status)  # type: ignore[arg-type]
    if as_json:
        click.echo(dumps(rows))
        return
    if not rows:
        click.echo("no experiments yet: create one with `winback experiment create`")
    for s in rows:
        days = "-" if s.days_running is None else f"{s.days_running:g}d"
        arms = ", ".join(f"{arm} {n:,}" for arm, n in s.users_by_arm.items()) or "no snapshot"
        winner = f"  winner {s.winner}" if s.winner else ""
        click.echo(f"{s.key:<24} {s.status:<10} {days:>6}  owner {s.owner or '-':<10} {arms}{winner}  {s.name}")


@experiment.command("start")
@click.argument("key")
@db_option
@clean_errors
def experiment_start(key: str, db: str | None) -> None:
    """draft → running (arms, weights, unit costs and metric kinds freeze), its target cohort assigned, a snapshot."""
    from experiments.starting import start_and_assign

    click.echo(f"experiment {start_and_assign(db, key).describe()}")


@experiment.command("stop")
@click.argument("key")
@db_option
@clean_errors
def experiment_stop(key: str, db: str | None) -> None:
    """running → stopped; no more assignments."""
    from experiments.lifecycle import stop_experiment

    click.echo(f"experiment {stop_experiment(key, db).key} is stopped")


@experiment.command("assign")
@click.argument("key")
@click.option("--users", type=click.Path(dir_okay=False), default=None,
              help="CSV or Parquet with a user_id column (default: the experiment's target cohort).")
@click.option("--id-column", default="user_id", show_default=True, help="Column holding user ids.")
@click.option("--contact-cap", type=click.IntRange(min=1, max=1000), default=DEFAULT_CONTACT_CAP, show_default=True,
              help="Skip users already given this many treatments in the window.")
@click.option("--cap-window-days", type=click.IntRange(min=1, max=3650), default=DEFAULT_CAP_WINDOW_DAYS,
              show_default=True, help="The contact cap's look-back window in days.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@db_option
@clean_errors
def experiment_assign(key, users, id_column, contact_cap, cap_window_days, as_json, db) -> None:
    """Assign users to a running experiment (idempotent: re-running adds no duplicates)."""
    from experiments.starting import assign_and_snapshot
    from experiments.targeting import read_user_ids

    ids = read_user_ids(users, id_column) if users else None
    summary = assign_and_snapshot(db, key, None if ids is None else list(ids), contact_cap=contact_cap,
                                  cap_window_days=cap_window_days)
    if as_json:
        click.echo(dumps(summary))
        return
    click.echo(
        f"{summary.candidates:,} candidates: {summary.newly_assigned:,} newly assigned, "
        f"{summary.already_assigned:,} already, {summary.excluded_opt_out:,} opted out, "
        f"{summary.excluded_layer:,} in another experiment of the layer, "
        f"{summary.excluded_contact_cap:,} over the contact cap, {summary.outside_coverage:,} outside coverage"
    )
    click.echo("arm sizes: " + ", ".join(f"{arm} {n:,}" for arm, n in summary.arm_sizes.items()))
    if summary.candidates and not any(summary.arm_sizes.values()):
        click.echo("warning: nobody is assigned; " + _why_nobody(summary))
    if summary.outside_cohort:
        click.echo(f"warning: {summary.outside_cohort:,} newly assigned users are not in the target cohort "
                   "(they have no stage, tier or reason segment)")
    for line in _over_capacity(key, summary.arm_sizes, db):
        click.echo(f"warning: {line}")


def _over_capacity(key: str, arm_sizes: dict[str, int], db) -> list[str]:
    """Arms that now hold more users than their treatment's catalog capacity (e.g. VIP seats) can serve."""
    from experiments.catalog import list_treatments
    from experiments.definitions import get_experiment

    capacity = {t.key: t.capacity for t in list_treatments(db) if t.capacity is not None}
    return [f"arm {arm.key} gives {arm.treatment} to {arm_sizes[arm.key]:,} users, more than its capacity of "
            f"{capacity[arm.treatment]:,} in the catalog: the users past it cannot be served, yet the analysis "
            f"counts every user of the arm (assign fewer users, or raise the capacity with "
            f"`winback treatment update {arm.treatment} --capacity N`)"
            for arm in get_experiment(key, db).arms
            if arm.treatment in capacity and arm_sizes.get(arm.key, 0) > capacity[arm.treatment]]


def _why_nobody(summary) -> str:
    """What kept every candidate out of an experiment, each with what would let them in."""
    fixes = [(summary.excluded_layer, "in another running experiment of the same layer: stop that one, or create "
                                      "this one in another --layer"),
             (summary.excluded_contact_cap, "over the contact cap: raise --contact-cap or shorten --cap-window-days"),
             (summary.excluded_opt_out, "opted out"),
             (summary.outside_coverage, "outside the experiment's coverage")]
    return "; ".join(f"{n:,} {why}" for n, why in fixes if n)


@experiment.command("assignments")
@click.argument("key")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="File to write: .csv or .parquet (user_id, arm, treatment_key, assigned_at).")
@click.option("--arm", default=None, help="Only this arm (e.g. one send list per treatment).")
@db_option
@clean_errors
def experiment_assignments(key: str, out: str, arm: str | None, db: str | None) -> None:
    """Export who gets what: the file a CRM imports to send each user their arm's treatment."""
    from experiments.exports import assignments_frame, write_table

    frame = assignments_frame(db, key, arm)
    path = write_table(frame, out)
    counts = frame["arm"].value_counts().sort_index().to_dict() if len(frame) else {}
    click.echo(f"{len(frame):,} assignments written to {path}"
               + (" (" + ", ".join(f"{a} {n:,}" for a, n in counts.items()) + ")" if counts else ""))


@experiment.command("audit")
@click.argument("key", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many of the newest entries.")
@db_option
@clean_errors
def experiment_audit(key: str | None, limit: int, db: str | None) -> None:
    """Who changed what and when: the audit log, for one experiment (KEY) or the whole registry."""
    from experiments.audit_log import read_audit_log

    for entry in read_audit_log(db, object_key=key, limit=limit):
        detail = f"  {entry.readable_detail}" if entry.readable_detail else ""
        click.echo(f"{entry.at[:19]}  {entry.actor:<14} {entry.action:<18} {entry.object_type:<11} {entry.object_key}"
                   f"{detail}")


@click.group()
def cohort() -> None:
    """Flagged cohorts in the registry (written by `winback churn flag`), which experiments target."""


@cohort.command("list")
@db_option
@clean_errors
def cohort_list(db: str | None) -> None:
    """Each cohort with its size, mean risk, model, the as-of date its risk refers to and when it was scored."""
    from experiments.cohorts import UNKNOWN_AS_OF, list_cohorts

    cohorts = list_cohorts(db)
    if cohorts.empty:
        click.echo("no cohorts yet: flag one with `winback churn flag --cohort NAME`")
    for row in cohorts.itertuples(index=False):  # `!s`: text columns shown as str() shows them, None included
        click.echo(f"{row.cohort_key:<24} v{row.version:<3} {row.users:>8,} users  mean risk {row.mean_risk:.3f}  "
                   f"model {row.model or '-'!s}  as of {row.as_of or UNKNOWN_AS_OF!s}  scored {str(row.scored_at)[:19]}")


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
    from experiments.optouts import add_opt_outs, count_opt_outs
    from experiments.targeting import read_user_ids

    ids = list(user_ids) + (list(read_user_ids(path)) if path else [])
    if not ids:
        raise click.UsageError("give user ids or --file")
    added = add_opt_outs(ids, reason, db, source="USER_IDS arguments")
    click.echo(f"{added} users added to the opt-out list ({count_opt_outs(db)} in all)")


@click.group("import")
def imports() -> None:
    """Import deliveries and outcomes from CSV or Parquet (one transaction per file, idempotent, undoable)."""


def _report(summary) -> None:
    click.echo(f"{summary.path}: {summary.rows_read:,} rows, {summary.inserted:,} new, {summary.unchanged:,} already present"
               + (f" (import {summary.import_id})" if summary.import_id is not None else ""))
    for note in summary.notes:
        click.echo(f"  note: {note}")


@imports.command("deliveries")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@clean_errors
def import_deliveries_command(paths: tuple[str, ...], db: str | None) -> None:
    """Deliveries: experiment_key, user_id, treatment_key, sent_at, cost[, channel]."""
    from experiments.imports import import_deliveries

    for path in paths:
        _report(import_deliveries(path, db))


@imports.command("outcomes")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@clean_errors
def import_outcomes_command(paths: tuple[str, ...], db: str | None) -> None:
    """Outcomes: experiment_key, user_id, metric, value[, period pre|post, observed_at]."""
    from experiments.imports import import_outcomes

    for path in paths:
        _report(import_outcomes(path, db))


@imports.command("list")
@click.option("--experiment", "experiment_key", default=None, help="Only imports that touched this experiment.")
@db_option
@clean_errors
def import_list(experiment_key: str | None, db: str | None) -> None:
    """Imported files, newest first: id, kind, rows, experiments, who and when, undone or not."""
    from experiments.import_batches import list_imports

    batches = list_imports(db, experiment_key)
    if not batches:
        click.echo("no imports yet")
    for b in batches:
        state = f"  UNDONE {b.undone_at[:19]} by {b.undone_by}" if b.undone_at else ""
        click.echo(f"{b.id:>4}  {b.kind:<10} {b.inserted:>8,} new of {b.rows_read:>8,}  "
                   f"{','.join(b.experiment_keys):<20} {b.imported_at[:19]} {b.imported_by:<10} {b.source}{state}")


@imports.command("undo")
@click.argument("import_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@clean_errors
def import_undo(import_id: int, yes: bool, db: str | None) -> None:
    """Remove the rows one import added (audited); refused once its experiment is concluded."""
    from experiments.import_batches import undo_import

    if not yes:
        click.confirm(f"Undo import {import_id}?", abort=True)
    batch = undo_import(import_id, db)
    click.echo(f"import {batch.id} undone: its {batch.inserted:,} {batch.kind} rows removed")


@click.command()
@click.argument("key")
@click.option("--winner", required=True, help="The winning arm.")
@click.option("--rationale", required=True, help="The evidence behind the choice.")
@click.option("--by", "decided_by", required=True, help="Who decided.")
@click.option("--override", default=None,
              help="Reason to record a winner that fails a guardrail or the SRM check (stored with the decision).")
@db_option
@clean_errors
def decide(key: str, winner: str, rationale: str, decided_by: str, override: str | None, db: str | None) -> None:
    """Record the winning treatment of a stopped experiment and conclude it."""
    from experiments.lifecycle import record_decision

    decision = record_decision(key, winner, rationale, decided_by, db, override=override)
    note = f"; override recorded: {decision.override}" if decision.override else ""
    click.echo(f"experiment {key} concluded: winner {decision.winner_arm} (decided by {decision.decided_by}){note}")
