"""CLI for programmes and their weekly cycles: settings (options or a TOML file), the holdout's suppression list, and
`cycle run`, one idempotent step of warning → intervention."""
from __future__ import annotations

from typing import Any

import click

from common.formatting import TERMINAL
from common.jsonable import dumps
from winback.cli_support import clean_errors, db_option, existing_registry

SETTING_OPTIONS = (
    click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), default=None,
                 help="A TOML file of settings (the options below override it)."),
    click.option("--holdout-share", type=float, default=None, help="Share of users kept out of everything, in (0, 0.5]."),
    click.option("--seed", default=None, help="The holdout's hash seed (default: the name)."),
    click.option("--horizon-days", type=int, default=None, help="Churned = no order within this many days."),
    click.option("--high-value-monthly", type=float, default=None, help="High value: spend per month over this."),
    click.option("--cadence-days", type=int, default=None, help="Days between cycles."),
    click.option("--budget-per-cycle", type=float, default=None, help="What one cycle's plan may spend."),
    click.option("--treatment", "treatments", multiple=True, help="A treatment cycles may give (repeatable)."),
    click.option("--mode", type=click.Choice(["experiment", "plan"]), default=None,
                 help="experiment: cycles assign into --experiment; plan: an uplift budget plan with its own control."),
    click.option("--experiment", default=None, help="The running experiment cycles assign into (mode experiment)."),
    click.option("--churn-model", default=None, help="The stored churn model cycles flag users with."),
    click.option("--retrain-days", type=int, default=None,
                 help="Retrain the churn model when this many days of newer labelled data exist (0: never)."),
    click.option("--uplift-model", default=None, help="The stored uplift model cycles plan with (mode plan)."),
    click.option("--contact-window-days", type=int, default=None, help="Users treated within this window wait."),
    click.option("--max-users-per-cycle", type=int, default=None, help="Flag at most this many users a cycle."),
    click.option("--value-per-retained", type=float, default=None,
                 help="What one retained user is worth (margin and ROI in the report; 0: unknown)."),
    click.option("--flag-tier-share", type=float, default=None,
                 help="Flag the riskiest share of each value tier a cycle (0: the churn model's precision rule)."),
)


def _settings(config: str | None, given: dict[str, Any]) -> tuple[dict[str, Any], str]:
    from experiments.programmes import read_toml

    settings = read_toml(config) if config else {}
    source = config or "options"
    for key, value in given.items():
        if value is not None and value != ():
            settings[key] = list(value) if key == "treatments" else value
    return settings, source


def _with_settings(command):
    for option in reversed(SETTING_OPTIONS):
        command = option(command)
    return command


@click.group("programme")
def programme() -> None:
    """Win-back programmes: a holdout kept out of everything, targets by value tier, weekly cycles."""


@programme.command("create")
@click.argument("name")
@_with_settings
@db_option
@clean_errors
def programme_create(name: str, config: str | None, db: str | None, **given: Any) -> None:
    """Create a programme (version 1); every bad key or value is named in one line."""
    from experiments.programmes import parse_settings, save_programme

    settings, source = _settings(config, given)
    saved = save_programme(db, parse_settings(name, settings, source))
    click.echo(f"programme {saved.name} created (version {saved.version}): holdout {saved.holdout_share:.1%} of "
               f"users, mode {saved.mode}")


@programme.command("edit")
@click.argument("name")
@_with_settings
@db_option
@clean_errors
def programme_edit(name: str, config: str | None, db: str | None, **given: Any) -> None:
    """Change a programme's settings: a new version, the change in the audit log."""
    from experiments.programmes import get_programme, parse_settings, save_programme

    settings, source = _settings(config, given)
    saved = save_programme(db, parse_settings(name, settings, source, base=get_programme(db, name)), new=False)
    click.echo(f"programme {saved.name} is at version {saved.version}")


@programme.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def programme_show(name: str, as_json: bool, db: str | None) -> None:
    """A programme's settings and its cycles."""
    db = existing_registry(db)
    from experiments.programmes import get_programme
    from programme.cycles import list_cycles

    found, cycles = get_programme(db, name), list_cycles(db, name)
    if as_json:
        click.echo(dumps({"programme": found, "cycles": cycles}))
        return
    for key, value in found.to_dict().items():
        click.echo(f"{key:<22} {_setting_text(key, value)}")
    for c in cycles:
        click.echo(f"cycle {c['number']:>3} as of {c['as_of']}  {c['step']:<9} flagged {c.get('flagged', 0):,}, "
                   f"sent {c.get('sent', 0):,}")


