"""Every page, its JSON twin and its CSV: what they show, that numbers match the imported data, escaping."""
from __future__ import annotations

import csv
import io
import json

from markupsafe import escape
from webui_client import post
from webui_shop import COHORT, EXPERIMENT

from experiments.catalog import Treatment, save_treatment
from experiments.db import registry
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.snapshots import take_snapshot

HOSTILE = '<script>alert("x")</script>'


def _snapshot(shop, **options) -> None:
    with registry(shop.db) as database:
        take_snapshot(database, EXPERIMENT, actor="gina", **options)


def _rates(shop, metric: str) -> dict[str, float]:
    """Per-arm mean of a metric straight from the outcomes the fixture imported (independent of the services)."""
    frame = shop.outcomes[shop.outcomes["metric"] == metric]
    return frame.groupby("arm")["value"].mean().to_dict()


def test_experiment_list_shows_status_owner_arms_health_and_filters(shop, as_user) -> None:
    client = as_user("gina")
    page = client.get("/experiments")
    assert page.status_code == 200
    assert "Win back Q4" in page.text and "status-stopped" in page.text and "not analysed" in page.text
    _snapshot(shop)
    page = client.get("/experiments").text
    sizes = shop.outcomes[shop.outcomes["metric"] == "retained"]["arm"].value_counts()
    assert f"control {sizes['control']:,}" in page and f"coupon {sizes['coupon']:,}" in page
    assert "SRM ok" in page and "guardrail fail" in page  # the coupon arm raises unsubscribes 2% → 12%
    assert "Win back Q4" not in client.get("/experiments?status=running").text
    assert "Win back Q4" not in client.get("/experiments?owner=someone-else").text
    assert "Win back Q4" in client.get("/experiments?q=q4&owner=gin").text
    assert client.get("/experiments?status=bogus").status_code == 400


def test_experiment_list_json_and_csv(shop, as_user) -> None:
    _snapshot(shop)
    client = as_user("finn")
    data = client.get("/api/v1/experiments").json
    [row] = data["experiments"]
    assert row["key"] == EXPERIMENT and row["status"] == "stopped" and row["owner"] == "gina"
    assert row["srm"] == "ok" and row["guardrail_failures"] == ["coupon: unsubscribed"]
    assert sum(row["users_by_arm"].values()) == len(shop.outcomes) // 2
    table = list(csv.DictReader(io.StringIO(client.get("/experiments.csv").text)))
    assert [r["key"] for r in table] == [EXPERIMENT] and table[0]["status"] == "stopped"
    assert int(table[0]["users_control"]) == row["users_by_arm"]["control"]
    assert table[0]["guardrail_failures"] == "coupon: unsubscribed"


def test_overview_breaks_risk_down_by_stage_tier_reason(shop, as_user) -> None:
    client = as_user("stella")
    page = client.get("/overview").text
    for text in (COHORT, "by stage", "by tier", "by reason", "lapsing", "assortment", "1,200"):
        assert text in page
    rows = list(csv.DictReader(io.StringIO(client.get("/overview.csv").text)))
    stages = {r["value"]: int(r["users"]) for r in rows if r["dimension"] == "stage"}
    assert sum(stages.values()) == 1200 and set(stages) == {"new", "active", "lapsing"}
    data = client.get("/api/v1/overview").json
    assert data["cohorts"][0] == {**data["cohorts"][0], "cohort_key": COHORT, "users": 1200}


def test_results_without_a_snapshot_offer_a_refresh(as_user) -> None:
    page = as_user("gina").get("/experiments/wb-q4/results").text
    assert "No analysis snapshot with these options yet" in page and "Refresh analysis" in page
    assert as_user("gina").get("/experiments/wb-q4/results.csv").status_code == 404


def test_results_show_health_first_then_effects_matching_the_data(shop, as_user) -> None:
    _snapshot(shop)
    client = as_user("gina")
    page = client.get("/experiments/wb-q4/results").text
    assert page.index("Health checks") < page.index("Effects against control")
    retained = _rates(shop, "retained")
    # Relative effect = treated rate / control rate − 1 (stats/comparison.py convention), from the raw outcomes.
    for arm in ("coupon", "reco"):
        assert f"{retained[arm] / retained['control'] - 1:+.2%}" in page
    assert '<span class="badge fail">fail</span>' in page  # coupon × unsubscribed
    assert "<svg" in page and "<title>coupon · retained:" in page  # the forest plot with hover numbers
    rows = list(csv.DictReader(io.StringIO(client.get("/experiments/wb-q4/results.csv").text)))
    assert {(r["arm"], r["metric"], r["segment"]) for r in rows} == {
        (a, m, "all") for a in ("coupon", "reco") for m in ("retained", "unsubscribed")}
    coupon = next(r for r in rows if r["arm"] == "coupon" and r["metric"] == "retained")
    assert float(coupon["effect"]) == __import__("pytest").approx(retained["coupon"] / retained["control"] - 1)
    assert float(coupon["p_holm"]) >= float(coupon["p_value"])


