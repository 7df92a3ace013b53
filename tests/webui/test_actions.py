"""Actions through the pages: launch (plan, create, start, assign, stop), decide, each audited under the user."""
from __future__ import annotations

import math

from webui_client import post

from experiments.db import registry
from experiments.definitions import get_experiment
from experiments.lifecycle import list_decisions
from stats import sample_size

LAUNCH = {
    "key": "wb-dec", "name": "December push", "owner": "gina", "cohort": "at-risk", "coverage": "1", "layer": "winter",
    "arm_key_0": "control", "arm_weight_0": "0.5", "arm_key_1": "coupon", "arm_treatment_1": "coupon_10",
    "arm_weight_1": "0.25", "arm_key_2": "reco", "arm_treatment_2": "reco_email", "arm_weight_2": "0.25",
    "primary_metric": "retained", "guardrails": "unsubscribed", "value_per_retained": "35",
    "baseline": "0.3", "mde": "0.1", "daily_traffic": "400",
}


def _audit(shop, key: str) -> list[tuple[str, str]]:
    with registry(shop.db) as database:
        return database.execute("SELECT actor, action FROM audit_log WHERE object_key = ? ORDER BY id",
                                (key,)).fetchall()


def test_power_plan_before_launch(as_user) -> None:
    page = post(as_user("finn"), "/launch", {**LAUNCH, "action": "plan"}).text
    # Control 0.5, smallest arm 0.25 → ratio 0.5: R's power.prop.test generalised to unequal arms
    # (stats.sample_size, checked against R in tests/stats), as experiments.planning lays it out per arm.
    need = sample_size(0.3, 0.1, ratio=0.5)
    n_total = max(need.n_control / 0.5, need.n_treatment / 0.25)
    assert f"<b>{need.n_control:,}</b> control users and <b>{need.n_treatment:,}</b>" in page
    assert f"about <b>{math.ceil(n_total / 400)}</b> days of traffic" in page
    assert "the cohort has 1,200 users, fewer than the" in page  # a 10% effect needs more than the cohort
    assert "Create the draft" not in page  # finance may plan but not launch


def test_weights_not_summing_to_one_are_refused_as_on_the_cli(shop, as_user) -> None:
    """The page once rescaled 0.5 + 0.9 into 0.357 / 0.643 without saying so; now the registry's rule refuses it."""
    response = post(as_user("gina"), "/launch", {**LAUNCH, "action": "create", "arm_weight_0": "0.5",
                                                 "arm_weight_1": "0.9", "arm_weight_2": "0.25"})
    assert response.status_code == 400
    assert "arm weights must sum to 1 (GrowthBook falls back to equal weights otherwise), got 1.65" in response.text
    with registry(shop.db) as database:
        assert database.execute("SELECT COUNT(*) FROM experiments WHERE key = 'wb-dec'").fetchone() == (0,)


def test_launch_creates_a_draft_under_the_user(shop, as_user) -> None:
    response = post(as_user("gina"), "/launch", {**LAUNCH, "action": "create"})
    assert response.status_code == 302 and response.location == "/experiments/wb-dec/results"
    experiment = get_experiment("wb-dec", shop.db)
    assert [(a.key, a.treatment, a.weight, a.is_control) for a in experiment.arms] == [
        ("control", None, 0.5, True), ("coupon", "coupon_10", 0.25, False), ("reco", "reco_email", 0.25, False)]
    assert experiment.guardrail_metrics == ("unsubscribed",) and experiment.layer == "winter"
    assert experiment.status == "draft" and experiment.value_per_retained == 35
    assert _audit(shop, "wb-dec") == [("gina", "create")]


def test_launch_refuses_a_bad_definition_with_its_reason(as_user) -> None:
    response = post(as_user("gina"), "/launch", {**LAUNCH, "action": "create", "arm_treatment_1": "<b>nope</b>"})
    assert response.status_code == 400
    assert "&lt;b&gt;nope&lt;/b&gt;" in response.text and "<b>nope</b>" not in response.text
    bad_weight = post(as_user("gina"), "/launch", {**LAUNCH, "action": "create", "arm_weight_2": "lots"})
    assert bad_weight.status_code == 400 and "arm &#39;reco&#39;: the weight must be a number" in bad_weight.text


def test_start_assign_stop_need_confirmation_and_are_audited(shop, as_user) -> None:
    client = as_user("gina")
    post(client, "/launch", {**LAUNCH, "action": "create"})
    unconfirmed = post(client, "/experiments/wb-dec/start")
    assert unconfirmed.status_code == 400 and "tick the confirmation box" in unconfirmed.text
    assert get_experiment("wb-dec", shop.db).status == "draft"
    started = post(client, "/experiments/wb-dec/start", {"confirm": "yes"}, follow_redirects=True)
    assert started.status_code == 200 and "No outcomes" not in started.text
    # All 1,200 cohort users are free in layer 'winter' (wb-q4 ran in its own layer, and opt-outs are empty).
    assert "Experiment wb-dec is running; 1,200 users of cohort at-risk assigned." in started.text
    [listed] = [e for e in client.get("/api/v1/experiments").json["experiments"] if e["key"] == "wb-dec"]
    assert sum(listed["users_by_arm"].values()) == 1200  # a snapshot is taken at start: the list shows the arms
    assert "0 users newly assigned" in post(client, "/experiments/wb-dec/assign", {"confirm": "yes"},
                                            follow_redirects=True).text
    assert post(client, "/experiments/wb-dec/stop", {"confirm": "yes"}).status_code == 302
    assert get_experiment("wb-dec", shop.db).status == "stopped"
    assert _audit(shop, "wb-dec") == [("gina", "create"), ("gina", "running"), ("gina", "assign"), ("gina", "snapshot"),
                                      ("gina", "assign"), ("gina", "snapshot"), ("gina", "stopped")]


def test_a_winner_failing_a_guardrail_needs_an_override(shop, as_user) -> None:
    client = as_user("stella")
    refused = post(client, "/experiments/wb-q4/decide", {"winner": "coupon", "rationale": "most retained"})
    assert refused.status_code == 400
    assert "cannot declare &#39;coupon&#39; the winner: arm &#39;coupon&#39; fails guardrail(s) unsubscribed" in refused.text
    assert list_decisions("wb-q4", shop.db) == []
    accepted = post(client, "/experiments/wb-q4/decide", {"winner": "coupon", "rationale": "most retained",
                                                         "override": "unsubscribes are cheap this quarter"})
    assert accepted.status_code == 302
    [decision] = list_decisions("wb-q4", shop.db)
    assert (decision.winner_arm, decision.decided_by, decision.override) == (
        "coupon", "stella", "unsubscribes are cheap this quarter")
    assert _audit(shop, "wb-q4")[-1] == ("stella", "decide")
    page = client.get("/experiments/wb-q4/strategy").text
    assert "most retained" in page and "concluded" in page


def test_decide_through_the_api_with_a_token(shop, app) -> None:
    from experiments.users import create_token

    with registry(shop.db) as database:
        token = create_token(database, "stella", "script").secret
    response = app.test_client().post("/api/v1/experiments/wb-q4/decide", headers={"Authorization": f"Bearer {token}"},
                                      data={"winner": "reco", "rationale": "retains at 0.50 a message"})
    assert response.status_code == 201 and response.json["decision"]["winner_arm"] == "reco"
    assert response.json["decision"]["override"] is None
