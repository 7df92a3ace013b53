"""Screenshots of every web UI page for docs/screenshots/ and the README, taken in headless Chromium.

    python scripts/webui_screenshots.py [--users 6000] [--out docs/screenshots]

Builds the demo registry in a temporary folder (`winback serve --demo`'s registry, logins and snapshots),
serves it with `winback serve` on a free loopback port and visits each page as the demo admin: launches
and starts a second experiment, and runs a budget allocation on the simulator's true uplift of the
cohort (oracle scores, standing in for `winback uplift score` output).
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from experiments.cohorts import read_cohort
from simulator.experiment import true_uplift
from simulator.shop import generate_shop
from webui.config import resolve_secret_key
from winback.web_demo import build_web_demo

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
KEY = "demo-winback"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise SystemExit("winback serve exited early") from None
            time.sleep(0.3)
    raise SystemExit("winback serve did not start")


@contextmanager
def _signed_in(db: Path, user: str, password: str, login_shot: Path | None = None) -> Iterator[tuple[Any, str]]:
    """`winback serve` on the registry at a free loopback port, a Chromium page signed in as `user`, and the base
    URL; `login_shot` screenshots the sign-in page first. The server stops on the way out."""
    resolve_secret_key(db, create=True)  # the session key `winback serve` reads beside the registry
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("winback")), "serve", "--db", str(db),
                               "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(port, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
            page.goto(f"{base}/login")
            if login_shot is not None:
                page.screenshot(path=str(login_shot))
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{base}/experiments")
            yield page, base
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _shoot(page, url: str, path: Path) -> None:
    page.goto(url)
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path}")


def _launch(page, base: str, out: Path) -> None:
    """Fill the launch form, show the power plan (screenshot), create the draft and start it."""
    page.goto(f"{base}/launch")
    page.fill("input[name=key]", "wb-spring")
    page.fill("input[name=name]", "Spring win-back")
    page.select_option("select[name=cohort]", "demo-at-risk")
    page.fill("input[name=layer]", "spring")
    page.fill("input[name=arm_key_1]", "coupon")
    page.select_option("select[name=arm_treatment_1]", "coupon_10")
    page.fill("input[name=arm_key_2]", "reco")
    page.select_option("select[name=arm_treatment_2]", "reco_email")
    for i, weight in enumerate(("0.5", "0.25", "0.25")):
        page.fill(f"input[name=arm_weight_{i}]", weight)
    page.check("input[name=guardrails][value=unsubscribed]")
    page.fill("input[name=daily_traffic]", "150")
    page.click("button:has-text('Compute the power plan')")
    page.screenshot(path=str(out / "launch.png"), full_page=True)
    print(f"wrote {out / 'launch.png'}")
    page.click("button:has-text('Create the draft')")
    page.screenshot(path=str(out / "draft.png"), full_page=True)
    print(f"wrote {out / 'draft.png'}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.check("form[action$='/start'] input[name=confirm]")
    page.click("button:has-text('Start and assign the cohort')")


def _data_page(page, base: str, workdir: Path, out: Path) -> None:
    """The outcomes of the started experiment as the CRM would return them, uploaded and previewed."""
    import csv
    import io

    sent = list(csv.DictReader(io.StringIO(page.request.get(f"{base}/experiments/wb-spring/assignments.csv").text())))
    outcomes = workdir / "spring-outcomes.csv"
    with open(outcomes, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["experiment_key", "user_id", "metric", "value"])
        writer.writerows(["wb-spring", row["user_id"], "retained", int(i % 3 == 0)] for i, row in enumerate(sent))
    page.goto(f"{base}/data")
    page.select_option("select[name=kind]", "outcomes")
    page.set_input_files("input[name=file]", str(outcomes))
    page.click("button:has-text('Check the file')")
    page.screenshot(path=str(out / "data.png"), full_page=True)
    print(f"wrote {out / 'data.png'}")


def _weekly_programme(db: Path) -> None:
    """Four weekly cycles of a programme over the demo shop, for the Programme page."""
    import pandas as pd

    from experiments.definitions import Arm, Experiment, create_experiment
    from experiments.lifecycle import start_experiment
    from experiments.programmes import Programme, save_programme
    from programme.cycles import run_cycle

    create_experiment(Experiment(key="wb-weekly", name="Weekly win-back", primary_metric="retained", layer="weekly",
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.5))), db)
    start_experiment("wb-weekly", db)
    save_programme(db, Programme(name="winback-2027", holdout_share=0.1, experiment="wb-weekly",
                                 churn_model="demo-churn", max_users_per_cycle=400, treatments=("coupon_10",)))
    as_of = pd.Timestamp(read_cohort("demo-at-risk", db)["as_of"].iloc[0])
    for weeks in (3, 2, 1, 0):
        run_cycle(db, "winback-2027", str((as_of - pd.Timedelta(days=7 * weeks)).date()))


def _programme_on_weekly_shop(workdir: Path, out: Path, users: int) -> None:
    """The Programme page of a programme whose shop reacts to its treatments: twelve real weekly cycles on
    `simulator/weekly.py`'s shop (coupon users follow the coupon's true effect), served as the finance role."""
    from experiments.db import registry
    from experiments.users import add_user
    from simulator.weekly import WeeklyShopConfig
    from simulator.weekly_programme import NAME, run_weekly_programme

    run = run_weekly_programme(workdir / "weekly", WeeklyShopConfig(n_users=users, seed=0, holdout_share=0.2),
                               max_users_per_cycle=users // 8, progress=True)
    with registry(run.db) as database:
        add_user(database, "fiona", "a long enough password", "finance", actor="screenshots")
    with _signed_in(run.db, "fiona", "a long enough password") as (page, base):
        _shoot(page, f"{base}/programmes/{NAME}", out / "programme-weekly.png")


def _bandit_results(workdir: Path, out: Path) -> None:
    """A bandit's results page: a 2,000-user shop, a bandit (control 0.2, coupon and e-mail 0.4 each) in a programme,
    three weekly cycles, each followed by its users' outcomes (retained: control 30%, coupon 35%, e-mail 70%),
    all through the CLI; served as the strategy role."""
    import numpy as np
    import pandas as pd
    from click.testing import CliRunner

    from experiments.db import registry
    from experiments.users import add_user
    from winback.cli import cli

    def ok(*args: object) -> None:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        if result.exit_code:
            raise SystemExit(result.output)

    folder = workdir / "bandit"
    folder.mkdir()
    db, shop = folder / "registry.db", generate_shop(2000, seed=11)
    shop.events.to_csv(folder / "events.csv", index=False)
    last = pd.Timestamp(shop.events["ts"].max()).normalize()
    ok("churn", "load", "--events", folder / "events.csv", "--db", db)
    ok("churn", "train", "--as-of", (last - pd.Timedelta(days=60)).date(), "--horizon-days", 60, "--name", "churn-b",
       "--db", db, "--model-dir", folder / "models")
    ok("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", 8, "--db", db)
    ok("treatment", "add", "reco_email", "--kind", "recommendation", "--unit-cost", 0.5, "--db", db)
    ok("metric", "add", "retained", "--kind", "binary", "--db", db)
    ok("experiment", "create", "wb-bandit", "--name", "Bandit", "--primary-metric", "retained", "--arm", "control:-:0.2",
       "--arm", "coupon:coupon_10:0.4", "--arm", "email:reco_email:0.4", "--value-per-retained", 200, "--bandit",
       "--floor", 0.1, "--burn-in", 1, "--layer", "bandit", "--db", db)
    ok("experiment", "start", "wb-bandit", "--db", db)
    ok("programme", "create", "bandit-prog", "--holdout-share", 0.1, "--experiment", "wb-bandit", "--churn-model",
       "churn-b", "--max-users-per-cycle", 400, "--db", db)
    retained = {"control": 0.30, "coupon": 0.35, "email": 0.70}
    for week in range(3):
        ok("cycle", "run", "bandit-prog", "--as-of", (last - pd.Timedelta(days=14 - 7 * week)).date(), "--db", db)
        with registry(db) as database:
            rows = database.execute("SELECT user_id, arm_key FROM assignments a WHERE experiment_key = 'wb-bandit' "
                                    "AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.experiment_key = "
                                    "a.experiment_key AND o.user_id = a.user_id) ORDER BY user_id").fetchall()
        frame = pd.DataFrame(rows, columns=["user_id", "arm"])
        frame["value"] = (np.random.default_rng(week).random(len(frame)) < frame["arm"].map(retained)).astype(int)
        frame.assign(experiment_key="wb-bandit", metric="retained")[["experiment_key", "user_id", "metric", "value"]] \
            .to_csv(folder / f"outcomes-{week}.csv", index=False)
        ok("import", "outcomes", folder / f"outcomes-{week}.csv", "--db", db)
    with registry(db) as database:
        add_user(database, "sara", "a long enough password", "strategy", actor="screenshots")
    with _signed_in(db, "sara", "a long enough password") as (page, base):
        _shoot(page, f"{base}/experiments/wb-bandit/results", out / "bandit-results.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=6000, help="shop users the demo simulates")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "screenshots")
    parser.add_argument("--weekly-users", type=int, default=20_000, help="users of the weekly shop's programme")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="winback-shots-"))
    _programme_on_weekly_shop(workdir, args.out, args.weekly_users)
    _bandit_results(workdir, args.out)
    db = workdir / "registry.db"
    demo = build_web_demo(db, n_users=args.users, progress=True)
    _weekly_programme(db)
    admin, (_, password) = next((n, v) for n, v in demo.logins.items() if v[0] == "admin")
    with _signed_in(db, admin, password, login_shot=args.out / "login.png") as (page, base):
        _launch(page, base, args.out)
        shots = {
            "experiments": "/experiments",
            "overview": "/overview",
            "results": f"/experiments/{KEY}/results?segment=stage",
            "finance": f"/experiments/{KEY}/finance?segment=stage",
            "strategy": f"/experiments/{KEY}/strategy",
            "models": "/models",
            "programme": "/programmes/winback-2027",
        }
        for name, path in shots.items():
            _shoot(page, base + path, args.out / f"{name}.png")
        _data_page(page, base, workdir, args.out)
        for name in ("catalog", "account"):
            _shoot(page, f"{base}/{name}", args.out / f"{name}.png")
        page.goto(f"{base}/allocate?source_experiment={KEY}")
        page.select_option("select[name=model]", "demo-uplift")
        page.select_option("select[name=cohort]", "demo-at-risk")
        page.fill("input[name=key]", "plan-from-model")
        page.fill("input[name=budget]", "3000")
        page.click("button:has-text('Run the allocation')")
        page.screenshot(path=str(args.out / "allocation-model.png"), full_page=True)
        print(f"wrote {args.out / 'allocation-model.png'}")
        scores = workdir / "scores.csv"
        users = generate_shop(args.users, seed=7).users
        cohort = read_cohort("demo-at-risk", db)["user_id"]
        true_uplift(users[users["user_id"].isin(cohort)]).to_csv(scores, index=False)
        page.goto(f"{base}/allocate?source_experiment={KEY}")
        page.set_input_files("input[name=scores]", str(scores))
        page.fill("input[name=key]", "plan-spring")
        page.fill("input[name=budget]", str(5 * len(cohort)))
        page.fill("input[name=value_per_retained]", "120")
        page.click("button:has-text('Run the allocation')")
        page.screenshot(path=str(args.out / "allocation.png"), full_page=True)
        print(f"wrote {args.out / 'allocation.png'}")


if __name__ == "__main__":
    main()