def test_results_switches_read_their_own_snapshots(shop, as_user) -> None:
    _snapshot(shop, method="bayesian", segment_by="stage")
    client = as_user("gina")
    assert "No analysis snapshot" in client.get("/experiments/wb-q4/results?method=bayesian").text
    page = client.get("/experiments/wb-q4/results?method=bayesian&segment=stage").text
    assert "Chance to win" in page and "By stage" in page and "lapsing" in page
    data = client.get("/api/v1/experiments/wb-q4/results?method=bayesian&segment=stage").json
    assert data["snapshot"]["method"] == "bayesian" and data["snapshot"]["segment_by"] == "stage"
    assert json.dumps(data, allow_nan=False)  # strict JSON: no NaN or Infinity
    assert data["snapshot"]["report"]["results"][0]["comparison"]["p_value"] is None  # undefined for Bayesian


def test_finance_shows_cost_per_retained_margin_and_roi(shop, as_user) -> None:
    _snapshot(shop, segment_by="tier")
    page = as_user("finn").get("/experiments/wb-q4/finance?segment=tier").text
    retained = _rates(shop, "retained")
    n_coupon = int((shop.outcomes[shop.outcomes["metric"] == "retained"]["arm"] == "coupon").sum())
    # Cost per incremental retained user = spend / (n_t × (p_t − p_c)); every coupon user got one 8.00 delivery.
    extra = n_coupon * (retained["coupon"] - retained["control"])
    assert f"{8.0 * n_coupon / extra:,.2f}" in page
    # ROI = (40 × extra retained − cost) / cost, with the value per retained user the experiment was created with.
    assert f"{(40 * extra - 8.0 * n_coupon) / (8.0 * n_coupon):+.2%}" in page
    assert "Money by tier" in page and "cost per incremental retained user (Fieller interval)" in page
    data = as_user("finn").get("/api/v1/experiments/wb-q4/finance?segment=tier").json
    assert {m["arm_key"] for m in data["snapshot"]["report"]["economics"]} == {"coupon", "reco"}


def test_strategy_shows_arms_decisions_and_audit(shop, as_user) -> None:
    _snapshot(shop)
    page = as_user("stella").get("/experiments/wb-q4/strategy").text
    assert "Arms side by side" in page and "Declare the winner" in page and "No decision yet." in page
    assert "Audit trail" in page and ">gina<" in page  # created, started and stopped by gina
    data = as_user("stella").get("/api/v1/experiments/wb-q4/strategy").json
    assert [a["action"] for a in data["audit"]][:3] == ["create", "running", "assign"]


def test_strategy_of_a_concluded_experiment_points_at_its_decision(shop, as_user) -> None:
    from experiments.lifecycle import record_decision

    _snapshot(shop)
    record_decision(EXPERIMENT, "control", "nothing paid", "stella", db=shop.db)
    page = as_user("stella").get("/experiments/wb-q4/strategy").text
    assert "its winner is declared (see Decisions below)" in page and "once it is stopped" not in page


def test_strategy_recommends_the_winner_experiments_decisions_picks(shop, as_user) -> None:
    from experiments.analysis import analyze_experiment
    from experiments.decisions import decision_blockers, recommend_winner

    _snapshot(shop)
    report = analyze_experiment(EXPERIMENT, shop.db)  # the analysis `record_decision` checks blockers on
    expected = recommend_winner(report)
    client = as_user("stella")
    page = client.get("/experiments/wb-q4/strategy").text
    assert page.index("Arms side by side") < page.index("Recommended winner") < page.index("Declare the winner")
    assert f'<b class="winner">{escape(expected.winner_arm)}</b>' in page and str(escape(expected.rationale)) in page
    # The coupon arm lifts retention most but raises unsubscribes 2% → 12% (webui_shop.UNSUBSCRIBED): never recommended.
    assert expected.winner_arm != "coupon" and "coupon worsens unsubscribed" in expected.blocked
    for reason in expected.blocked:
        assert f"<li>{escape(reason)}</li>" in page
    assert str(escape("arm 'coupon' fails guardrail(s) unsubscribed")) in page  # declaring coupon needs an override
    assert f'value="{expected.winner_arm}" selected' in page  # the winner form starts on the recommendation
    data = client.get("/api/v1/experiments/wb-q4/strategy").json
    advice = data["recommendation"]
    assert (advice["winner_arm"], advice["rationale"], advice["blocked"]) == (
        expected.winner_arm, expected.rationale, list(expected.blocked))
    assert advice["blockers"] == {a.arm_key: decision_blockers(report, a.arm_key) for a in report.arms}
    with registry(shop.db) as database:  # a snapshot taken before recommendations were kept
        database.execute("UPDATE analysis_snapshots SET recommendation = NULL")
    page = client.get("/experiments/wb-q4/strategy").text
    assert "computed before recommendations were kept; refresh the analysis" in page
    assert client.get("/api/v1/experiments/wb-q4/strategy").json["recommendation"] is None


