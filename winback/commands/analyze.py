"""`winback analyze KEY`: an experiment's results as a readable table (or JSON)."""
from __future__ import annotations

import json
import math
from typing import Any

import click
import pandas as pd

from experiments.analysis import ExperimentReport, analyze_experiment
from winback.charts import plot_effects
from winback.cli_support import clean_errors, db_option


@click.command()
@click.argument("key")
@db_option
@click.option("--method", type=click.Choice(["ttest", "sequential", "bayesian"]), default="ttest", show_default=True,
              help="ttest: Welch; sequential: always-valid intervals for daily peeking; bayesian: chance to win and risk.")
@click.option("--cuped", is_flag=True, help="Adjust for the pre-period value of each metric (narrower intervals).")
@click.option("--segment", "segment", type=click.Choice(["stage", "tier", "reason"]), default=None,
              help="Break the primary metric down by the target cohort's lifecycle stage, value tier or churn reason.")
@click.option("--value-per-retained", type=float, default=None,
              help="What one retained user is worth (default: the experiment's own value, else "
                   "$WINBACK_VALUE_PER_RETAINED); enables margin and ROI.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON (undefined numbers are null).")
@click.option("--chart", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG forest plot of every arm × metric effect with its interval.")
@clean_errors
def analyze(key: str, db: str | None, method: str, cuped: bool, segment: str | None,
            value_per_retained: float | None, as_json: bool, chart: str | None) -> None:
    """Analyse experiment KEY: effects vs control, adjusted p-values, SRM, guardrails, cost per retained user, ROI."""
    report = analyze_experiment(key, db, method=method, cuped=cuped, value_per_retained=value_per_retained,  # type: ignore[arg-type]
                                segment_by=segment)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(_json_safe(report.to_dict()), indent=2))
    else:
        click.echo(render(report))
    if chart:
        written = plot_effects(report, chart)
        if not as_json:
            click.echo(f"\nchart: {written}")


def _json_safe(value: Any) -> Any:
    """nan → null, ±inf → "inf"/"-inf", so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


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


def _money(value: float) -> str:
    """An amount of money, whole units with thousands separators."""
    return _num(value) if not math.isfinite(value) else f"{value:,.0f}"


def _points(value: float) -> str:
    """An absolute change of a rate, in percentage points."""
    return "-" if math.isnan(value) else f"{value * 100:+.2f} pp"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")


def _table(rows: list[dict[str, str]]) -> str:
    return pd.DataFrame(rows).to_string(index=False) if rows else "(none)"


def render(report: ExperimentReport) -> str:
    """The report as plain-text tables."""
    level = f"{1 - report.alpha:.0%}"
    kind = "relative effects" if report.relative else "absolute effects"
    lines = [f"Experiment {report.key} ({report.status}): {report.method}, {kind}, {level} intervals, "
             f"CUPED {'on' if report.cuped else 'off'}", ""]
    lines.append(_table([{"arm": a.arm_key, "role": "control" if a.is_control else "treatment",
                          "treatment": a.treatment_key or "-",
                          "weight": f"{a.weight:g}", "users": f"{a.n:,}", "cost": f"{a.cost:,.2f}",
                          "cost from": a.cost_source} for a in report.arms]))
    verdict = "SAMPLE RATIO MISMATCH - do not trust these results" if report.srm_flagged else "ok"
    lines += ["", f"SRM: p = {_p(report.srm_p_value)} ({verdict})", ""]
    bayes = report.method == "bayesian"
    rows = []
    for r in report.results:
        c = r.comparison
        row = {"arm": r.arm_key, "metric": r.metric, "role": r.role, "control": _num(c.mean_control),
               "treatment": _num(c.mean_treatment), "effect": _effect(c.effect, c.relative),
               f"{level} CI": f"[{_effect(c.ci_low, c.relative)}, {_effect(c.ci_high, c.relative)}]"}
        if bayes:
            row |= {"chance to win": _num(c.chance_to_win, 3), "risk": _num(c.risk, 3)}
        else:
            row |= {"p": _p(c.p_value), "p holm": _p(r.p_holm), "p bh": _p(r.p_bh)}
        row["guardrail"] = r.guardrail or ""
        rows.append(row)
    family = f" (Holm and BH over {len(report.results)} tests)" if not bayes else ""
    lines += [f"Results vs control{family}:", _table(rows), ""]
    if report.economics:
        value = "not given" if math.isnan(report.value_per_retained) else _num(report.value_per_retained)
        lines.append(f"Money (retention metric '{report.primary_metric}', value per retained user: {value}):")
        lines += [_money_table([(m.arm_key, m.economics) for m in report.economics]), ""]
    if report.segment_by:
        lines.append(f"Segments by {report.segment_by} ('{report.primary_metric}'):")
        seg_rows = []
        for s in report.segments:
            c, e = s.comparison, s.economics
            seg_rows.append({"segment": s.segment, "arm": s.arm_key, "users": f"{c.n_treatment:,}",
                             "control": _num(c.mean_control), "treatment": _num(c.mean_treatment),
                             "effect": _effect(c.effect, c.relative),
                             "p" if not bayes else "chance to win": _p(c.p_value) if not bayes else _num(c.chance_to_win, 3),
                             "cost/retained": "-" if e is None else _num(e.cost_per_retained),
                             "ROI": "-" if e is None else _effect(e.roi, True)})
        lines += [_table(seg_rows), ""]
    if report.notes:
        lines += ["Notes:", *[f"- {note}" for note in report.notes]]
    return "\n".join(lines).rstrip()


def _money_table(items: list) -> str:
    rows = []
    for arm, e in items:
        rows.append({"arm": arm, "users": f"{e.n_treatment:,}", "cost": f"{e.total_cost:,.2f}",
                     "extra retained": f"{_num(e.incremental_retained, 4)} [{_num(e.incremental_retained_ci_low, 4)}, "
                                       f"{_num(e.incremental_retained_ci_high, 4)}]",
                     "cost/retained (Fieller CI)": f"{_num(e.cost_per_retained)} [{_num(e.cost_per_retained_ci_low)}, "
                                                   f"{_num(e.cost_per_retained_ci_high)}]",
                     "margin": _money(e.incremental_margin),
                     "ROI": f"{_effect(e.roi, True)} [{_effect(e.roi_ci_low, True)}, {_effect(e.roi_ci_high, True)}]",
                     "break-even uplift": _points(e.break_even_uplift)})
    return _table(rows)
