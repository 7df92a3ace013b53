"""The Programme page for every role: the programme's settings and targets, its cycles and their send lists."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from experiments.errors import ExperimentError
from experiments.programmes import get_programme, list_programmes
from programme.cycles import list_cycles, send_list
from webui.auth import requires
from webui.registry import db_path, get_db
from webui.views.shared import csv_response

bp = Blueprint("programmes", __name__)


def programmes_data() -> dict[str, Any]:
    """Every programme with its cycles."""
    found = list_programmes(get_db())
    return {"programmes": [{"programme": p, "cycles": list_cycles(get_db(), p.name)} for p in found]}


def programme_data(name: str) -> dict[str, Any]:
    """One programme: settings and cycles; an unknown name is a 404 naming the programmes there are."""
    try:
        found = get_programme(get_db(), name)
    except ExperimentError as error:
        abort(404, description=str(error))
    from programme.report import cycle_spend, programme_report

    spent = cycle_spend(db_path(), name)
    cycles = [{**c, "spend": spent.get(c["number"], 0.0)} for c in list_cycles(get_db(), name)]
    report = programme_report(db_path(), name)
    return {"programme": found, "cycles": cycles, "report": report, "series": reduction_series(report, found)}


TIER_COLORS = {"high": "#d1242f", "regular": "#1f6feb"}
FLOOR = -1.0  # intervals are drawn from -100%: a lower bound beyond it (a tiny holdout) would flatten the chart


def reduction_series(report: Any, programme: Any) -> list[dict[str, Any]]:
    """Per value tier, the churn reduction of each cycle with its interval (a cycle without the tier is a gap), and
    the tier's target as a dashed line: the Programme page's chart of programme against holdout."""
    dates = [c["as_of"] for c in report.cycles]
    series: list[dict[str, Any]] = []
    for tier, color in TIER_COLORS.items():
        found = {c["as_of"]: t for c in report.cycles for t in c["tiers"] if t["tier"] == tier}
        if not found:
            continue
        rows = [found.get(day, {}) for day in dates]
        series.append({"name": f"{tier} value", "x": dates, "color": color,
                       "y": [r.get("reduction") for r in rows],
                       "low": [None if r.get("ci_low") is None else max(r["ci_low"], FLOOR) for r in rows],
                       "high": [r.get("ci_high") for r in rows]})
        target = programme.targets.get(tier)
        if target is not None:
            series.append({"name": f"{tier} target −{target:.0%}", "x": dates, "y": [target] * len(dates),
                           "color": color, "dashed": True})
    return series


@bp.route("/programmes")
@requires()
def programmes() -> Any:
    return render_template("programmes.html", **programmes_data())


@bp.route("/programmes/<name>")
@requires()
def programme(name: str) -> Any:
    return render_template("programme.html", **programme_data(name))


@bp.route("/programmes/<name>/cycles.csv")
@requires()
def cycles_csv(name: str) -> Any:
    from programme.report import report_frame

    return csv_response(report_frame(programme_data(name)["report"]), f"{name}-report.csv")


@bp.route("/programmes/<name>/cycles/<int:number>/send-list.csv")
@requires()
def send_list_csv(name: str, number: int) -> Any:
    programme_data(name)
    return csv_response(send_list(get_db(), name, number), f"{name}-cycle-{number}-send-list.csv")
