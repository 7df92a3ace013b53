"""Strategy pages: arms side by side, declaring the winner with a rationale, decision history, audit trail."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from experiments.audit_log import read_audit_log
from experiments.lifecycle import list_decisions, record_decision
from experiments.snapshots import latest_snapshot
from webui.auth import requires
from webui.registry import get_db
from webui.views.shared import FORM_REFUSALS, actor, analysis_options, experiment_or_404, refusal_message

bp = Blueprint("strategy", __name__)


def strategy_data(key: str) -> dict[str, Any]:
    """The experiment, its newest snapshot (arms side by side) with the recommended winner and what blocks each arm
    (`experiments.decisions.advise`, stored with the snapshot), its decisions and its audit trail."""
    experiment = experiment_or_404(key)
    options = analysis_options()
    snapshot = latest_snapshot(get_db(), key, **options)
    return {"experiment": experiment, "options": options, "snapshot": snapshot,
            "recommendation": snapshot.recommendation if snapshot else None,
            "decisions": list_decisions(key, get_db()), "audit": read_audit_log(get_db(), object_key=key, limit=200)}


@bp.route("/experiments/<key>/strategy")
@requires()
def strategy(key: str) -> Any:
    return render_template("strategy.html", form={}, **strategy_data(key))


def decide(key: str, form) -> Any:
    """Record the winner; a guardrail- or SRM-failing arm needs the override box and a reason."""
    override = form.get("override", "").strip() or None
    return record_decision(key, form.get("winner", ""), form.get("rationale", "").strip(), actor(), get_db(),
                           override=override)


@bp.route("/experiments/<key>/decide", methods=["POST"])
@requires("decide")
def decide_view(key: str) -> Any:
    try:
        decision = decide(key, request.form)
    except FORM_REFUSALS as error:  # a refused decision keeps the winner, rationale and override that were typed
        flash(refusal_message(error), "error")
        return render_template("strategy.html", form=request.form, **strategy_data(key)), 400
    flash(f"Winner of '{key}': {decision.winner_arm}.", "ok")
    return redirect(url_for("strategy.strategy", key=key))
