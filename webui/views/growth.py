"""Growth team pages: the experiment list, the cohort overview, launching experiments and their results."""
from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from common.choices import METHODS, VERDICTS
from experiments.bandit_analysis import analyze_bandit
from experiments.bandit_weights import (
    DEFAULT_BURN_IN,
    DEFAULT_FLOOR,
    BanditSettings,
    create_bandit_experiment,
    get_bandit,
)
from experiments.catalog import list_metrics, list_treatments
from experiments.choices import SEGMENT_COLUMNS, STATUSES
from experiments.cohort_summary import risk_breakdown
from experiments.cohorts import list_cohorts
from experiments.definitions import Arm, Experiment, create_experiment, delete_draft, update_draft
from experiments.exports import assignments_frame
from experiments.lifecycle import stop_experiment
from experiments.listing import experiment_listing
from experiments.models import list_model_records
from experiments.planning import plan_experiment
from experiments.report_rows import COLUMNS as REPORT_COLUMNS
from experiments.snapshots import latest_snapshot, snapshot_history, take_snapshot
from experiments.starting import assign_and_snapshot, start_and_assign
from webui.auth import requires
from webui.registry import db_path, get_db
from webui.views.shared import (
    FORM_REFUSALS,
    actor,
    analysis_options,
    csv_response,
    experiment_or_404,
    finite_field,
    number_field,
    refusal_message,
    whole_field,
)

bp = Blueprint("growth", __name__)
MAX_ARMS = 6


def experiments_data() -> dict[str, Any]:
    """The experiment list with the filters of the request (status, owner, text)."""
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400, description=f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    owner, text = request.args.get("owner", "").strip(), request.args.get("q", "").strip()
    rows = experiment_listing(get_db(), status, owner=owner or None, text=text or None)  # type: ignore[arg-type]
    return {"filters": {"status": status, "owner": owner, "q": text}, "experiments": rows}


@bp.route("/experiments")
@requires()
def experiments() -> Any:
    return render_template("experiments.html", statuses=STATUSES, **experiments_data())


@bp.route("/experiments.csv")
@requires()
def experiments_csv() -> Any:
    rows = []
    for row in experiments_data()["experiments"]:
        flat = {k: v for k, v in row.to_dict().items() if not isinstance(v, (list, dict))}
        flat.update({f"users_{arm}": n for arm, n in row.users_by_arm.items()})
        flat["guardrail_failures"] = "; ".join(row.guardrail_failures)
        flat.update({f"guardrails_{verdict}": row.guardrail_verdicts.get(verdict, 0) for verdict in VERDICTS})
        flat["problems"] = "; ".join(f"{p['title']}: {p['count']}" for p in row.problems)
        rows.append(flat)
    return csv_response(rows, "experiments.csv")


def overview_data() -> dict[str, Any]:
    """Cohorts with their sizes and the churn risk of each by stage, tier and reason."""
    database = get_db()
    cohort = request.args.get("cohort") or None
    return {"cohort": cohort, "cohorts": list_cohorts(get_db()), "breakdown": risk_breakdown(database, cohort)}


def flag_from_form(fields) -> Any:
    """Flag a cohort with a stored churn model as of a date (what `winback churn flag` does), from a form."""
    from churn.cohort_flags import flag_cohort
    from churn.flagging import FlagSpec

    max_users = whole_field(fields, "max_users", "the most users to flag", 0) or None
    return flag_cohort(fields.get("model", ""), fields.get("as_of", "").strip(), fields.get("cohort_key", "").strip(),
                       db_path(), spec=FlagSpec(max_users=max_users))


@bp.route("/overview", methods=["GET", "POST"])
@requires()
def overview() -> Any:
    if request.method == "POST":
        try:
            result = _flag()
            flash(f"Cohort {request.form.get('cohort_key', '').strip()}: {result.n_flagged:,} of {result.n_scored:,} "
                  f"users flagged by {result.model} as of {result.as_of} (rule: {result.rule}).", "ok")
            for warning in result.warnings:
                flash(warning, "note")
        except FORM_REFUSALS as error:
            flash(refusal_message(error), "error")
        return redirect(url_for("growth.overview"))
    data = overview_data()
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in data["breakdown"].to_dict(orient="records"):
        groups.setdefault((row["cohort_key"], row["dimension"]), []).append(row)
    return render_template("overview.html", cohorts=data["cohorts"].to_dict(orient="records"), groups=groups,
                           cohort=data["cohort"], churn_models=list_model_records(get_db(), "churn"))


@requires("launch")
def _flag() -> Any:
    return flag_from_form(request.form)


@bp.route("/overview.csv")
@requires()
def overview_csv() -> Any:
    return csv_response(overview_data()["breakdown"], "risk_breakdown.csv")


