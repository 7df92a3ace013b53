"""What a walk through the pages as growth, finance and strategy found: each test pins one fixed defect."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from webui_client import login, post
from webui_shop import PASSWORD

from experiments.db import registry
from experiments.snapshots import take_snapshot
from experiments.users import add_user
from webui import create_app
from webui.charts import forest_svg

LAUNCH = {  # the launch form of test_actions.py, trimmed to what creating a draft needs
    "key": "wb-walk", "name": "Walk", "cohort": "at-risk", "layer": "walk",
    "arm_key_0": "control", "arm_weight_0": "0.5", "arm_key_1": "coupon", "arm_treatment_1": "coupon_10",
    "arm_weight_1": "0.5", "primary_metric": "retained", "action": "create",
}


def test_an_unknown_experiment_is_not_found_on_every_page_and_its_json(as_user) -> None:
    client = as_user("stella")
    for path in ("results", "finance", "strategy"):
        page = client.get(f"/experiments/no-such/{path}")
        assert page.status_code == 404 and "404 · Not Found" in page.text
        assert "unknown experiment &#39;no-such&#39;" in page.text and "Traceback" not in page.text
        api = client.get(f"/api/v1/experiments/no-such/{path}")
        assert api.status_code == 404 and api.json["message"].startswith("unknown experiment 'no-such'")


def test_a_weight_that_is_not_a_finite_number_names_the_arm(as_user) -> None:
    client = as_user("gina")
    for typed in ("abc", "nan", "inf", ""):
        response = post(client, "/launch", {**LAUNCH, "arm_weight_1": typed})
        assert response.status_code == 400
        assert f"arm &#39;coupon&#39;: the weight must be a number, got &#39;{typed}&#39;" in response.text
    assert client.get("/experiments/wb-walk/results").status_code == 404  # nothing was created


def test_a_chart_note_too_long_for_the_plot_is_cut_with_the_whole_note_on_hover() -> None:
    note = "undefined: control mean is 0, so a relative lift has no meaning " * 3
    svg = forest_svg([{"label": "a", "value": 0.1, "low": 0.0, "high": 0.2}, {"label": "b", "value": None, "note": note}],
                     width=520)
    shown = re.search(r"<title>[^<]*</title>([^<]*)</text>", svg).group(1)
    assert shown.endswith("…") and len(shown) <= (520 - 190 - 24) // 6
    assert f"<title>no estimate: {note}</title>" in svg


def test_the_list_tells_a_failed_guardrail_from_one_not_yet_judged(shop, as_user) -> None:
    client = as_user("gina")
    post(client, "/launch", {**LAUNCH, "guardrails": "unsubscribed"})
    post(client, "/experiments/wb-walk/start", {"confirm": "yes"})  # running, no outcomes: its verdict is undefined
    with registry(shop.db) as database:  # the shop's experiment: its coupon arm fails the unsubscribe guardrail
        take_snapshot(database, "wb-q4", actor="gina")
        take_snapshot(database, "wb-walk", actor="gina")
    page = client.get("/experiments").text
    badges = re.findall(r'<span class="badge[^"]*"[^>]*>([^<]*guardrail[^<]*)</span>', page)
    assert sorted(badges) == ["guardrail fail", "guardrails not judged 1"]
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(client.get("/experiments.csv").text))}
    assert rows["wb-walk"]["guardrails_undefined"] == "1" and rows["wb-q4"]["guardrails_fail"] == "1"


def test_finance_links_an_allocation_with_the_guardrails_of_a_stopped_experiment_only(shop, as_user) -> None:
    client = as_user("finn")
    stopped = client.get("/experiments/wb-q4/finance").text  # the shop's experiment is stopped
    assert "run an allocation with this experiment's guardrails" in stopped
    assert "/allocate?source_experiment=wb-q4" in stopped and "this experiment's model" not in stopped
    gina = as_user("gina")
    post(gina, "/launch", LAUNCH)
    draft = client.get("/experiments/wb-walk/finance").text
    assert "source_experiment=wb-walk" not in draft and "This experiment is draft" in draft


def test_finance_by_segment_says_why_a_figure_is_undefined(shop, as_user) -> None:
    with registry(shop.db) as database:
        snapshot = take_snapshot(database, "wb-q4", actor="finn", segment_by="tier")
    reasons = {s["economics"]["reason"] for s in snapshot.report["segments"] if s.get("economics")} - {""}
    assert reasons  # the small shop leaves some tier × arm without a defined cost per retained user
    page = as_user("finn").get("/experiments/wb-q4/finance?segment=tier").text
    assert "Money by tier" in page and "Cost per incremental retained user" in page
    for reason in reasons:  # each undefined cost or ROI of a segment shows the service's reason beside it
        assert reason.replace("'", "&#39;") in page


def test_an_empty_catalog_says_what_to_add_before_launching_or_allocating(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    with registry(db) as database:
        add_user(database, "ada", PASSWORD, "admin", actor="test setup")
    client = create_app({"DB": str(db), "SECRET_KEY": "test-secret", "TESTING": True}).test_client()
    login(client, "ada")
    launch = client.get("/launch").text
    # The web names its own page, not a CLI command (the browser can finish the loop now).
    assert "The catalog has no treatments and no metrics yet" in launch and 'href="/catalog">catalog</a>' in launch
    allocation = client.get("/allocate").text
    assert "no treatments yet, so there is nothing to allocate" in allocation and "winback" not in allocation
    assert client.get("/experiments").status_code == 200 and "No experiments match" in client.get("/experiments").text


def test_money_carries_the_shop_currency_when_one_is_set(shop, app, monkeypatch) -> None:
    with registry(shop.db) as database:
        take_snapshot(database, "wb-q4", actor="finn")
    client = app.test_client()
    login(client, "finn")
    plain = client.get("/experiments/wb-q4/finance").text
    assert "EUR" not in plain and re.search(r'<td class="num">[\d,]+\.\d\d</td>', plain)  # no currency: plain
    monkeypatch.setenv("WINBACK_CURRENCY", "EUR")
    priced = create_app({"DB": str(shop.db), "SECRET_KEY": "test-secret", "TESTING": True})
    client = priced.test_client()
    login(client, "finn")
    page = client.get("/experiments/wb-q4/finance").text
    # The per-arm cost and the cost-per-retained interval: the amount, then the currency once.
    assert re.search(r'<td class="num">[\d,]+\.\d\d EUR</td>', page)
    assert re.search(r"\[[^\]]+\] EUR</td>", page)


def test_a_refused_form_comes_back_with_what_was_typed_and_the_reason(as_user, tmp_path) -> None:
    client = as_user("gina")
    page = post(client, "/launch", {**LAUNCH, "name": "Spring win-back, take 2", "arm_weight_1": "lots"})
    assert page.status_code == 400 and "<h1>Launch an experiment</h1>" in page.text  # the form, not an error page
    assert "arm &#39;coupon&#39;: the weight must be a number, got &#39;lots&#39;" in page.text
    assert 'value="Spring win-back, take 2"' in page.text and 'value="walk"' in page.text  # the name and the layer
    finn = as_user("finn")
    scores = tmp_path / "scores.csv"
    scores.write_text("user_id,coupon_10\nu1,0.1\n")
    with open(scores, "rb") as handle:
        page = post(finn, "/allocate", {"key": "plan-typed", "budget": "-5", "holdout": "0.1", "seed": "0",
                                        "scores": (handle, "scores.csv")}, content_type="multipart/form-data")
    assert page.status_code == 400 and "<h1>Budget allocation</h1>" in page.text
    assert "choose the scores file again" in page.text and 'value="plan-typed"' in page.text
    # The refusal names the form's field, not the CLI option the shared service words it with ("--budget must ...").
    assert "the budget must be a non-negative number, got -5.0" in page.text and "--budget" not in page.text
    with open(scores, "rb") as handle:
        page = post(finn, "/allocate", {"key": "plan-typed", "budget": "50", "holdout": "1.5", "seed": "0",
                                        "scores": (handle, "scores.csv")}, content_type="multipart/form-data")
    assert page.status_code == 400 and "the holdout share must be at least 0 and below 1, got 1.5" in page.text
    # Not a form problem: the wrong role still gets the 403 page.
    assert post(as_user("stella"), "/launch", {**LAUNCH, "key": "wb-strat"}).status_code == 403
