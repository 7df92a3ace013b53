"""Health checks: each fault is planted in a real registry through the services, and reported with its exact count."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from experiments.analysis import analyze_experiment
from experiments.cohorts import write_cohort
from experiments.db import open_registry, transaction
from experiments.definitions import create_experiment
from experiments.health import health_checks
from experiments.imports import import_deliveries, import_outcomes
from experiments.lifecycle import start_experiment
from experiments.optouts import add_opt_outs
from experiments.programmes import Programme, in_holdout, save_programme
from experiments.targeting import arm_of_users, assign_users
from tests.experiments.seeded_registry import seed_registry

COHORT = [f"u{i:04d}" for i in range(1000)]
OUTSIDE = [f"x{i:03d}" for i in range(25)]


def stamp(delta_days: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(days=delta_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def planted(catalog_db, make_experiment, tmp_path):
    """A running experiment on cohort c1 with every fault planted, and the users each fault concerns."""
    write_cohort(pd.DataFrame({"user_id": COHORT, "risk": 0.5, "stage": "at_risk", "tier": "regular",
                               "reason": "price_sensitive"}), "c1", catalog_db)
    create_experiment(make_experiment(cohort="c1"), catalog_db)
    start_experiment("winback-1", catalog_db)
    assign_users("winback-1", COHORT + OUTSIDE, db=catalog_db)
    arms = arm_of_users("winback-1", catalog_db)
    by_arm = {arm: group["user_id"].tolist() for arm, group in arms.groupby("arm_key")}
    control, coupon, reco = by_arm["control"], by_arm["coupon"], by_arm["reco"]
    sent = stamp(0.01)
    rows = [(u, "coupon_10") for u in control[:40]]            # 40 control users treated
    rows += [(u, "coupon_10") for u in coupon[30:]]             # 30 coupon users undelivered
    rows += [(u, "coupon_10", stamp(0.015)) for u in coupon[30:60]]  # a second send counts the user once
    rows += [(u, "reco_email") for u in coupon[30:37]]          # 7 coupon users also sent reco's treatment
    rows += [(u, "reco_email") for u in reco[: len(reco) // 2]]  # reco delivered to half
    deliveries = pd.DataFrame([(*r, sent)[:3] for r in rows], columns=["user_id", "treatment_key", "sent_at"]).assign(
        experiment_key="winback-1", cost=1.0)
    deliveries.to_csv(tmp_path / "deliveries.csv", index=False)
    import_deliveries(tmp_path / "deliveries.csv", catalog_db)
    everyone = arms["user_id"].tolist()
    with_outcome = everyone[12:]                                # 12 users without any outcome
    outcomes = pd.DataFrame({"experiment_key": "winback-1", "user_id": with_outcome, "metric": "retained",
                             "value": 1, "observed_at": stamp(0.02)})
    early = with_outcome[:5]                                    # 5 users with an outcome before assignment
    outcomes.loc[outcomes["user_id"].isin(early), "observed_at"] = stamp(-1)
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    import_outcomes(tmp_path / "outcomes.csv", catalog_db)
    add_opt_outs(control[100:103], "asked", catalog_db)        # 3 users opt out after assignment
    return catalog_db, {"reco_undelivered": len(reco) - len(reco) // 2}


def test_each_planted_fault_is_reported_with_its_exact_count(planted):
    db, expected = planted
    health = health_checks(db, "winback-1")
    counts = {check.name: (check.status, check.count) for check in health.checks}
    assert counts["control_treated"] == ("fail", 40)
    assert counts["cross_arm"] == ("fail", 7)
    assert counts["undelivered"] == ("warn", 30 + expected["reco_undelivered"])
    assert counts["no_outcome"] == ("warn", 12)
    assert counts["outside_cohort"] == ("warn", 25)
    assert counts["outcome_before_assignment"] == ("fail", 5)
    assert counts["opted_out"] == ("warn", 3)
    assert counts["srm"][0] == "ok"
    assert not health.ok and len(health.problems) == 7
    assert health.check("control_treated").message == "40 control users were sent a treatment"
    assert "reco 50." in health.check("undelivered").message or "reco 49." in health.check("undelivered").message


def test_sample_ratio_mismatch_counts_misplaced_users(tmp_path):
    db = tmp_path / "r.db"
    seed_registry(db, n=4000)
    with transaction(open_registry(db)) as conn:
        conn.execute("DELETE FROM assignments WHERE arm_key = 'coupon' AND CAST(substr(user_id, 2) AS INTEGER) % 3 = 0")
        counts = dict(conn.execute("SELECT arm_key, COUNT(*) FROM assignments GROUP BY 1").fetchall())
    total = sum(counts.values())
    # Misplaced users: half the total absolute gap between observed and planned counts (weights 0.5/0.25/0.25).
    planned = {"control": 0.5, "coupon": 0.25, "email": 0.25}
    misplaced = round(sum(abs(counts[a] - total * w) for a, w in planned.items()) / 2)
    check = health_checks(db, "exp1").check("srm")
    assert check.status == "fail" and check.count == misplaced
    assert check.message.startswith("sample ratio mismatch: p = ")


def test_no_users_and_no_outcomes_are_not_checked_instead_of_ok(draft_db):
    start_experiment("winback-1", draft_db)
    health = health_checks(draft_db, "winback-1")
    assert health.check("srm").status == "not_checked"
    assert health.check("srm").message == "no users assigned yet"
    assert health.check("no_outcome").message == "no outcomes imported yet"
    report = analyze_experiment("winback-1", draft_db)
    assert report.srm_flagged is False


def test_treatment_users_assigned_before_a_programme_holdout_existed_are_counted(planted):
    db, _ = planted
    assert health_checks(db, "winback-1").check("programme_holdout").status == "not_checked"
    programme = save_programme(db, Programme("retain", holdout_share=0.2, experiment="winback-1"))
    arms = arm_of_users("winback-1", db)
    treated = arms.loc[arms["arm_key"] != "control", "user_id"]
    # Expected count from the programme's own hash (GrowthBook v2, seed "programme:retain"), not from the check.
    expected = int(in_holdout(programme, treated).sum())
    assert 0 < expected < len(treated)
    check = health_checks(db, "winback-1").check("programme_holdout")
    assert (check.status, check.count) == ("warn", expected)
    assert check.message == f"{expected:,} treatment-arm users are in a programme's holdout"
    assert set(check.detail["users"]) <= set(treated[in_holdout(programme, treated)])
    # Later assignments go through the send gate: no new holdout user enters a treatment arm.
    newcomers = [f"n{i:04d}" for i in range(400)]
    assign_users("winback-1", newcomers, db=db)
    after = health_checks(db, "winback-1").check("programme_holdout").count
    assert after == expected
