"""End to end in real headless Chromium (Debian's build, driven by Playwright) against `winback serve`.

growth launches an experiment on the cohort and starts it, the CRM's outcomes arrive (imported from files),
growth stops it and reads the results, finance reads the money, strategy declares the winner.
"""
from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from webui_shop import PASSWORD, build_shop, import_results, write_scores

from experiments.definitions import get_experiment
from experiments.lifecycle import list_decisions
from webui.config import resolve_secret_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(db: Path) -> Iterator[str]:
    """`winback serve` over registry `db` on a free loopback port, stopped on exit; yields the base address."""
    port = _free_port()
    resolve_secret_key(db, create=True)  # the session key `winback serve` reads beside the registry
    winback = Path(sys.executable).with_name("winback")
    process = subprocess.Popen([str(winback), "serve", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"winback serve exited: {process.stdout.read() if process.stdout else ''}") from None
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("winback serve did not listen within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`winback serve` over a fresh shop registry (catalog, cohort, users; no experiment)."""
    shop = build_shop(tmp_path, experiment=False)
    with serving(shop.db) as base:
        yield base, shop.db


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _login(browser, base: str, name: str):
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation prompts of start, stop and decide
    page.goto(f"{base}/experiments")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/experiments")
    return page


def _allocate(finance, tmp_path: Path, shots: Path) -> None:
    """finance runs a budget allocation from the experiment and downloads the plan the CRM sends."""
    finance.click("text=run an allocation with this experiment's guardrails")
    write_scores(tmp_path / "scores.csv")  # the data team's uplift scores for the cohort
    finance.set_input_files("input[name=scores]", str(tmp_path / "scores.csv"))
    finance.fill("input[name=key]", "plan-e2e")
    finance.fill("input[name=budget]", "1500")
    finance.fill("input[name=holdout]", "0.2")
    finance.click("button:has-text('Run the allocation')")
    assert "Plan plan-e2e" in finance.inner_text("section.plan-result")
    with finance.expect_download() as download:
        finance.click("text=Download the plan")
    plan_csv = tmp_path / "plan.csv"
    download.value.save_as(plan_csv)
    lines = plan_csv.read_text().splitlines()
    assert lines[0] == "user_id,arm,treatment_key,assigned_at" and len(lines) > 10
    assert {line.split(",")[1] for line in lines[1:]} <= {"holdout", "coupon_10", "reco_email"}
    finance.screenshot(path=str(shots / "allocation.png"), full_page=True)


def test_launch_watch_and_decide_in_a_real_browser(server, browser, tmp_path: Path) -> None:
    base, db = server
    shots = tmp_path / "shots"
    shots.mkdir()

    growth = _login(browser, base, "gina")
    growth.click("nav >> text=Launch")
    growth.fill("input[name=key]", "wb-e2e")
    growth.fill("input[name=name]", "Browser launch")
    growth.select_option("select[name=cohort]", "at-risk")
    growth.fill("input[name=layer]", "e2e")
    growth.select_option("select[name=arm_treatment_1]", "coupon_10")
    growth.fill("input[name=arm_key_1]", "coupon")
    growth.select_option("select[name=arm_treatment_2]", "reco_email")
    growth.fill("input[name=arm_key_2]", "reco")
    for i, weight in enumerate(("0.5", "0.25", "0.25")):
        growth.fill(f"input[name=arm_weight_{i}]", weight)
    growth.check("input[name=guardrails][value=unsubscribed]")
    growth.fill("input[name=value_per_retained]", "40")
    growth.fill("input[name=baseline]", "0.3")
    growth.fill("input[name=daily_traffic]", "300")
    growth.click("button:has-text('Compute the power plan')")
    assert "control users and" in growth.inner_text("section.plan")
    growth.click("button:has-text('Create the draft')")
    growth.wait_for_url(f"{base}/experiments/wb-e2e/results")
    growth.check("form[action$='/start'] input[name=confirm]")
    growth.click("button:has-text('Start and assign the cohort')")
    assert "1,200 users of cohort at-risk assigned" in growth.inner_text(".flash")
    assert get_experiment("wb-e2e", db).status == "running"

    import_results(db, tmp_path, "wb-e2e", seed=11)  # the CRM's deliveries and outcomes arrive as files

    growth.check("form[action$='/stop'] input[name=confirm]")
    growth.click("button:has-text('Stop the experiment')")
    growth.click("button:has-text('Refresh analysis')")
    assert "New analysis snapshot" in growth.inner_text(".flash")
    # 2 arms × 2 metrics, hover for numbers: the primary metric and the guardrail each on their own chart
    assert sum(chart.locator("circle").count() for chart in growth.locator("svg.chart").all()) == 4
    assert "Sample ratio" in growth.inner_text("section.health")
    with growth.expect_download() as download:
        growth.click("text=Download as CSV")
    results_csv = tmp_path / "results.csv"
    download.value.save_as(results_csv)
    assert results_csv.read_text().splitlines()[0].startswith("experiment_key,method,cuped,segment_by,segment,arm,")
    growth.screenshot(path=str(shots / "results.png"), full_page=True)

    finance = _login(browser, base, "finn")
    finance.goto(f"{base}/experiments/wb-e2e/finance")
    assert "cost per incremental retained user" in finance.inner_text("main")
    finance.screenshot(path=str(shots / "finance.png"), full_page=True)
    if importlib.util.find_spec("uplift.planning") is not None:  # the plan services of the targeting branch
        _allocate(finance, tmp_path, shots)

    strategy = _login(browser, base, "stella")
    strategy.goto(f"{base}/experiments/wb-e2e/strategy")
    strategy.select_option("select[name=winner]", "reco")
    strategy.fill("textarea[name=rationale]", "retention up at 0.50 a message, no guardrail hurt")
    strategy.click("button:has-text('Declare the winner')")
    assert "Winner of 'wb-e2e': reco." in strategy.inner_text(".flash")
    [decision] = list_decisions("wb-e2e", db)
    assert (decision.winner_arm, decision.decided_by) == ("reco", "stella")
    assert "stella" in strategy.inner_text("table.audit")
    strategy.screenshot(path=str(shots / "strategy.png"), full_page=True)
    assert all(path.stat().st_size > 10_000 for path in shots.iterdir())
