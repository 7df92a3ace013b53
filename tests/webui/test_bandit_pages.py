"""The bandit on the pages (issue 26): the launch form's bandit option creates a bandit draft with its floor and
burn-in, and the results page shows the weights over time (table and chart) and the combined analysis."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_actions import LAUNCH
from webui_client import post

from experiments.bandit_weights import get_bandit, list_periods, update_bandit_weights
from experiments.db import registry
from experiments.definitions import get_experiment
from experiments.imports import import_outcomes
from experiments.lifecycle import start_experiment
from experiments.targeting import assign_users
from experiments.users import create_token

BANDIT = {**LAUNCH, "arm_weight_0": "0.2", "arm_weight_1": "0.4", "arm_weight_2": "0.4", "bandit": "1",
          "bandit_floor": "0.1", "bandit_burn_in": "1"}


def test_launch_creates_a_bandit_draft_with_its_settings(shop, as_user) -> None:
    response = post(as_user("gina"), "/launch", {**BANDIT, "action": "create"})
    assert response.status_code == 302 and response.location == "/experiments/wb-dec/results"
    settings = get_bandit(shop.db, "wb-dec")
    assert settings is not None and (settings.floor, settings.burn_in) == (0.1, 1)
    assert [a.weight for a in get_experiment("wb-dec", shop.db).arms] == [0.2, 0.4, 0.4]
    with registry(shop.db) as database:
        actions = database.execute("SELECT actor, action FROM audit_log WHERE object_key = 'wb-dec' ORDER BY id").fetchall()
    assert actions == [("gina", "create"), ("gina", "bandit")]
    page = as_user("gina").get("/launch").text
    assert 'name="bandit"' in page and 'name="bandit_floor"' in page and 'name="bandit_burn_in"' in page
    edit = as_user("gina").get("/experiments/wb-dec/edit").text  # a draft stays what it was created as
    assert 'name="arm_weight_0"' in edit and 'name="bandit"' not in edit


def test_a_bandit_form_whose_floors_do_not_fit_is_refused_and_nothing_is_written(shop, as_user) -> None:
    response = post(as_user("gina"), "/launch", {**BANDIT, "action": "create", "bandit_floor": "0.5"})
    assert response.status_code == 400
    assert "2 treatments x floor 0.5 = 1 is more than the treatments&#39; share 0.8" in response.text
    with registry(shop.db) as database:
        assert database.execute("SELECT COUNT(*) FROM experiments WHERE key = 'wb-dec'").fetchone() == (0,)
    no_bandit = post(as_user("gina"), "/launch", {**LAUNCH, "action": "create"})
    assert no_bandit.status_code == 302 and get_bandit(shop.db, "wb-dec") is None


def test_results_page_shows_the_weights_over_time(shop, as_user, tmp_path) -> None:
    client = as_user("gina")
    post(client, "/launch", {**BANDIT, "action": "create"})
    start_experiment("wb-dec", shop.db, actor="gina")
    with registry(shop.db) as database:
        cohort = [r[0] for r in database.execute("SELECT user_id FROM cohorts WHERE cohort_key = 'at-risk' ORDER BY 1")]
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for week, users in enumerate((cohort[:600], cohort[600:])):
        now = start + timedelta(days=7 * week)
        update_bandit_weights(shop.db, "wb-dec", now=now, actor="gina")
        assign_users("wb-dec", users, db=shop.db, now=now, actor="gina")
    assert [p.rule for p in list_periods(shop.db, "wb-dec")] == ["burn-in", "no outcomes yet"]
    page = client.get("/experiments/wb-dec/results").text
    assert "Bandit: weights over time" in page and "share of new users per arm, by weight period" in page
    assert "<svg" in page
    assert "<td>burn-in</td>" in page and "<td>no outcomes yet</td>" in page
    assert "<td>2026-12-01 00:00</td>" in page and "<td>2026-12-08 00:00</td>" in page
    assert "Combined (period-stratified) against control" in page and "Winner: <b>none yet</b>" in page
    # With outcomes (every third user retained, whatever the arm) the combined effects are drawn with their intervals.
    with registry(shop.db) as database:
        assigned = [r[0] for r in database.execute("SELECT user_id FROM assignments WHERE experiment_key = 'wb-dec' "
                                                   "ORDER BY user_id")]
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("experiment_key,user_id,metric,value\n"
                        + "".join(f"wb-dec,{u},retained,{int(i % 3 == 0)}\n" for i, u in enumerate(assigned)))
    import_outcomes(outcomes, shop.db)
    page = client.get("/experiments/wb-dec/results").text
    assert "retention uplift against control, periods combined by their sizes, with its 95% interval" in page
    assert "nothing to draw yet" not in page


def test_the_api_creates_a_bandit_and_returns_its_read_with_the_results(app, shop) -> None:
    with registry(shop.db) as database:
        token = create_token(database, "gina", "tests").secret
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/experiments", data=BANDIT, headers=auth)
    assert created.status_code == 201 and created.json["experiment"]["key"] == "wb-dec"
    assert get_bandit(shop.db, "wb-dec") is not None
    start_experiment("wb-dec", shop.db, actor="gina")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    update_bandit_weights(shop.db, "wb-dec", now=now)
    payload = client.get("/api/v1/experiments/wb-dec/results", headers=auth).json
    assert payload["bandit"]["settings"] == {"floor": 0.1, "burn_in": 1, "draws": 20000}
    assert [p["rule"] for p in payload["bandit"]["periods"]] == ["burn-in"]
    fixed = client.get("/api/v1/experiments/wb-q4/results", headers=auth).json
    assert fixed["bandit"] is None


def test_hostile_bandit_fields_are_refused_with_a_reason_never_a_500(shop, as_user) -> None:
    client = as_user("gina")
    created = 0
    for i, (field, text) in enumerate([(f, t) for f in ("bandit_floor", "bandit_burn_in")
                                       for t in ("nan", "inf", "-1", "1e400", "abc", "1.5", "0.45", "9" * 25, "-0")]):
        response = post(client, "/launch", {**BANDIT, "key": f"wb-h{i}", "action": "create", field: text})
        assert response.status_code in (302, 400), (field, text, response.status_code)
        if response.status_code == 400:
            assert "must be" in response.text or "is more than" in response.text, (field, text)
        created += response.status_code == 302
    with registry(shop.db) as database:
        stored = database.execute("SELECT floor FROM bandits WHERE experiment_key LIKE 'wb-h%'").fetchall()
    assert len(stored) == created == 1 and stored[0][0] == 0.0  # only floor "-0" (= 0) is a floor that fits
