"""`winback analyze KEY`: health checks first, then an experiment's results as tables, JSON or a flat CSV."""
from __future__ import annotations

import math

import click

from common.choices import METHODS
from common.formatting import TERMINAL
from common.jsonable import dumps
from experiments.choices import SEGMENT_COLUMNS
from winback.cli_support import clean_errors, db_option
from winback.commands.warehouse import engine_options

STATUS_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "not_checked": "--  "}


@click.command()
@click.argument("key")
@db_option
@click.option("--method", type=click.Choice(METHODS), default="ttest", show_default=True,
              help="ttest: Welch; sequential: always-valid intervals for daily peeking; bayesian: chance to win and risk.")
@click.option("--cuped", is_flag=True, help="Adjust for the pre-period value of each metric (narrower intervals).")
@click.option("--absolute", is_flag=True,
              help="Effects as differences (percentage points for binary metrics, units otherwise) instead of relative lifts; "
                   "defined when the control mean is 0.")
@click.option("--segment", "segment", type=click.Choice(SEGMENT_COLUMNS), default=None,
              help="Break the primary metric down by the target cohort's lifecycle stage, value tier or churn reason.")
@click.option("--value-per-retained", type=click.FloatRange(min=0, max=1e12), default=None,
              help="What one retained user is worth (default: the experiment's own value, else "
                   "$WINBACK_VALUE_PER_RETAINED); enables margin and ROI.")
@click.option("--by-day", is_flag=True, help="The cumulative effect and interval per day of assignment instead.")
@click.option("--json", "as_json", is_flag=True, help="Print health checks and the full report as strict JSON.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default=None,
              help="With --out: the file format (default: from the file name).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write one flat row per arm × metric × segment (or per day with --by-day) to this file.")
@click.option("--chart", type=click.Path(dir_okay=False), default=None,
              help="Also write a chart (.png/.svg/.pdf): effects, cost per retained user and ROI with intervals.")
@engine_options
@click.option("--save", is_flag=True, help="Also store the analysis as a snapshot (what the web UI's pages show).")
@clean_errors
def analyze(key: str, db: str | None, method: str, cuped: bool, absolute: bool, segment: str | None,
            value_per_retained: float | None,
            by_day: bool, as_json: bool, fmt: str | None, out: str | None, chart: str | None, engine: str | None,
            warehouse: str | None, events: str | None, save: bool) -> None:
    """Analyse experiment KEY: health checks, effects vs control, adjusted p-values, guardrails, cost per retained
    user and ROI."""
    from experiments.analysis import analyze_experiment
    from experiments.db import registry
    from experiments.health import health_checks

    if fmt and not out:
        raise click.UsageError("--format needs --out FILE")
    if absolute and (by_day or save):
        raise click.UsageError("--absolute reads the effects table; --by-day and --save (the web UI's snapshots) "
                               "are relative lifts")
    if out:
        from experiments.exports import table_format, write_table  # pandas: only when a table is written

        table_format(out, fmt)  # refuse an unknown format before any work
    if chart:
        from winback.charts import CHART_SUFFIXES

        if not chart.lower().endswith(CHART_SUFFIXES):
            raise click.UsageError(f"--chart {chart}: use a .png, .svg or .pdf file name")
    with registry(db) as database:
        health = health_checks(database, key)
        if by_day:
            from experiments.timeline import cumulative_by_day

            days = cumulative_by_day(database, key, method=method)  # type: ignore[arg-type]
            if out:
                click.echo(f"{len(days)} rows written to {write_table(days, out, fmt)}")
            elif as_json:
                click.echo(dumps({"health": health, "by_day": days.to_dict(orient="records")}))
            else:
                click.echo(render_health(health) + "\n\n" + render_by_day(days, method))
            return
        sums = None
        if engine is not None:  # sufficient statistics computed in a warehouse engine (issue 14)
            from experiments.warehouse_metrics import engine_sums

            sums = engine_sums(engine, warehouse=warehouse, db=db, events=events)
        report = analyze_experiment(key, database, method=method, cuped=cuped,  # type: ignore[arg-type]
                                    value_per_retained=value_per_retained, segment_by=segment,  # type: ignore[arg-type]
                                    sums_source=sums, relative=not absolute)
        if save:
            from experiments.snapshots import store_snapshot

            snapshot = store_snapshot(database, report, value_per_retained=value_per_retained,
                                      engine=f"warehouse-{engine}" if engine else None)
            click.echo(f"snapshot {snapshot.id} saved", err=True)
    for note in getattr(sums, "notes", []):  # what an engine's event metrics cannot see
        click.echo(f"warning: {note}", err=True)
    if out:
        path = write_table(report.to_frame(), out, fmt)
        click.echo(f"{len(report.to_frame())} rows written to {path}")
    elif as_json:
        click.echo(dumps({"health": health, "report": report}))
    else:
        click.echo(render_health(health) + "\n\n" + render(report))
    if chart:
        from winback.charts import plot_effects

        written = plot_effects(report, chart)
        if not as_json:
            click.echo(f"\nchart: {written}")


