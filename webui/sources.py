"""Adapters to core services whose final form is landing on main (experiment summaries, the power plan).

Each function here only calls core services and reshapes their results for the views; when the service
layer provides the same directly, the view calls it and the adapter goes.
"""
from __future__ import annotations

import math
from typing import Any

import sqlite_utils
from flask import abort

from experiments.definitions import Experiment, list_experiments
from experiments.lifecycle import list_decisions
from experiments.snapshots import latest_snapshot
from stats import sample_size
from webui.registry import get_db


def experiment_rows(database: sqlite_utils.Database, *, status: str | None, owner: str | None,
                    text: str | None) -> list[dict[str, Any]]:
    """One row per experiment: definition, users per arm and health from its newest snapshot, decision."""
    rows = []
    for experiment in list_experiments(get_db(), status):  # type: ignore[arg-type]
        if owner and owner.lower() not in experiment.owner.lower():
            continue
        if text and text.lower() not in f"{experiment.key} {experiment.name}".lower():
            continue
        snapshot = latest_snapshot(database, experiment.key, any_segment=True)
        decisions = list_decisions(experiment.key, get_db())
        report = snapshot.report if snapshot else None
        guardrail_fails = sorted({f"{r['arm_key']}: {r['metric']}" for r in (report or {}).get("results", [])
                                  if r.get("guardrail") == "fail"})
        rows.append({
            "key": experiment.key, "name": experiment.name, "status": experiment.status, "owner": experiment.owner,
            "created_at": experiment.created_at, "started_at": experiment.started_at,
            "stopped_at": experiment.stopped_at, "concluded_at": experiment.concluded_at,
            "arms": [{"arm": a["arm_key"], "users": a["n"]} for a in report["arms"]] if report else [],
            "health": {
                "snapshot_at": snapshot.created_at if snapshot else None,
                "srm": None if report is None else ("fail" if report["srm_flagged"] else "ok"),
                "srm_p_value": None if report is None else report["srm_p_value"],
                "guardrail_fails": guardrail_fails,
            },
            "decision": decisions[-1].to_dict() if decisions else None,
        })
    return rows


def plan_for_launch(database: sqlite_utils.Database, experiment: Experiment, baseline: str | None, mde: str | None,
                    daily_traffic: str | None) -> dict[str, Any]:
    """Sample size per arm and days for the smallest treatment arm against control (binary primary metric)."""
    try:
        base = float(baseline or "nan")
        effect = float(mde or "nan")
        traffic = float(daily_traffic) if daily_traffic else None
    except ValueError:
        abort(400, description="baseline rate, minimum detectable effect and daily traffic must be numbers")
    if not experiment.arms or not (math.isfinite(base) and math.isfinite(effect)):
        abort(400, description="the power plan needs arms, a baseline rate and a minimum detectable effect")
    control = experiment.arms[0].weight
    smallest = min(a.weight for a in experiment.arms[1:]) if len(experiment.arms) > 1 else control
    plan = sample_size(base, effect, ratio=smallest / control, daily_traffic=traffic)
    total_share = control + smallest
    return {"plan": plan.to_dict(), "users_total": math.ceil(plan.n_total / total_share),
            "days_total": (math.ceil(plan.n_total / total_share / traffic) if traffic else None)}
