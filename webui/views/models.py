"""The models page: each stored churn and uplift model with its validation figures, uplift by decile and Qini curves."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from experiments.models import list_model_records, load_model_record
from uplift.model_evidence import DECILE_COLUMNS, model_evidence
from webui.auth import requires
from webui.registry import get_db
from webui.views.shared import csv_response

bp = Blueprint("models", __name__)


def models_data() -> dict[str, Any]:
    """Every stored model, and per model name what it showed at fit time (uplift by decile, Qini curves)."""
    records = list_model_records(get_db())
    return {"models": records, "evidence": {r.name: model_evidence(r).to_dict() for r in records}}


@bp.route("/models")
@requires()
def models() -> Any:
    return render_template("models.html", **models_data())


@bp.route("/models/<name>/deciles.csv")
@requires()
def deciles_csv(name: str) -> Any:
    evidence = model_evidence(load_model_record(name, get_db()))
    if not evidence.deciles:
        abort(404, description=f"model '{name}': {evidence.deciles_note or 'no uplift by decile (not an uplift model)'}")
    return csv_response(evidence.to_dict()["deciles"], f"{name}-deciles.csv", columns=list(DECILE_COLUMNS))
