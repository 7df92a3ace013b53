"""Third walk through the pages as growth, finance and strategy: each test pins one fixed defect.

The shop is `webui_shop.build_shop`: wb-q4 is stopped and its coupon arm fails the unsubscribe guardrail
(planted rates 0.12 against 0.02 in control, `webui_shop.UNSUBSCRIBED`).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from webui_client import post
from webui_shop import write_scores

from experiments.db import registry
from experiments.definitions import list_experiments
from experiments.snapshots import take_snapshot
from webui.charts import decile_svg, line_svg, qini_svg

LAUNCH = {  # a launch form that plans and creates a two-arm draft on the shop's cohort
    "key": "wb-walk3", "name": "Walk 3", "cohort": "at-risk", "layer": "walk3", "arm_key_0": "control",
    "arm_weight_0": "0.5", "arm_key_1": "coupon", "arm_treatment_1": "coupon_10", "arm_weight_1": "0.5",
    "primary_metric": "retained", "baseline": "0.3",
}


def _keys(db: Path) -> set[str]:
    with registry(db) as database:
        return {e.key for e in list_experiments(database)}


def test_the_power_plan_refuses_no_traffic_instead_of_a_500_or_negative_days(as_user) -> None:
    client = as_user("gina")
    for typed in ("0", "-5"):
        page = post(client, "/launch", {**LAUNCH, "action": "plan", "daily_traffic": typed})
        assert page.status_code == 400 and "<h1>Launch an experiment</h1>" in page.text
        assert f"eligible users per day must be a number &gt; 0, got {float(typed)}" in page.text
    assert post(client, "/launch", {**LAUNCH, "action": "plan", "daily_traffic": "100"}).status_code == 200


def test_a_zero_minimum_effect_is_refused_not_silently_replaced_by_ten_percent(as_user) -> None:
    client = as_user("gina")
    page = post(client, "/launch", {**LAUNCH, "action": "plan", "mde": "0"})
    assert page.status_code == 400 and "the minimum detectable effect must be &gt; 0" in page.text
    empty = post(client, "/launch", {**LAUNCH, "action": "plan", "mde": ""})  # empty still means the default
    assert empty.status_code == 200 and "To detect a +10.00% relative change" in empty.text


def test_a_key_that_cannot_be_a_web_address_is_refused_for_experiments_and_plans(shop, as_user, tmp_path) -> None:
    before = _keys(shop.db)
    gina = as_user("gina")
    for key in ("../etc", "a/b", ".."):
        page = post(gina, "/launch", {**LAUNCH, "action": "create", "key": key})
        assert page.status_code == 400 and "cannot name an experiment: no &#39;/&#39;" in page.text
    scores = tmp_path / "scores.csv"
    write_scores(scores)
    finn = as_user("finn")
    for key in ("", "../plan"):
        with open(scores, "rb") as handle:
            page = post(finn, "/allocate", {"key": key, "budget": "500", "holdout": "0.1", "seed": "0",
                                            "scores": (handle, "scores.csv")}, content_type="multipart/form-data")
        assert page.status_code == 400 and "plan key: " in page.text
    assert _keys(shop.db) == before  # nothing was recorded


def test_a_refused_allocation_records_no_plan(shop, as_user, tmp_path) -> None:
    """A budget of 1e308 is finite, but the frontier's 1.5x and 2x steps overflow: the form said 'refused' while
    the plan had already been recorded as a running experiment."""
    scores = tmp_path / "scores.csv"
    write_scores(scores)
    with open(scores, "rb") as handle:
        page = post(as_user("finn"), "/allocate", {"key": "plan-huge", "budget": "1e308", "holdout": "0.1",
                                                   "seed": "0", "scores": (handle, "scores.csv")},
                    content_type="multipart/form-data")
    assert page.status_code == 400 and "budget must be a non-negative number" in page.text
    assert "plan-huge" not in _keys(shop.db)


def test_a_refused_decision_keeps_what_was_typed_and_names_the_override_box(shop, as_user) -> None:
    with registry(shop.db) as database:
        take_snapshot(database, "wb-q4", actor="stella")
    client = as_user("stella")
    page = post(client, "/experiments/wb-q4/decide", {"winner": "coupon", "rationale": "most retained <b>users</b>"})
    assert page.status_code == 400 and "<h2>Declare the winner</h2>" in page.text  # the form, not an error page
    assert "fails guardrail(s) unsubscribed" in page.text and "the override box on the strategy page" in page.text
    assert "most retained &lt;b&gt;users&lt;/b&gt;</textarea>" in page.text
    assert re.search(r'<option value="coupon" selected>', page.text)
    done = post(client, "/experiments/wb-q4/decide", {"winner": "coupon", "rationale": "most retained",
                                                      "override": "legal approved the unsubscribe rate"})
    assert done.status_code == 302
    # The decision shows it was an override, and why: the table showed only the rationale.
    decisions = re.search(r"<h2>Decisions</h2>.*?</table>", client.get("/experiments/wb-q4/strategy").text, re.S).group(0)
    assert '<span class="badge fail">override</span> legal approved the unsubscribe rate' in decisions


def test_finance_shows_each_arms_guardrail_verdicts_beside_its_roi(shop, as_user) -> None:
    with registry(shop.db) as database:
        take_snapshot(database, "wb-q4", actor="finn")
    page = as_user("finn").get("/experiments/wb-q4/finance").text
    assert re.search(r'<span class="badge fail"[^>]*>unsubscribed fail</span>', page)
    reco = re.search(r"<tr><td>reco</td>.*?</tr>", page, re.S).group(0)  # reco: 0.02 as in control, not a fail
    assert re.search(r">unsubscribed (pass|warn)</span>", reco) and "fail" not in reco
    assert "coupon failed a guardrail: its ROI does not count the harm the guardrail measures" in page


def test_a_draft_without_users_does_not_claim_everyone_was_assigned_on_day_all(shop, as_user) -> None:
    gina = as_user("gina")
    post(gina, "/launch", {**LAUNCH, "action": "create"})
    assert post(gina, "/experiments/wb-walk3/refresh").status_code == 302
    page = gina.get("/experiments/wb-walk3/results").text
    assert "assigned on all" not in page and "No users assigned yet." in page


def test_extra_retained_users_are_counted_to_one_decimal_not_four_significant_digits(shop, as_user) -> None:
    """`num` gave 74.07 beside 9.774 and -0.4286 in one column (four significant digits): a count of users
    reads as one decimal whatever its size."""
    with registry(shop.db) as database:
        snapshot = take_snapshot(database, "wb-q4", actor="finn")
    page = as_user("finn").get("/experiments/wb-q4/finance").text
    for money in snapshot.report["economics"]:
        e = money["economics"]
        row = re.search(rf"<tr><td>{money['arm_key']}</td>.*?</tr>", page, re.S).group(0)
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert cells[3] == f"{e['incremental_retained']:,.1f}"
        assert cells[4] == f"[{e['incremental_retained_ci_low']:,.1f}, {e['incremental_retained_ci_high']:,.1f}]"


def test_a_recorded_plan_is_listed_with_its_users_per_arm_at_once(shop, as_user, tmp_path) -> None:
    """Starting an experiment takes a snapshot so the list shows users per arm; recording a plan (also a running
    experiment with assignments) did not, and the list said 'no snapshot' / 'not analysed'."""
    scores = tmp_path / "scores.csv"
    write_scores(scores)
    finn = as_user("finn")
    with open(scores, "rb") as handle:
        page = post(finn, "/allocate", {"key": "plan-listed", "budget": "500", "holdout": "0.2", "seed": "0",
                                        "scores": (handle, "scores.csv")}, content_type="multipart/form-data")
    assert page.status_code == 200
    counts = {arm: int(n.replace(",", "")) for arm, n in re.findall(r"<tr><td>(\w+)</td><td class=\"num\">([\d,]+)</td></tr>",
                                                                   page.text)}
    listing = finn.get("/experiments").text
    row = re.search(r"plan-listed</span></td>.*?</tr>", listing, re.S).group(0)
    assert "no snapshot" not in row and "not analysed" not in row
    assert f"holdout {counts['holdout']:,}" in row and f"coupon_10 {counts['coupon_10']:,}" in row


def test_axis_labels_are_not_clipped_at_the_bottom_of_a_chart() -> None:
    """The x-axis label sits on the chart's last pixel row: in Chromium its descenders ('p', 'g', 'y', '(') were
    cut off under every decile, Qini and line chart (seen on the models page)."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("needs Debian's chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    rows = [{"decile": d, "observed": 0.1 - d / 100, "ci_low": -0.1, "ci_high": 0.2, "predicted": 0.05,
             "calibrated": 0.04} for d in range(1, 11)]
    charts = [decile_svg(rows, title="uplift by decile"),
              qini_svg([{"learner": "s", "share": [0, 0.5, 1], "gain": [0, 3, 5]}], title="Qini curve"),
              line_svg([{"name": "targeted", "x": [1, 2, 3], "y": [1, 2, 3]}], title="frontier", x_label="budget (EUR)")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--headless"])
        page = browser.new_page()
        page.set_content(f"<html><body>{''.join(charts)}</body></html>")
        clipped = page.evaluate("""() => [...document.querySelectorAll('svg')].flatMap(svg => {
            const bottom = svg.viewBox.baseVal.height;
            return [...svg.querySelectorAll('text')].filter(t => { const b = t.getBBox(); return b.y + b.height > bottom; })
                .map(t => t.textContent); })""")
        browser.close()
    assert clipped == []


def test_bayesian_risk_reads_in_the_effects_units_not_scientific_notation(shop, as_user) -> None:
    """Risk (the expected loss) showed as 8.14e-06 beside 0.106 (three significant digits of a relative effect):
    it now reads like the effect it is a loss of, a percentage for relative effects."""
    with registry(shop.db) as database:
        snapshot = take_snapshot(database, "wb-q4", actor="stella", method="bayesian")
    page = as_user("stella").get("/experiments/wb-q4/results?method=bayesian").text
    assert "Risk (expected loss)</th>" in page and "e-0" not in page
    for m in snapshot.report["results"]:
        c = m["comparison"]
        row = re.search(rf"<tr><td>{m['arm_key']}</td><td>{m['metric']}.*?</tr>", page, re.S).group(0)
        assert f'<td class="num">{c["risk"]:.1%}</td>' in row


def test_p_values_keep_three_significant_digits_so_rounding_never_crosses_alpha() -> None:
    from webui.formatting import pvalue

    # 0.0503 is not significant at 0.05; three decimals showed it as "0.050" beside "no significant lift".
    assert pvalue(0.0503) == "0.0503"
    assert pvalue(0.0499) == "0.0499"
    assert pvalue(0.5) == "0.500" and pvalue(1.0) == "1.00"
    assert pvalue(0.0004) == "<0.001" and pvalue(float("nan")) == "–"