def _setting_text(key: str, value: Any) -> str:
    """A setting as a person reads it: targets as reductions, lists comma-separated, unset as a dash."""
    if key == "targets":
        return ", ".join(f"{tier} -{share:.0%} churn" for tier, share in value.items())
    if key == "value_per_retained":
        return "0 (unknown: no margin or ROI)" if not value else f"{value:,.2f}"
    if key in ("holdout_share", "plan_holdout", "ltv_target", "flag_tier_share"):
        return f"{value:.0%}" + (" (the churn model's precision rule)" if key == "flag_tier_share" and not value else "")
    if key == "seed" and not value:
        return "(the name)"
    if key == "retrain_days" and not value:
        return "0 (never)"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(any)"
    return "–" if value is None else str(value)


@programme.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def programme_list(as_json: bool, db: str | None) -> None:
    """Every programme with its holdout share and mode."""
    db = existing_registry(db)
    from experiments.programmes import list_programmes

    found = list_programmes(db)
    if as_json:
        click.echo(dumps(found))
        return
    if not found:
        click.echo("no programmes yet: create one with `winback programme create`")
    for p in found:
        click.echo(f"{p.name:<24} v{p.version:<3} holdout {p.holdout_share:.1%}  mode {p.mode}  "
                   f"targets {', '.join(f'{t} -{v:.0%}' for t, v in p.targets.items())}, LTV +{p.ltv_target:.0%}")


@programme.command("holdout")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV to write: user_id.")
@db_option
@clean_errors
def programme_holdout(name: str, out: str, db: str | None) -> None:
    """The holdout's users known so far (user_id): the suppression list a CRM applies to its own campaigns too."""
    db = existing_registry(db)
    import pandas as pd

    from experiments.programmes import get_programme, in_holdout, known_users

    found = get_programme(db, name)
    users = known_users(db)
    held = [u for u, h in zip(users, in_holdout(found, users)) if h]
    pd.DataFrame({"user_id": held}).to_csv(out, index=False)
    click.echo(f"{len(held):,} of {len(users):,} known users are in programme {name}'s holdout -> {out}")


@programme.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (`tiers` and `cycles` lists).")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default=None, help="Write one flat row per scope x tier.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="The file for --format.")
@click.option("--chart", type=click.Path(dir_okay=False), default=None, help="PNG of the reduction per cycle and tier.")
@db_option
@clean_errors
def programme_report(name: str, as_json: bool, fmt: str | None, out: str | None, chart: str | None,
                     db: str | None) -> None:
    """Churn by value tier, programme against holdout, per cycle and cumulatively, against the plan's targets."""
    db = existing_registry(db)
    from programme.report import programme_report as build
    from programme.report import report_frame

    if fmt and not out:
        raise click.ClickException("--format csv needs --out FILE")
    report = build(db, name)
    if fmt:
        report_frame(report).to_csv(out, index=False)
    if chart:
        from winback.programme_chart import programme_chart

        programme_chart(report, chart)
    if as_json:
        click.echo(dumps(report))
        return
    for note in report.notes:
        click.echo(f"note: {note}")
    text = TERMINAL
    for t in [*report.tiers, *([report.overall] if report.overall else [])]:
        target = "" if t["target"] != t["target"] else f"; target -{t['target']:.0%}: {t['verdict']}"
        click.echo(f"{t['tier']:<8} churn {text.pct(t['churn_programme'], False)} vs holdout "
                   f"{text.pct(t['churn_holdout'], False)} ({t['users_programme']:,} / {t['users_holdout']:,} users): "
                   f"reduction {text.pct(t['reduction'])} 95% {text.interval(t['ci_low'], t['ci_high'])}{target}; "
                   f"LTV {text.pct(t['ltv_change'])} {text.interval(t['ltv_ci_low'], t['ltv_ci_high'])} "
                   f"({t['ltv_verdict']})".replace(f"{text.dash} {text.dash}", text.dash))
    for t in [*report.tiers, *([report.overall] if report.overall else [])]:
        if t["spend"] == t["spend"] and t["spend"] > 0:
            roi = (f", ROI {text.pct(t['roi'])} {text.interval(t['roi_ci_low'], t['roi_ci_high'])}"
                   if t["roi"] == t["roi"] else " (set --value-per-retained for margin and ROI)")
            click.echo(f"{t['tier']:<8} {text.users(t['incremental_retained'])} incremental retained users "
                       f"{text.users_interval(t['incremental_retained_ci_low'], t['incremental_retained_ci_high'])}, "
                       f"spend {text.money(t['spend'])}, cost per incremental retained user "
                       f"{text.money(t['cost_per_retained'])} "
                       f"{text.money_interval(t['cost_per_retained_ci_low'], t['cost_per_retained_ci_high'])}{roi}")
    if report.stages:
        click.echo("by lifecycle stage (at first flagging):")
    for t in report.stages:
        click.echo(f"  {t['tier']:<22} churn {text.pct(t['churn_programme'], False)} vs holdout "
                   f"{text.pct(t['churn_holdout'], False)} ({t['users_programme']:,} / {t['users_holdout']:,} users): "
                   f"reduction {text.pct(t['reduction'])} 95% {text.interval(t['ci_low'], t['ci_high'])}")
    for c in report.cycles:
        budget = f" of a {TERMINAL.money(c['budget'])} budget" if c.get("budget") else ""
        click.echo(f"cycle {c['number']} ({c['as_of']}): {c['sent']:,} sent, spend {TERMINAL.money(c['spend'])}{budget}")
    for path in (out if fmt else None, chart):
        if path:
            click.echo(f"-> {path}")


