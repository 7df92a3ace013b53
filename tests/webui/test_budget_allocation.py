"""Budget allocation from the finance page: scores in, a recorded plan of treatment keys with a holdout out."""
from __future__ import annotations

import csv
import io

import pytest
from webui_client import post
from webui_shop import write_scores

from experiments.db import registry
from experiments.definitions import get_experiment

# The plan services (uplift.planning, experiments.plans) land with the targeting issue; until they are merged
# the allocation page answers 503 (tested below) and these tests wait for them.
PLANS = pytest.importorskip("uplift.planning", reason="needs the plan services of the targeting branch")

FORM = {"key": "plan-dec", "budget": "2000", "holdout": "0.1", "seed": "3", "capacity_coupon_10": "150",
        "capacity_reco_email": ""}


def _upload(client, tmp_path, form: dict, scores_path=None):
    path = scores_path or tmp_path / "scores.csv"
    if scores_path is None:
        write_scores(path)
    with open(path, "rb") as handle:
        return post(client, "/allocate", {**form, "scores": (handle, path.name)}, content_type="multipart/form-data")


def _plan_rows(client, key: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(client.get(f"/experiments/{key}/assignments.csv").text)))


def test_finance_runs_an_allocation_and_downloads_the_plan(shop, as_user, tmp_path) -> None:
    client = as_user("finn")
    page = _upload(client, tmp_path, FORM)
    assert page.status_code == 200, page.text
    assert "Plan plan-dec" in page.text and "Budget frontier" in page.text
    rows = _plan_rows(client, "plan-dec")
    treated = [r for r in rows if r["arm"] != "holdout"]
    held = [r for r in rows if r["arm"] == "holdout"]
    # Every row names its catalog treatment; the holdout (the control arm) gets none.
    assert {r["treatment_key"] for r in treated} <= {"coupon_10", "reco_email"} and all(r["arm"] == r["treatment_key"]
                                                                                         for r in treated)
    assert all(r["treatment_key"] == "" for r in held)
    # Unit costs from the catalog (coupon 8.00, e-mail 0.50): the planned spend stays within the budget.
    planned = sum(8.0 if r["treatment_key"] == "coupon_10" else 0.5 for r in treated)
    assert planned <= 2000
    assert sum(r["treatment_key"] == "coupon_10" for r in treated) <= 150  # its capacity
    # The holdout is round(10%) of the chosen users of each treatment (experiments.plans.holdout_draw).
    chosen = len(rows)
    assert abs(len(held) - 0.1 * chosen) <= 2
    assert f"<b>{len(treated):,}</b> of 1,200 users treated, <b>{len(held):,}</b> held out" in page.text
    # The frontier plans before the holdout; the page says by how much the plan sends and expects less.
    share = len(held) / len(rows)
    assert (f"holds out {len(held):,} of the {len(rows):,} users it chose, so at the same budget it spends and "
            f"expects about {share:.1%} less") in page.text
    plan = get_experiment("plan-dec", shop.db)
    assert plan.status == "running" and plan.control.key == "holdout"
    with registry(shop.db) as database:
        assert database.execute("SELECT actor FROM audit_log WHERE action = 'record_plan'").fetchone() == ("finn",)


def test_treatments_that_failed_a_guardrail_are_left_out(shop, as_user, tmp_path) -> None:
    page = _upload(as_user("finn"), tmp_path, {**FORM, "key": "plan-safe", "source_experiment": "wb-q4"})
    assert page.status_code == 200
    assert "coupon_10 left out: it failed guardrail(s) unsubscribed" in page.text
    rows = _plan_rows(as_user("finn"), "plan-safe")
    assert {r["treatment_key"] for r in rows if r["arm"] != "holdout"} == {"reco_email"}


def test_bad_scores_are_refused_with_row_and_column(as_user, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("user_id,coupon_10,reco_email\nu00000,0.1,0.02\nu00001,lots,0.01\n")
    response = _upload(as_user("finn"), tmp_path, FORM, path)
    assert response.status_code == 400
    assert "bad.csv, row 2, column &#39;coupon_10&#39;: expected a number, got &#39;lots&#39;" in response.text
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("user_id,free_gift\nu00000,0.1\n")
    response = _upload(as_user("finn"), tmp_path, FORM, unknown)
    assert response.status_code == 400
    assert "unknown.csv, column &#39;free_gift&#39;: is not a treatment of the catalog" in response.text


def test_allocation_through_the_api(shop, app, tmp_path) -> None:
    from experiments.users import create_token

    with registry(shop.db) as database:
        token = create_token(database, "finn", "planner").secret
    path = tmp_path / "scores.csv"
    write_scores(path)
    with open(path, "rb") as handle:
        response = app.test_client().post("/api/v1/allocations", headers={"Authorization": f"Bearer {token}"},
                                          data={**FORM, "scores": (handle, "scores.csv")},
                                          content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    plan = response.json["plan"]
    assert plan["key"] == "plan-dec" and plan["summary"]["cost"] <= 2000
    assert {row["policy"] for row in plan["frontier"]} >= {"targeted", "random", "blanket coupon_10"}


def test_a_plan_that_treats_nobody_is_refused_with_the_reason(shop, as_user, tmp_path) -> None:
    # Issue 15, item 4: a plan that treats nobody says why (here: no user is expected to gain from either treatment).
    path = tmp_path / "hopeless.csv"
    path.write_text("user_id,coupon_10,reco_email\nu00000,-0.1,-0.02\nu00001,-0.05,0.0\n")
    response = _upload(as_user("finn"), tmp_path, {**FORM, "key": "plan-none"}, path)
    assert response.status_code == 400
    assert "plan &#39;plan-none&#39; treats nobody, so there is nothing to record: " in response.text
    # The reason is the allocation's own note (uplift.plan_notes), as `winback allocate` prints it.
    assert "no user has a positive predicted uplift for any treatment, so there is nothing worth buying" in response.text
    with registry(shop.db) as database:
        assert database.execute("SELECT 1 FROM experiments WHERE key = 'plan-none'").fetchone() is None