def launch_choices() -> dict[str, Any]:
    """What a launch form may pick from: cohorts, treatments, metrics."""
    return {"cohorts": list_cohorts(get_db()).to_dict(orient="records"), "treatments": list_treatments(get_db()),
            "metrics": list_metrics(get_db())}


def parse_launch_form(form) -> Experiment:
    """The draft experiment a launch form describes (arm rows: key, treatment, weight; the first is control).

    Every field that is not a number where one is needed is named at once, not one per submit."""
    problems: list[str] = []

    def checked(read, *args):
        try:
            return read(form, *args)
        except BadRequest as error:
            problems.append(error.description or str(error))
            return None

    arms: list[Arm] = []
    for i in range(MAX_ARMS):
        key = form.get(f"arm_key_{i}", "").strip()
        if not key:
            continue
        treatment = form.get(f"arm_treatment_{i}") or None
        weight = checked(finite_field, f"arm_weight_{i}", f"arm '{key}': the weight")
        arms.append(Arm(key, treatment, weight if weight is not None else math.nan, is_control=not arms))
    # Weights are stored as typed: the registry refuses a set that does not sum to 1 (as `experiment create` does),
    # rather than the page rescaling 0.5 + 0.9 into shares nobody typed.
    coverage = checked(number_field, "coverage", "coverage")
    value = checked(number_field, "value_per_retained", "the value of a retained user")
    if problems:
        abort(400, description="; ".join(problems))
    return Experiment(
        key=form.get("key", "").strip(), name=form.get("name", "").strip() or form.get("key", "").strip(),
        primary_metric=form.get("primary_metric", ""), arms=tuple(arms), hypothesis=form.get("hypothesis", ""),
        owner=form.get("owner", "").strip(), target_cohort=form.get("cohort") or None,
        guardrail_metrics=tuple(form.getlist("guardrails")), layer=form.get("layer", "").strip() or "default",
        coverage=1.0 if coverage is None else coverage, value_per_retained=value,
    )


def draft_form(experiment: Experiment) -> MultiDict:
    """The launch form's fields for an existing draft, so it is edited where it was written."""
    fields = MultiDict({"key": experiment.key, "name": experiment.name, "owner": experiment.owner,
                        "hypothesis": experiment.hypothesis, "cohort": experiment.target_cohort or "",
                        "coverage": f"{experiment.coverage:g}", "layer": experiment.layer,
                        "primary_metric": experiment.primary_metric,
                        "value_per_retained": "" if experiment.value_per_retained is None
                        else f"{experiment.value_per_retained:g}"})
    for i, arm in enumerate(experiment.arms):
        fields.update({f"arm_key_{i}": arm.key, f"arm_treatment_{i}": arm.treatment or "",
                       f"arm_weight_{i}": f"{arm.weight:g}"})
    for metric in experiment.guardrail_metrics:
        fields.add("guardrails", metric)
    return fields


def save_draft(key: str, form) -> Experiment:
    """Apply an edited launch form to draft `key` (the registry validates it as it would a new one)."""
    edited = parse_launch_form(form)
    return update_draft(key, get_db(), actor=actor(), name=edited.name, hypothesis=edited.hypothesis,
                        owner=edited.owner, target_cohort=edited.target_cohort, primary_metric=edited.primary_metric,
                        guardrail_metrics=edited.guardrail_metrics, layer=edited.layer, coverage=edited.coverage,
                        value_per_retained=edited.value_per_retained, arms=edited.arms)


@bp.route("/experiments/<key>/edit", methods=["GET", "POST"])
@requires()
def edit(key: str) -> Any:
    experiment, status, plan = experiment_or_404(key), 200, None
    form = draft_form(experiment)
    if request.method == "POST":
        form = request.form
        try:
            if request.form.get("action") == "plan":
                plan = launch_plan(form)
            else:
                return _save_draft(key)
        except FORM_REFUSALS as error:
            flash(refusal_message(error), "error")
            status = 400
    return render_template("launch.html", plan=plan, form=form, max_arms=MAX_ARMS, editing=experiment,
                           **launch_choices()), status


@requires("launch")
def _save_draft(key: str) -> Any:
    save_draft(key, request.form)
    flash(f"Draft '{key}' saved.", "ok")
    return redirect(url_for("growth.results", key=key))


@bp.route("/experiments/<key>/delete", methods=["POST"])
@requires("launch")
def delete(key: str) -> Any:
    if request.form.get("confirm") != "yes":
        abort(400, description=f"to delete '{key}', tick the confirmation box")
    delete_draft(key, get_db(), actor=actor())
    flash(f"Draft '{key}' deleted.", "ok")
    return redirect(url_for("growth.experiments"))


@bp.route("/launch", methods=["GET", "POST"])
@requires()
def launch() -> Any:
    plan, form, status = None, request.form, 200
    if request.method == "POST":
        try:
            if request.form.get("action") == "create":
                return create()
            plan = launch_plan(form)
        except FORM_REFUSALS as error:  # a refused form keeps what was typed; 403s and the rest go to error pages
            flash(refusal_message(error), "error")
            status = 400
    return render_template("launch.html", plan=plan, form=form, max_arms=MAX_ARMS, **launch_choices()), status


