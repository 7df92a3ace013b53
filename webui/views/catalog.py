"""The catalog page: treatments with unit costs and capacities, metrics with kinds; and one's own API tokens."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from experiments.catalog import (
    Metric,
    Treatment,
    list_metrics,
    list_treatments,
    save_metric,
    save_treatment,
    update_treatment,
)
from experiments.choices import METRIC_KINDS, TREATMENT_KINDS
from experiments.users import ApiToken, create_token, list_tokens, revoke_token
from webui.auth import requires
from webui.registry import get_db
from webui.views.shared import FORM_REFUSALS, actor, number_field, refusal_message, request_fields, whole_field

bp = Blueprint("catalog", __name__)


def catalog_data() -> dict[str, Any]:
    """Treatments and metrics of the registry, by key, with the kinds a form may pick."""
    return {"treatments": list_treatments(get_db()), "metrics": list_metrics(get_db()),
            "treatment_kinds": TREATMENT_KINDS, "metric_kinds": METRIC_KINDS}


def _capacity(fields) -> int | None:
    return whole_field(fields, "capacity", "the capacity", -1) if fields.get("capacity", "").strip() else None


def save_catalog_entry(fields) -> Treatment | Metric:
    """Add or change a treatment (`what=treatment`, `update=1` to change one) or declare a metric (`what=metric`)."""
    key = fields.get("key", "").strip()
    if fields.get("what") == "metric":
        return save_metric(Metric(key, fields.get("kind", ""), fields.get("lower_is_better", "") == "",
                                  fields.get("description", "").strip()), get_db())
    if fields.get("what") != "treatment":
        abort(400, description="say what to save: what=treatment or what=metric")
    cost = number_field(fields, "unit_cost", "the unit cost")
    if fields.get("update") in ("1", "on", "yes", "true"):
        return update_treatment(key, get_db(), name=fields.get("name", "").strip() or None,
                                kind=fields.get("kind") or None, unit_cost=cost, capacity=_capacity(fields),
                                actor=actor())
    if cost is None:
        abort(400, description="the unit cost is required: what one delivery costs (0 for a free one)")
    return save_treatment(Treatment(key, fields.get("name", "").strip() or key, fields.get("kind", ""),  # type: ignore[arg-type]
                                    cost, _capacity(fields)), get_db(), actor=actor())


@bp.route("/catalog", methods=["GET", "POST"])
@requires()
def catalog() -> Any:
    status = 200
    if request.method == "POST":
        try:
            saved = _save()
            flash(f"{'Metric' if isinstance(saved, Metric) else 'Treatment'} '{saved.key}' saved.", "ok")
            return redirect(url_for("catalog.catalog"))
        except FORM_REFUSALS as error:
            flash(refusal_message(error), "error")
            status = 400
    return render_template("catalog.html", form=request.form, **catalog_data()), status


@requires("catalog")
def _save() -> Treatment | Metric:
    return save_catalog_entry(request_fields())


def own_tokens() -> list[ApiToken]:
    """The signed-in user's API tokens (without secrets)."""
    return list_tokens(get_db(), g.user.name)


def change_token(fields) -> ApiToken | None:
    """Make a token for oneself (`action=create`, with a label) or revoke one's own (`action=revoke`, `id`)."""
    if fields.get("action") == "revoke":
        token_id = whole_field(fields, "id", "the token id")
        if token_id not in {t.id for t in own_tokens()}:
            abort(404, description=f"you have no API token with id {token_id}")
        revoke_token(get_db(), token_id, actor=actor())
        return None
    return create_token(get_db(), g.user.name, fields.get("label", "").strip(), actor=actor())


@bp.route("/account", methods=["GET", "POST"])
@requires()
def account() -> Any:
    created, status = None, 200
    if request.method == "POST":
        try:
            created = change_token(request_fields())
            if created is None:
                flash("Token revoked: it stops working at once.", "ok")
        except FORM_REFUSALS as error:
            flash(refusal_message(error), "error")
            status = 400
    return render_template("account.html", tokens=own_tokens(), created=created), status
