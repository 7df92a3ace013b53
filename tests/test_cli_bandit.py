"""A bandit experiment end to end through the CLI (issue 26): `experiment create --bandit`, a programme whose cycles
(`cycle run`, i.e. programme.cycles.run_cycle) open weight periods, Thompson sampling moving the weights once
outcomes are imported, every period in the audit log with its posterior, users keeping their first arm, and the
per-period / combined analysis (`experiment bandit`)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import ok, run

from simulator.shop import generate_shop
from stats import srm

# The simulated truth of the outcomes imported below: share retained per arm (email is clearly the best net value:
# 200 x (0.70 - 0.30) - 0.5 per user, against 200 x (0.35 - 0.30) - 8 for the coupon).
RETAINED = {"control": 0.30, "coupon": 0.35, "email": 0.70}


@pytest.fixture(scope="module")
def bandit_shop(tmp_path_factory) -> tuple[Path, Path, pd.Timestamp]:
    """A 2,000-user shop with its events loaded, a churn model, the catalog, and a running bandit in a programme."""
    tmp = tmp_path_factory.mktemp("bandit")
    db = tmp / "registry.db"
    generated = generate_shop(2000, seed=11)
    events = tmp / "events.csv"
    generated.events.to_csv(events, index=False)
    last = pd.Timestamp(generated.events["ts"].max()).normalize()
    ok("churn", "load", "--events", events, "--db", db)
    ok("churn", "train", "--as-of", (last - pd.Timedelta(days=60)).date(), "--horizon-days", 60, "--name", "churn-b",
       "--db", db, "--model-dir", tmp / "models")
    ok("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", 8, "--db", db)
    ok("treatment", "add", "reco_email", "--kind", "recommendation", "--unit-cost", 0.5, "--db", db)
    ok("metric", "add", "retained", "--kind", "binary", "--db", db)
    printed = ok("experiment", "create", "wb-bandit", "--name", "Bandit", "--primary-metric", "retained",
                 "--arm", "control:-:0.2", "--arm", "coupon:coupon_10:0.4", "--arm", "email:reco_email:0.4",
                 "--value-per-retained", 200, "--bandit", "--floor", 0.1, "--burn-in", 1, "--layer", "bandit",
                 "--db", db)
    assert printed == ("bandit wb-bandit created as draft with arms control, coupon, email (control share 0.2, "
                       "floor 0.1, burn-in 1 period)\n")
    ok("experiment", "start", "wb-bandit", "--db", db)
    ok("programme", "create", "bandit-prog", "--holdout-share", 0.1, "--mode", "experiment", "--experiment",
       "wb-bandit", "--churn-model", "churn-b", "--max-users-per-cycle", 400, "--db", db)
    return db, tmp, last


def _import_outcomes(db: Path, tmp: Path, week: int) -> None:
    """Outcomes of every assigned user without one yet, drawn from RETAINED (seeded), imported as a file."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT user_id, arm_key FROM assignments a WHERE experiment_key = 'wb-bandit' AND NOT "
                            "EXISTS (SELECT 1 FROM outcomes o WHERE o.experiment_key = a.experiment_key AND "
                            "o.user_id = a.user_id) ORDER BY user_id").fetchall()
    rng = np.random.default_rng(week)
    frame = pd.DataFrame(rows, columns=["user_id", "arm"])
    frame["value"] = (rng.random(len(frame)) < frame["arm"].map(RETAINED)).astype(int)
    out = tmp / f"outcomes-{week}.csv"
    frame.assign(experiment_key="wb-bandit", metric="retained")[
        ["experiment_key", "user_id", "metric", "value"]].to_csv(out, index=False)
    ok("import", "outcomes", out, "--db", db)


