"""The whole programme loop through the CLI on a shop that reacts (issue 22): `simulate weekly` makes the shop,
each `cycle run --events` reads last week's file and writes a send list, `simulate week --sent` moves the shop
with it, `churn load --append` adds the horizon's weeks, and `simulate truth` is held against `programme report`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from cli_runner import ok, run

from simulator.weekly import WeeklyShop, WeeklyShopConfig
from simulator.weekly_files import load_shop, save_shop


def test_a_saved_shop_steps_exactly_as_the_one_in_memory(tmp_path: Path) -> None:
    """Save after week 1, load, step on: the same events, churn and state as never saving (the rng state included)."""
    config = WeeklyShopConfig(n_users=800, weeks=3, seed=4)
    memory, saved = WeeklyShop(config), WeeklyShop(config)
    sent = np.zeros(800, dtype=bool)
    sent[::7] = True
    memory.step(sent=sent)
    saved.step(sent=sent)
    save_shop(saved, tmp_path / "shop")
    loaded = load_shop(tmp_path / "shop")
    a, b = memory.step(sent=~sent), loaded.step(sent=~sent)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert np.array_equal(a.churned, b.churned) and np.array_equal(memory.spend, loaded.spend)
    assert loaded.driven and loaded.week == memory.week == 2


def test_the_programme_loop_through_the_cli_on_a_shop_that_reacts(tmp_path: Path) -> None:
    shop, db = tmp_path / "shop", tmp_path / "registry.db"
    made = ok("simulate", "weekly", "--users", 3000, "--weeks", 6, "--seed", 2, "--out", shop)
    assert made.startswith("weekly shop: 3,000 users, ") and "6 weeks to run" in made
    ok("churn", "load", "--events", shop / "history.csv", "--db", db)
    ok("churn", "train", "--as-of", "2025-12-07", "--horizon-days", 14, "--name", "weekly-churn",
       "--target-precision", 0.4, "--db", db, "--model-dir", tmp_path / "models")
    ok("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", 8, "--db", db)
    ok("metric", "add", "retained", "--kind", "binary", "--db", db)
    ok("experiment", "create", "wb-weekly", "--name", "weekly", "--primary-metric", "retained",
       "--arm", "control:-:0.2", "--arm", "coupon:coupon_10:0.8", "--layer", "weekly", "--db", db)
    ok("experiment", "start", "wb-weekly", "--db", db)
    ok("programme", "create", "loop", "--holdout-share", 0.3, "--experiment", "wb-weekly", "--churn-model",
       "weekly-churn", "--horizon-days", 14, "--flag-tier-share", 0.1, "--retrain-days", 0, "--db", db)
    events: list[Path] = []
    for week in range(4):
        day = (pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=week)).date()
        send = tmp_path / f"send-{week}.csv"
        ok("cycle", "run", "loop", "--as-of", day, "--out", send, "--db", db, *(["--events", events[-1]] if events
                                                                                else []))
        moved = ok("simulate", "week", shop, "--sent", send)
        treated = pd.read_csv(send, dtype=str)["treatment_key"].notna().sum()
        assert moved.startswith(f"week {week + 1} of 6 from {day}: {treated:,} users sent a treatment, ")
        events.append(shop / f"events-week-{week:03d}.csv")
    for week in (4, 5):  # the churn horizon after the last cycle: no cycle, the events only
        ok("simulate", "week", shop)
        events.append(shop / f"events-week-{week:03d}.csv")
    for path in events[-3:]:
        ok("churn", "load", "--events", path, "--append", "--db", db)
    again = ok("churn", "load", "--events", events[-1], "--append", "--db", db)
    assert "was appended before: nothing added" in again
    report = json.loads(ok("programme", "report", "loop", "--json", "--db", db))
    truth = {row["tier"]: row for row in json.loads(ok("simulate", "truth", shop, "--programme", "loop", "--json",
                                                       "--db", db))}
    assert report["pending_users"] == 0 and report["matured_users"] > 0
    assert truth["all"]["users"] == report["overall"]["users_programme"]
    assert truth["all"]["true_reduction"] > 0  # the coupons the cycles sent did cut churn in the shop
    for tier in report["tiers"]:
        if tier["users_holdout"] and tier["tier"] in truth:
            assert truth[tier["tier"]]["users"] == tier["users_programme"]
    printed = ok("simulate", "truth", shop, "--programme", "loop", "--db", db)
    assert printed.splitlines()[-1].startswith("all      true churn reduction +")
    done = run("simulate", "week", shop)
    assert done.exit_code == 1 and "all 6 weeks have run" in done.output


def test_bad_folders_and_send_lists_are_one_line(tmp_path: Path) -> None:
    empty = run("simulate", "week", tmp_path)
    assert empty.exit_code == 1 and empty.output.startswith(f"Error: {tmp_path} does not hold a weekly shop")
    ok("simulate", "weekly", "--users", 200, "--weeks", 2, "--out", tmp_path / "s")
    bad = tmp_path / "send.csv"
    pd.DataFrame({"user_id": ["w000001", "nobody"], "treatment_key": ["coupon_10", "coupon_10"]}).to_csv(bad, index=False)
    refused = run("simulate", "week", tmp_path / "s", "--sent", bad)
    assert refused.output == (f"Error: {bad}, row 3, column user_id: 'nobody' is not a user of this shop "
                              "(1 such rows)\n")
    assert load_shop(tmp_path / "s").week == 0  # nothing moved
    no_column = tmp_path / "ids.csv"
    pd.DataFrame({"user_id": ["w000001"]}).to_csv(no_column, index=False)
    assert "missing treatment_key" in run("simulate", "week", tmp_path / "s", "--sent", no_column).output
