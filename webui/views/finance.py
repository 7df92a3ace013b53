"""Finance pages: cost per incremental retained user, margin and ROI per arm and segment; budget allocation."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from experiments.definitions import get_experiment
from experiments.metrics import SEGMENT_COLUMNS
from experiments.snapshots import latest_snapshot
from webui.auth import requires
from webui.registry import get_db
from webui.views.shared import analysis_options

bp = Blueprint("finance", __name__)


def finance_data(key: str) -> dict[str, Any]:
    """The experiment and the newest snapshot with the request's options (its money view per arm and segment)."""
    experiment = get_experiment(key, get_db())
    options = analysis_options()
    return {"experiment": experiment, "options": options, "snapshot": latest_snapshot(get_db(), key, **options)}


@bp.route("/experiments/<key>/finance")
@requires()
def finance(key: str) -> Any:
    return render_template("finance.html", segments=SEGMENT_COLUMNS, **finance_data(key))