def test_cycles_move_the_weights_and_record_each_period_with_its_posterior(bandit_shop) -> None:
    db, tmp, last = bandit_shop
    first_arms: dict[str, str] = {}
    for week in range(3):
        day = (last - pd.Timedelta(days=14 - 7 * week)).date()
        ok("cycle", "run", "bandit-prog", "--as-of", day, "--db", db)
        with sqlite3.connect(db) as conn:
            arms = dict(conn.execute("SELECT user_id, arm_key FROM assignments WHERE experiment_key = 'wb-bandit'"))
        assert all(arms[user] == arm for user, arm in first_arms.items())  # a user keeps the arm first given
        first_arms = arms
        _import_outcomes(db, tmp, week)
    with sqlite3.connect(db) as conn:
        periods = conn.execute("SELECT period, rule, weights, posterior FROM bandit_periods "
                               "WHERE experiment_key = 'wb-bandit' ORDER BY period").fetchall()
        audited = [json.loads(d) for (d,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'bandit_weights' AND object_key = 'wb-bandit' ORDER BY id")]
    assert [(p, rule) for p, rule, _, _ in periods] == [(1, "burn-in"), (2, "thompson"), (3, "thompson")]
    weights = [json.loads(w) for _, _, w, _ in periods]
    assert weights[0] == {"control": 0.2, "coupon": 0.4, "email": 0.4}  # the burn-in keeps the weights as defined
    for w in weights[1:]:
        assert w["control"] == 0.2 and min(w["coupon"], w["email"]) >= 0.1 - 1e-9  # control share, floor
        assert w["email"] > 0.6  # the clearly better net value takes most of the treatments' share
        assert sum(w.values()) == pytest.approx(1.0)
    # Every period is in the audit log with the posterior that set it.
    assert [a["period"] for a in audited] == [1, 2, 3] and [a["weights"] for a in audited] == weights
    posterior = audited[1]["posterior"]
    assert posterior["p_best"]["email"] > 0.99 and posterior["users_with_outcome"]["email"] > 0
    assert posterior["net_mean"]["email"] > posterior["net_mean"]["coupon"]
    # New users of a later period were hashed with that period's weights: email's share of them grew.
    with sqlite3.connect(db) as conn:
        starts = [s for (s,) in conn.execute("SELECT starts_at FROM bandit_periods WHERE experiment_key = 'wb-bandit' "
                                             "ORDER BY period")]
        late = conn.execute("SELECT arm_key, COUNT(*) FROM assignments WHERE experiment_key = 'wb-bandit' AND "
                            "assigned_at >= ? GROUP BY arm_key", (starts[1],)).fetchall()
    late_counts = dict(late)
    assert late_counts["email"] > 2 * late_counts["coupon"]
    _bandit_analysis_through_the_cli(bandit_shop)
    _a_period_opened_by_hand_without_users_is_left_out_of_the_combined_estimate(bandit_shop)


def _bandit_analysis_through_the_cli(bandit_shop) -> None:
    """After the three cycles above (one shop, one test, so no xdist worker sees a half-built registry)."""
    db, _, _ = bandit_shop
    printed = ok("experiment", "bandit", "wb-bandit", "--db", db)
    lines = printed.splitlines()
    assert lines[0] == "bandit wb-bandit [running]: control control, floor 0.1, burn-in 1; value per retained user 200"
    assert lines[1] == "weights over time:"
    assert [line.split()[0] for line in lines[3:6]] == ["1", "2", "3"]
    assert "burn-in" in lines[3] and "thompson" in lines[4]
    report = json.loads(ok("experiment", "bandit", "wb-bandit", "--json", "--db", db))
    assert [p["period"] for p in report["periods"]] == [1, 2, 3]
    assert all(p["srm_flagged"] is False for p in report["periods"])  # each period against its own weights
    assert sum(p["share"] for p in report["periods"]) == pytest.approx(1.0)
    by_arm = {a["arm_key"]: a for a in report["arms"]}
    email = by_arm["email"]
    # The truth the outcomes were drawn from: +0.40 retention for email, net 200 x 0.40 - 0.5 = 79.5 per user.
    assert email["comparison"]["ci_low"] < 0.40 < email["comparison"]["ci_high"]
    assert email["net_ci_low"] < 79.5 < email["net_ci_high"]
    assert email["economics"]["cost_per_retained"] == pytest.approx(
        email["cost"] / (email["users"] * email["comparison"]["effect"]))
    assert report["winner"] == "email" and "winner: email" in printed
    pooled = ok("analyze", "wb-bandit", "--db", db)  # the fixed-weight read says it is not the bandit's
    assert "'wb-bandit' is a bandit: its weights changed between periods" in pooled
    assert "winback experiment bandit wb-bandit" in pooled
    analysed = json.loads(ok("analyze", "wb-bandit", "--json", "--db", db))
    # SRM of a bandit: the arm sizes against Σ_p N_p · w_p / N, the shares its periods' weights imply (GrowthBook's
    # bandit SRM), not against the weights as defined (0.2/0.4/0.4, which email outgrew from period 2 on).
    periods = report["periods"]
    total = sum(sum(p["users"].values()) for p in periods)
    shares = [sum(sum(p["users"].values()) * p["weights"][arm] for p in periods) / total
              for arm in ("control", "coupon", "email")]
    counts = [sum(p["users"][arm] for p in periods) for arm in ("control", "coupon", "email")]
    assert analysed["report"]["srm_p_value"] == pytest.approx(srm(counts, shares), rel=1e-9)
    assert analysed["report"]["srm_flagged"] is False and srm(counts, [0.2, 0.4, 0.4]) < 0.05
    [health] = [c for c in analysed["health"]["checks"] if c["name"] == "srm"]
    assert health["status"] == "ok" and health["detail"]["p_value"] == pytest.approx(srm(counts, shares), rel=1e-9)
    shown = ok("experiment", "show", "wb-bandit", "--db", db)
    assert "  bandit: floor 0.1, burn-in 1; weights in force: control 0.2, coupon 0.1, email 0.7 " in shown
    refused = run("experiment", "bandit", "no-such", "--db", db)
    assert refused.exit_code == 1 and refused.output.startswith("Error: ")


def test_a_bandit_needs_a_value_and_floors_that_fit(bandit_shop) -> None:
    db, _, _ = bandit_shop
    no_value = run("experiment", "create", "wb-b2", "--name", "b", "--primary-metric", "retained", "--arm",
                   "control:-:0.2", "--arm", "coupon:coupon_10:0.4", "--arm", "email:reco_email:0.4", "--bandit",
                   "--db", db)
    assert no_value.output == ("Error: bandit 'wb-b2' needs --value-per-retained: it weighs arms by net value per user "
                               "(value x incremental retention - unit cost)\n")
    floors = run("experiment", "create", "wb-b2", "--name", "b", "--primary-metric", "retained", "--arm",
                 "control:-:0.6", "--arm", "coupon:coupon_10:0.2", "--arm", "email:reco_email:0.2", "--bandit",
                 "--floor", 0.3, "--value-per-retained", 10, "--db", db)
    assert floors.output == ("Error: bandit 'wb-b2': 2 treatments x floor 0.3 = 0.6 is more than the treatments' share "
                             "0.4 (1 - the control's weight); lower --floor\n")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM experiments WHERE key = 'wb-b2'").fetchone() == (0,)


def _a_period_opened_by_hand_without_users_is_left_out_of_the_combined_estimate(bandit_shop) -> None:
    db, _, _ = bandit_shop
    printed = ok("experiment", "bandit", "wb-bandit", "--update", "--db", db)
    assert printed.startswith("period 4 opened (thompson)\n")
    assert "note: periods 4 left out of the combined estimate: an arm had no user in them" in printed
    report = json.loads(ok("experiment", "bandit", "wb-bandit", "--json", "--db", db))
    assert report["periods"][-1]["share"] == 0 and report["periods"][-1]["srm_p_value"] is None
    assert report["winner"] == "email"  # the empty period changes nothing