def render_health(health) -> str:
    """Health checks as one line each: status, count, what it means, what to do."""
    lines = ["Health checks:"]
    for check in health.checks:
        action = f" -> {check.action}" if check.action and check.status in ("warn", "fail") else ""
        lines.append(f"  [{STATUS_MARKS[check.status]}] {check.title}: {check.message}{action}")
    if health.problems:
        lines.append(f"  {len(health.problems)} problem(s): read them before trusting the results below")
    return "\n".join(lines)


def render_by_day(days, method: str) -> str:
    """The cumulative effect per day of assignment."""
    if days.empty:
        return "No users assigned yet."
    rows = [{"day": r.day, "arm": r.arm, "control users": f"{r.n_control:,}", "treatment users": f"{r.n_treatment:,}",
             "effect": _effect(r.effect, True), "CI": f"[{_effect(r.ci_low, True)}, {_effect(r.ci_high, True)}]",
             "p" if method != "bayesian" else "chance to win":
                 _p(r.p_value) if method != "bayesian" else _num(r.chance_to_win, 3)}
            for r in days.itertuples(index=False)]
    note = "" if method == "sequential" else (
        "\n(a fixed-horizon read repeated daily inflates false positives: use --method sequential to peek)")
    return f"Cumulative effect on '{days['metric'].iloc[0]}' by day of assignment ({method}):\n" + _table(rows) + note


def _num(value: float, digits: int = 4) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.{digits}g}"


def _effect(value: float, relative: bool) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:+.2%}" if relative else f"{value:+.4g}"


def _effect_cells(c, binary: bool, interval: str) -> dict[str, str]:
    """The effect and its interval: relative in %, a binary metric's difference in percentage points (what
    --absolute promises, and how break-even uplift reads), any other difference in the metric's units."""
    if binary and not c.relative:
        def pp(value: float) -> str:
            return "-" if math.isnan(value) else f"{value * 100:+.2f}"
        return {"effect": _points(c.effect), interval: f"[{pp(c.ci_low)}, {pp(c.ci_high)}] pp"}
    return {"effect": _effect(c.effect, c.relative),
            interval: f"[{_effect(c.ci_low, c.relative)}, {_effect(c.ci_high, c.relative)}]"}


def _money(value: float) -> str:
    """An amount of money, with cents and thousands separators: every money figure of the report reads alike."""
    return _num(value) if not math.isfinite(value) else f"{value:,.2f}"


def _money_ci(value: float, low: float, high: float) -> str:
    return f"{_money(value)} [{_money(low)}, {_money(high)}]"


def _users(value: float) -> str:
    """A count of users that may be fractional (an estimate): one decimal, thousands separators."""
    return _num(value) if not math.isfinite(value) else f"{value:,.1f}"


def _risk(value: float, relative: bool, binary: bool) -> str:
    """Bayesian risk (expected loss) in the effect's own units: percent of control for relative effects,
    percentage points for a binary metric's difference, the metric's units otherwise."""
    if math.isnan(value):
        return "-"
    if relative:
        return f"{value:.2%}"
    return f"{value * 100:.2f} pp" if binary else _num(value, 3)


def _points(value: float) -> str:
    """An absolute change of a rate, in percentage points."""
    return TERMINAL.points(value)


def _p(value: float) -> str:
    return TERMINAL.pvalue(value)  # the web's p-values read the same (three significant digits)


