"""Finance pages: cost per incremental retained user, margin and ROI per arm and segment; budget allocation."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, flash, render_template, request

from experiments.catalog import list_treatments
from experiments.cohorts import list_cohorts
from experiments.definitions import list_experiments
from experiments.metrics import SEGMENT_COLUMNS
from experiments.models import list_model_records
from experiments.plans import list_plans
from experiments.snapshots import latest_snapshot
from webui.auth import requires
from webui.registry import db_path, get_db
from webui.views.shared import (
    FORM_REFUSALS,
    actor,
    analysis_options,
    experiment_or_404,
    number_field,
    refusal_message,
    whole_field,
)

if TYPE_CHECKING:
    import pandas as pd

    from uplift.plan_runs import PlanRun

bp = Blueprint("finance", __name__)


def finance_data(key: str) -> dict[str, Any]:
    """The experiment and the newest snapshot with the request's options (its money view per arm and segment)."""
    experiment = experiment_or_404(key)
    options = analysis_options()
    return {"experiment": experiment, "options": options, "snapshot": latest_snapshot(get_db(), key, **options)}


@bp.route("/experiments/<key>/finance")
@requires()
def finance(key: str) -> Any:
    return render_template("finance.html", segments=SEGMENT_COLUMNS, **finance_data(key))


def _capacities(form) -> dict[str, int]:
    """capacity_<treatment> fields: whole numbers of users, empty for no limit."""
    caps = {}
    for name, text in form.items():
        if name.startswith("capacity_") and text.strip():
            try:
                caps[name.removeprefix("capacity_")] = int(text)
            except ValueError:
                abort(400, description=f"the capacity of {name.removeprefix('capacity_')} must be a whole number")
    return caps


# The form's labels for the options the plan services name in their refusals (uplift.plan_inputs, experiments.plans).
ALLOCATION_FIELDS = {"--budget": "the budget", "--value-per-retained": "the value of a retained user",
                     "--capacity": "the capacities", "--holdout": "the holdout share"}


def allocation_choices() -> dict[str, Any]:
    """Treatments (with unit costs and capacities) and the experiments a plan may come from."""
    database = get_db()
    return {"treatments": list_treatments(database),
            "experiments": [e for e in list_experiments(database) if e.status in ("stopped", "concluded")],
            "models": list_model_records(database, "uplift"), "cohorts": list_cohorts(database).to_dict("records"),
            "plans": list_plans(database)}


def _scores(form, upload) -> tuple[pd.DataFrame, str | None]:
    """The scores a plan is made on: an uploaded file, or a stored uplift model applied to a flagged cohort
    (features from the warehouse, as `winback uplift score --cohort` would); with the model's name if any."""
    from uplift.cohort_scores import score_cohort
    from uplift.plan_runs import read_scores

    model, cohort = form.get("model") or None, form.get("cohort") or None
    if upload is not None and upload.filename:
        suffix = Path(upload.filename).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="winback-upload-") as folder:
            path = Path(folder) / f"scores{suffix if suffix in ('.csv', '.parquet', '.pq') else '.csv'}"
            upload.save(path)
            return read_scores(path, name=Path(upload.filename).name, expected=[t.key for t in list_treatments(get_db())],
                               value=form.get("value_per_retained", "").strip() or None), model
    if model and cohort:
        scored = score_cohort(model, cohort, db=db_path())
        for note in scored.notes:
            flash(note, "note")
        return scored.scores, model
    abort(400, description="choose a stored uplift model and a cohort to score, or upload a scores file "
                           "(user_id and one uplift column per treatment key)")


def run_allocation(form, upload) -> PlanRun:
    """Score (or read the uploaded scores) and run, record and frame the plan the form asks for."""
    from uplift.plan_runs import plan_budget

    budget = number_field(form, "budget", "the budget")
    if budget is None:
        abort(400, description="the plan needs a budget")
    scores, model = _scores(form, upload)
    return plan_budget(get_db(), scores, key=form.get("key", "").strip(), budget=budget, capacity=_capacities(form),
                       value=form.get("value_per_retained", "").strip() or None,
                       holdout=number_field(form, "holdout", "the holdout share", 0.0) or 0.0,
                       seed=whole_field(form, "seed", "the seed"), model=model,
                       source_experiment=form.get("source_experiment") or None,
                       allow=form.getlist("allow"), actor=actor())


@bp.route("/allocate", methods=["GET", "POST"])
@requires()
def allocate() -> Any:
    run, status = None, 200
    if request.method == "POST":
        try:
            run = _allocate_now()
        except FORM_REFUSALS as error:  # a refused form keeps what was typed (the scores file must be chosen again)
            flash(f"{refusal_message(error, ALLOCATION_FIELDS)} (choose the scores file again)", "error")
            status = 400
    return render_template("allocation.html", run=run, form=request.form, **allocation_choices()), status


@requires("allocate")
def _allocate_now() -> PlanRun:
    return run_allocation(request.form, request.files.get("scores"))