@click.group("cycle")
def cycle() -> None:
    """A programme's weekly cycles: new events → scores → flags → enrolment → the send list."""


@cycle.command("run")
@click.argument("name")
@click.option("--as-of", required=True, help="The cycle's date (YYYY-MM-DD), after the last cycle's.")
@click.option("--events", "events", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="New event files (repeatable); a file loaded before adds nothing.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV of the cycle's send list.")
@click.option("--json", "as_json", is_flag=True, help="Print the cycle as JSON.")
@db_option
@clean_errors
def cycle_run(name: str, as_of: str, events: tuple[str, ...], out: str | None, as_json: bool, db: str | None) -> None:
    """Run the cycle as of a date; an interrupted cycle is finished, a finished one is left as it is."""
    from programme.cycles import run_cycle

    result = run_cycle(db, name, as_of, events=events, out=out, progress=not as_json)
    if as_json:
        click.echo(dumps({k: v for k, v in result.to_dict().items() if k != "send_list"}))
        return
    if result.already_finished:
        click.echo(f"cycle {result.number} of {name} as of {result.as_of} is already finished: nothing changed")
    from experiments.send_gate import FATE_WORDS

    left = ", ".join(f"{n:,} {FATE_WORDS.get(k, k.replace('_', ' '))}" for k, n in result.left_out.items())
    click.echo(f"cycle {result.number} as of {result.as_of}: {result.flagged:,} flagged, {result.candidates:,} new to "
               f"the programme, {result.sent:,} in the send list" + (f" ({left} left out)" if left else "")
               + (f" -> {out}" if out else ""))
    if result.files_skipped:
        click.echo(f"{result.files_skipped} event file(s) were loaded by an earlier cycle and add nothing")
    if result.late_events and not result.already_finished:
        click.echo(f"{result.late_events:,} loaded events are dated before the last cycle's date {result.late_before}: "
                   "accepted and counted; earlier cycles did not see them, this cycle's scores do")
    model = result.churn_model
    if model.get("retrained_from") and not result.already_finished:
        auc = model.get("retrained_roc_auc")
        click.echo(f"churn model {model['retrained_from']} had grown old: retrained as {model['churn_model']} as of "
                   f"{model['churn_model_trained_as_of']}" + (f" (validation ROC AUC {auc:.3f})" if auc else "")
                   + "; the programme now flags with it")


@cycle.command("list")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def cycle_list(name: str, as_json: bool, db: str | None) -> None:
    """A programme's cycles, oldest first."""
    db = existing_registry(db)
    from experiments.programmes import get_programme
    from programme.cycles import list_cycles

    get_programme(db, name)
    cycles = list_cycles(db, name)
    if as_json:
        click.echo(dumps(cycles))
        return
    for c in cycles:
        click.echo(f"{c['number']:>3}  {c['as_of']}  {c['step']:<9} flagged {c.get('flagged', 0):,}  new "
                   f"{c.get('candidates', 0):,}  sent {c.get('sent', 0):,}  into {c.get('enrolled_into') or '-'}")


@cycle.command("show")
@click.argument("name")
@click.argument("number", type=int)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV of the cycle's send list.")
@db_option
@clean_errors
def cycle_show(name: str, number: int, out: str | None, db: str | None) -> None:
    """One cycle: its counts, and its send list (to a file with --out)."""
    db = existing_registry(db)
    from programme.cycles import list_cycles, send_list

    found = [c for c in list_cycles(db, name) if c["number"] == number]
    if not found:
        raise click.ClickException(f"programme {name} has no cycle {number}")
    click.echo(dumps(found[0]))
    if out:
        send_list(db, name, number).to_csv(out, index=False)
        click.echo(f"send list -> {out}")
