"""The models page: each stored churn and uplift model with its validation figures."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from experiments.models import list_model_records
from webui.auth import requires
from webui.registry import get_db

bp = Blueprint("models", __name__)


def models_data() -> dict[str, Any]:
    return {"models": list_model_records(get_db())}


@bp.route("/models")
@requires()
def models() -> Any:
    return render_template("models.html", **models_data())