def test_models_page_lists_stored_models(as_user) -> None:
    client = as_user("gina")
    assert "No stored models yet" in client.get("/models").text
    assert client.get("/api/v1/models").json["models"] == []


def test_launch_page_offers_cohorts_treatments_metrics(as_user) -> None:
    client = as_user("gina")
    page = client.get("/launch").text
    assert "at-risk (1,200 users)" in page and "coupon_10 (8.00 each)" in page and "unsubscribed (lower is better)" in page
    choices = client.get("/api/v1/launch").json
    assert [t["key"] for t in choices["treatments"]] == ["coupon_10", "reco_email"]


def test_hostile_names_are_escaped_everywhere(shop, as_user) -> None:
    with registry(shop.db) as database:
        save_treatment(Treatment("t-x", HOSTILE, "other", 1.0), database)
        create_experiment(Experiment(key="evil", name=HOSTILE, owner='<img src=x onerror="alert(1)">',
                                     primary_metric="retained", target_cohort=COHORT,
                                     arms=(Arm("control", None, 0.5, True), Arm("arm-x", "t-x", 0.5)),
                                     hypothesis=HOSTILE), database, actor="gina")
    client = as_user("gina")
    for url in ("/experiments", "/experiments/evil/results", "/experiments/evil/finance", "/experiments/evil/strategy",
                "/experiments?q=" + HOSTILE):
        page = client.get(url).text
        assert HOSTILE not in page and "<img src=x" not in page, url
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get("/experiments").text
    assert json.loads(client.get("/api/v1/experiments").data)["experiments"][0]["name"] == HOSTILE


def test_refresh_makes_a_snapshot_under_the_user(shop, as_user) -> None:
    client = as_user("finn")
    response = post(client, "/experiments/wb-q4/refresh", {"method": "ttest", "cuped": "", "segment": "tier",
                                                           "next_page": "finance"})
    assert response.status_code == 302 and response.location.startswith("/experiments/wb-q4/finance?")
    page = client.get(response.location).text
    assert "Snapshot #1: registry-sqlite, ttest, by tier" in page and "by finn" in page
    with registry(shop.db) as database:
        actor, action = database.execute("SELECT actor, action FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert (actor, action) == ("finn", "snapshot")


def test_charts_draw_without_estimates_and_escape_labels() -> None:
    from webui.charts import forest_svg, line_svg

    empty = forest_svg([{"label": "a · retained", "value": None, "low": None, "high": None, "note": "no outcomes"}])
    assert "a · retained: no outcomes" in empty and "<svg" not in empty  # nothing to place: reasons as text
    one = forest_svg([{"label": HOSTILE, "value": 0.0, "low": None, "high": None}])
    assert HOSTILE not in one and "&lt;script&gt;" in one
    # An interval without an upper end (a Fieller interval when the uplift may be 0) runs off the axis with an arrow.
    unbounded = forest_svg([{"label": "x", "value": 10.0, "low": 4.0, "high": None}], percent=False)
    assert "[4, ∞]" in unbounded and "<path" in unbounded
    assert "nothing to draw yet" in line_svg([{"name": "a", "x": [], "y": []}], title="t")


def test_strategy_of_a_bayesian_snapshot_states_its_threshold(shop, as_user) -> None:
    from experiments.analysis import analyze_experiment
    from experiments.decisions import recommend_winner

    _snapshot(shop, method="bayesian")
    page = as_user("stella").get("/experiments/wb-q4/strategy?method=bayesian").text
    assert "chance to beat control at least 95 %" in page
    expected = recommend_winner(analyze_experiment(EXPERIMENT, shop.db, method="bayesian"))
    assert f'<b class="winner">{escape(expected.winner_arm)}</b>' in page