def launch_plan(form) -> Any:
    """The power plan of the arms and metric in a launch form (baseline from past controls when not given)."""
    experiment = parse_launch_form(form)
    return plan_experiment(get_db(), experiment.primary_metric, [arm.weight for arm in experiment.arms],
                           mde_relative=number_field(form, "mde", "the minimum detectable effect", 0.1),
                           baseline=number_field(form, "baseline", "the baseline rate"), cohort=experiment.target_cohort,
                           daily_traffic=number_field(form, "daily_traffic", "eligible users per day"))


def bandit_settings(form) -> BanditSettings | None:
    """The bandit settings of a launch form (its 'bandit' box ticked), or None for fixed weights."""
    if not form.get("bandit"):
        return None
    floor = number_field(form, "bandit_floor", "the bandit's floor per treatment", DEFAULT_FLOOR)
    burn_in = whole_field(form, "bandit_burn_in", "the bandit's burn-in periods", DEFAULT_BURN_IN)
    return BanditSettings(floor=floor, burn_in=burn_in)


def create_draft(form) -> Experiment:
    """The draft a launch form describes, a bandit when its box is ticked (the page and the API alike)."""
    settings = bandit_settings(form)
    if settings is not None:
        return create_bandit_experiment(parse_launch_form(form), get_db(), settings, actor=actor())
    return create_experiment(parse_launch_form(form), get_db(), actor=actor())


@requires("launch")
def create() -> Any:
    experiment = create_draft(request.form)
    what = "Bandit draft" if request.form.get("bandit") else "Draft"
    flash(f"{what} '{experiment.key}' created. Start it when ready.", "ok")
    return redirect(url_for("growth.results", key=experiment.key))


@bp.route("/experiments/<key>/<any(start, stop, assign):action>", methods=["POST"])
@requires("launch")
def lifecycle(key: str, action: str) -> Any:
    if request.form.get("confirm") != "yes":
        abort(400, description=f"to {action} '{key}', tick the confirmation box")
    if action == "start":
        flash(f"Experiment {start_and_assign(get_db(), key, actor=actor()).describe()}.", "ok")
    elif action == "assign":
        summary = assign_and_snapshot(get_db(), key, actor=actor())
        flash(f"{summary.newly_assigned:,} users newly assigned to '{key}'.", "ok")
    else:
        stop_experiment(key, get_db(), actor=actor())
        flash(f"'{key}' is stopped: no new assignments.", "ok")
    return redirect(url_for("growth.results", key=key))


def results_data(key: str) -> dict[str, Any]:
    """The experiment, the newest snapshot made with the request's options, and the snapshot history."""
    experiment = experiment_or_404(key)
    options = analysis_options()
    snapshot = latest_snapshot(get_db(), key, **options)
    bandit = analyze_bandit(key, get_db()) if get_bandit(get_db(), key) else None
    return {"experiment": experiment, "options": options, "snapshot": snapshot,
            "history": snapshot_history(get_db(), key, limit=10), "bandit": bandit}


@bp.route("/experiments/<key>")
@bp.route("/experiments/<key>/results")
@requires()
def results(key: str) -> Any:
    return render_template("results.html", methods=METHODS, segments=SEGMENT_COLUMNS, **results_data(key))


@bp.route("/experiments/<key>/results.csv")
@requires()
def results_csv(key: str) -> Any:
    snapshot = results_data(key)["snapshot"]
    if snapshot is None:
        abort(404, description=f"no analysis snapshot of '{key}' with these options yet; refresh the results first")
    return csv_response(snapshot.rows, f"{key}-results-{snapshot.id}.csv", columns=list(REPORT_COLUMNS))


@bp.route("/experiments/<key>/refresh", methods=["POST"])
@requires("refresh")
def refresh(key: str) -> Any:
    options = analysis_options()
    snapshot = take_snapshot(get_db(), key, actor=actor(), **options)
    flash(f"New analysis snapshot #{snapshot.id} ({snapshot.method}{', CUPED' if snapshot.cuped else ''}).", "ok")
    target = request.form.get("next_page", "results")
    endpoint = {"results": "growth.results", "finance": "finance.finance", "strategy": "strategy.strategy"}.get(
        target, "growth.results")
    return redirect(url_for(endpoint, key=key, method=options["method"], cuped="1" if options["cuped"] else None,
                            segment=options["segment_by"]))


@bp.route("/experiments/<key>/assignments.csv")
@requires()
def assignments_csv(key: str) -> Any:
    """The send list a CRM imports: user_id, arm, treatment_key, assigned_at (also a recorded plan's)."""
    return csv_response(assignments_frame(get_db(), key), f"{key}-assignments.csv")