def _table(rows: list[dict[str, str]]) -> str:
    """Rows of text as right-aligned columns, one space apart, headers on top (pandas' `to_string(index=False)` of
    the same rows, without loading pandas for it); a `why` column that is empty in every row is left out."""
    if not rows:
        return "(none)"
    columns = [c for c in dict.fromkeys(k for row in rows for k in row)
               if not (c.startswith("why") and all(row.get(c, "") == "" for row in rows))]
    cells = [[str(row.get(c, "NaN")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    return "\n".join(" ".join(v.rjust(w) for v, w in zip(line, widths)) for line in [columns, *cells])


def render(report) -> str:
    """The report as plain-text tables."""
    level = f"{1 - report.alpha:.0%}"
    kind = "relative effects" if report.relative else "absolute effects"
    lines = [f"Experiment {report.key} ({report.status}): {report.method}, {kind}, {level} intervals, "
             f"CUPED {'on' if report.cuped else 'off'}", ""]
    lines.append(_table([{"arm": a.arm_key, "role": "control" if a.is_control else "treatment",
                          "treatment": a.treatment_key or "-",
                          "weight": f"{a.weight:g}", "users": f"{a.n:,}", "opted out": f"{a.opted_out:,}",
                          "cost": _money(a.cost), "cost from": a.cost_source} for a in report.arms]))
    if math.isnan(report.srm_p_value):
        srm_line = "SRM: not checked (no users assigned yet)"
    else:
        verdict = "SAMPLE RATIO MISMATCH - do not trust these results" if report.srm_flagged else "ok"
        srm_line = f"SRM: p = {_p(report.srm_p_value)} ({verdict})"
    lines += ["", srm_line, ""]
    bayes = report.method == "bayesian"
    interval = f"{level} {'credible interval' if bayes else 'CI'}"  # a Bayesian read's interval is a credible one
    rows = []
    for r in report.results:
        c = r.comparison
        row = {"arm": r.arm_key, "metric": r.metric, "role": r.role, "control": _num(c.mean_control),
               "treatment": _num(c.mean_treatment), **_effect_cells(c, r.kind == "binary", interval)}
        if bayes:
            row |= {"chance to win": _num(c.chance_to_win, 3), "risk": _risk(c.risk, c.relative, r.kind == "binary")}
        else:
            row |= {"p": _p(c.p_value), "p holm": _p(r.p_holm), "p bh": _p(r.p_bh)}
        row["guardrail"] = r.guardrail or ""
        row["why undefined"] = c.reason if math.isnan(c.effect) or math.isnan(c.ci_low) else ""
        rows.append(row)
    tests = len(report.results)
    family = f" (Holm and BH over {tests} test{'s' if tests != 1 else ''})" if not bayes else ""
    lines += [f"Results vs control{family}:", _table(rows), ""]
    if report.economics:
        value = "not given" if math.isnan(report.value_per_retained) else _money(report.value_per_retained)
        from common.settings import currency_setting

        unit = f" in {currency_setting()}" if currency_setting() else ""
        lines.append(f"Money{unit} (retention metric '{report.primary_metric}', value per retained user: {value}):")
        items = [(m.arm_key, m.economics) for m in report.economics]
        lines += [_money_table(items), *_money_notes(items, report.key), ""]
    if report.segment_by:
        lines.append(f"Segments by {report.segment_by} ('{report.primary_metric}'):")
        seg_rows = []
        for s in report.segments:
            c, e = s.comparison, s.economics
            seg_rows.append({"segment": s.segment, "arm": s.arm_key, "users": f"{c.n_treatment:,}",
                             "control": _num(c.mean_control), "treatment": _num(c.mean_treatment),
                             "effect": _effect(c.effect, c.relative),
                             interval: f"[{_effect(c.ci_low, c.relative)}, {_effect(c.ci_high, c.relative)}]",
                             "p" if not bayes else "chance to win": _p(c.p_value) if not bayes else _num(c.chance_to_win, 3),
                             "cost/retained (CI)": "-" if e is None else
                             _money_ci(e.cost_per_retained, e.cost_per_retained_ci_low, e.cost_per_retained_ci_high),
                             "ROI (CI)": "-" if e is None else
                             f"{_effect(e.roi, True)} [{_effect(e.roi_ci_low, True)}, {_effect(e.roi_ci_high, True)}]",
                             "why undefined": c.reason if math.isnan(c.effect) else ""})
        lines += [_table(seg_rows), ""]
    if report.notes:
        lines += ["Notes:", *[f"- {note}" for note in report.notes]]
    return "\n".join(lines).rstrip()


def _money_table(items: list) -> str:
    rows = []
    for arm, e in items:
        rows.append({"arm": arm, "users": f"{e.n_treatment:,}", "cost": _money(e.total_cost),
                     "extra retained": f"{_users(e.incremental_retained)} [{_users(e.incremental_retained_ci_low)}, "
                                       f"{_users(e.incremental_retained_ci_high)}]",
                     "cost/retained (Fieller CI)": _money_ci(e.cost_per_retained, e.cost_per_retained_ci_low,
                                                             e.cost_per_retained_ci_high),
                     "margin": _money(e.incremental_margin),
                     "ROI": f"{_effect(e.roi, True)} [{_effect(e.roi_ci_low, True)}, {_effect(e.roi_ci_high, True)}]",
                     "break-even uplift": _points(e.break_even_uplift)})
    return _table(rows)


def _money_notes(items: list, key: str) -> list[str]:
    """Why a money figure is missing or unbounded, once per reason with the arms it applies to (not a column
    repeated on every row), and how to supply a value per retained user when none was given."""
    arms_by_reason: dict[str, list[str]] = {}
    for arm, e in items:
        for reason in filter(None, e.reason.split("; ")):
            arms_by_reason.setdefault(reason, []).append(arm)
    lines = [f"  {', '.join(arms)}: {reason}" for reason, arms in arms_by_reason.items()]
    if any(math.isnan(e.value_per_retained) for _, e in items):
        lines.append(f"  give one with `winback analyze {key} --value-per-retained V` (or $WINBACK_VALUE_PER_RETAINED)")
    return lines
