"""`winback simulate shop|outcomes` end to end on real files and a real registry in tmp_path."""
from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from winback.cli import cli


def ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_simulated_deliveries_cost_what_the_experiment_froze_not_the_demo_catalog(tmp_path):
    """The demo catalog prices coupon_10 at 8; a shop that prices it at 12 must see deliveries at 12, or the
    analysis's cost per retained user is a third too low (the walk's 6,000-user shop: 3,576 = 447 x 8)."""
    db, shop = str(tmp_path / "registry.db"), tmp_path / "shop"
    ok("simulate", "shop", "--users", "300", "--seed", "3", "--as-of", "2026-06-30", "--out", str(shop))
    ok("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", "12", "--db", db)
    ok("treatment", "add", "care_content", "--kind", "care_content", "--unit-cost", "0.3", "--db", db)
    ok("metric", "add", "retained", "--kind", "binary", "--db", db)
    ok("experiment", "create", "wb", "--name", "Win back", "--primary-metric", "retained", "--arm", "control:-:0.34",
       "--arm", "coupon:coupon_10:0.33", "--arm", "care:care_content:0.33", "--db", db)
    ok("experiment", "start", "wb", "--db", db)
    users = tmp_path / "users.csv"
    pd.read_parquet(shop / "users_truth.parquet")[["user_id"]].to_csv(users, index=False)
    ok("experiment", "assign", "wb", "--users", str(users), "--db", db)
    ok("treatment", "update", "coupon_10", "--unit-cost", "99", "--db", db)  # after start: the experiment keeps 12
    ok("simulate", "outcomes", "wb", "--shop", str(shop), "--out", str(tmp_path / "results"), "--db", db)
    deliveries = pd.read_csv(tmp_path / "results" / "deliveries.csv")
    assert deliveries.groupby("treatment_key")["cost"].unique().map(list).to_dict() == {
        "care_content": [0.3], "coupon_10": [12.0]}


def test_simulate_shop_says_its_events_end_the_day_before_as_of(tmp_path):
    result = CliRunner().invoke(cli, ["simulate", "shop", "--users", "300", "--seed", "2", "--as-of", "2026-06-30",
                                      "--out", str(tmp_path / "shop")])
    assert result.exit_code == 0, result.output
    last = pd.read_csv(tmp_path / "shop" / "events.csv", usecols=["ts"])["ts"].max()[:10]
    assert last == "2026-06-29"  # the shop's today has no events yet
    assert f"to {last} (the day before --as-of 2026-06-30)" in result.output
