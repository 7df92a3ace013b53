"""The REST API under /api/v1: the JSON twin of every page and the same actions, for scripts (token auth)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from experiments.definitions import delete_draft
from experiments.imports import undo_import
from experiments.lifecycle import stop_experiment
from experiments.snapshots import take_snapshot
from experiments.starting import assign_and_snapshot, start_and_assign
from webui.auth import requires
from webui.registry import get_db
from webui.views import catalog, data, finance, growth, models, programmes, strategy
from webui.views.shared import actor, analysis_options, json_response, request_fields

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _snapshot_payload(data: dict[str, Any]) -> dict[str, Any]:
    snapshot = data.pop("snapshot")
    return {**data, "snapshot": snapshot, "missing_snapshot": snapshot is None}


@bp.route("/whoami")
@requires()
def whoami() -> Any:
    return json_response({"user": g.user, "via": g.via})


@bp.route("/experiments")
@requires()
def experiments() -> Any:
    return json_response(growth.experiments_data())


@bp.route("/overview")
@requires()
def overview() -> Any:
    return json_response(growth.overview_data())


@bp.route("/launch")
@requires()
def launch_choices() -> Any:
    return json_response(growth.launch_choices())


@bp.route("/experiments", methods=["POST"])
@requires("launch")
def create() -> Any:
    experiment = growth.create_draft(request_fields())
    return json_response({"experiment": experiment}, 201)


@bp.route("/experiments/<key>/edit", methods=["POST"])
@requires("launch")
def edit(key: str) -> Any:
    """The launch form's fields (all of them, as on the edit page) applied to draft `key`."""
    return json_response({"experiment": growth.save_draft(key, request_fields())})


@bp.route("/experiments/<key>/delete", methods=["POST"])
@requires("launch")
def delete(key: str) -> Any:
    delete_draft(key, get_db(), actor=actor())
    return json_response({"deleted": key})


@bp.route("/experiments/<key>/start", methods=["POST"])
@requires("launch")
def start(key: str) -> Any:
    """Start, assign the target cohort and snapshot: what the page's Start button and `experiment start` do."""
    started = start_and_assign(get_db(), key, actor=actor())
    return json_response({"experiment": started.experiment, "assignment": started.assignment,
                          "snapshot_id": started.snapshot_id, "message": started.describe()})


@bp.route("/experiments/<key>/assign", methods=["POST"])
@requires("launch")
def assign(key: str) -> Any:
    """The target cohort, or `user_ids` (a list in a JSON body), assigned behind the send gate, then a snapshot."""
    fields = request_fields()
    users = fields.getlist("user_ids") or None
    return json_response({"assignment": assign_and_snapshot(get_db(), key, users, actor=actor())})


@bp.route("/experiments/<key>/stop", methods=["POST"])
@requires("launch")
def stop(key: str) -> Any:
    return json_response({"experiment": stop_experiment(key, get_db(), actor=actor())})


@bp.route("/experiments/<key>/results")
@requires()
def results(key: str) -> Any:
    return json_response(_snapshot_payload(growth.results_data(key)))


@bp.route("/experiments/<key>/refresh", methods=["POST"])
@requires("refresh")
def refresh(key: str) -> Any:
    return json_response({"snapshot": take_snapshot(get_db(), key, actor=actor(), **analysis_options())}, 201)


@bp.route("/experiments/<key>/finance")
@requires()
def finance_page(key: str) -> Any:
    return json_response(_snapshot_payload(finance.finance_data(key)))


@bp.route("/experiments/<key>/strategy")
@requires()
def strategy_page(key: str) -> Any:
    return json_response(_snapshot_payload(strategy.strategy_data(key)))


@bp.route("/experiments/<key>/decide", methods=["POST"])
@requires("decide")
def decide(key: str) -> Any:
    return json_response({"decision": strategy.decide(key, request_fields())}, 201)


@bp.route("/models")
@requires()
def model_list() -> Any:
    return json_response(models.models_data())


@bp.route("/allocations")
@requires()
def allocation_choices() -> Any:
    return json_response(finance.allocation_choices())


@bp.route("/allocations", methods=["POST"])
@requires("allocate")
def allocate() -> Any:
    """Multipart: `scores` file plus the allocation form's fields; the plan's CSV is at /experiments/KEY/assignments.csv."""
    return json_response({"plan": finance.run_allocation(request_fields(), request.files.get("scores"))}, 201)


@bp.route("/catalog")
@requires()
def catalog_list() -> Any:
    return json_response(catalog.catalog_data())


@bp.route("/catalog", methods=["POST"])
@requires("catalog")
def catalog_save() -> Any:
    """A treatment (`what=treatment`, `update=1` to change one) or a metric (`what=metric`), as on the catalog page."""
    return json_response({"saved": catalog.save_catalog_entry(request_fields())}, 201)


@bp.route("/imports")
@requires()
def imports() -> Any:
    return json_response(data.imports_data())


@bp.route("/imports", methods=["POST"])
@requires("import")
def import_file() -> Any:
    """Multipart: `file` and its `kind` (deliveries|outcomes); `preview=1` checks it and writes nothing."""
    return json_response({"import": data.import_now(request_fields(), request.files.get("file"))}, 201)


@bp.route("/imports/<int:batch>/undo", methods=["POST"])
@requires("import")
def import_undo(batch: int) -> Any:
    return json_response({"batch": undo_import(batch, get_db(), actor=actor())})


@bp.route("/programmes")
@requires()
def programme_list() -> Any:
    return json_response(programmes.programmes_data())


@bp.route("/programmes/<name>")
@requires()
def programme(name: str) -> Any:
    return json_response(programmes.programme_data(name))
