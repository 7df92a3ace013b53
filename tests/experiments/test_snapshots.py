"""Analysis snapshots (stored once per refresh, read by pages), the experiment list read from them, risk breakdown."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from seeded_registry import seed_registry

from experiments.analysis import analyze_experiment
from experiments.cohort_summary import risk_breakdown
from experiments.cohorts import write_cohort
from experiments.db import open_registry
from experiments.listing import experiment_listing
from experiments.snapshots import latest_snapshot, snapshot_history, store_snapshot, take_snapshot


@pytest.fixture
def seeded(tmp_path):
    users = seed_registry(tmp_path / "r.db")
    database = open_registry(tmp_path / "r.db")
    yield database, users
    database.conn.close()


def test_a_snapshot_stores_the_analysis_as_strict_json(seeded) -> None:
    database, _ = seeded
    snapshot = take_snapshot(database, "exp1", method="bayesian", segment_by="stage", actor="ana")
    report = analyze_experiment("exp1", database, method="bayesian", segment_by="stage")
    stored = {(r["arm_key"], r["metric"]): r["comparison"] for r in snapshot.report["results"]}
    for result in report.results:
        assert stored[(result.arm_key, result.metric)]["effect"] == pytest.approx(result.comparison.effect)
        assert stored[(result.arm_key, result.metric)]["p_value"] is None  # nan for Bayesian → null
    assert (snapshot.engine, snapshot.method, snapshot.segment_by, snapshot.created_by) == (
        "registry-sqlite", "bayesian", "stage", "ana")
    assert len(snapshot.rows) == len(report.to_frame())
    assert {c["name"] for c in snapshot.health} >= {"srm", "control_treated", "no_outcome"}
    assert {row["arm"] for row in snapshot.cumulative} == {"coupon", "email"}
    raw = database.execute("SELECT report, rows, health, cumulative FROM analysis_snapshots").fetchone()
    for text in raw:
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # no NaN/Infinity
    assert database.execute("SELECT actor, action FROM audit_log ORDER BY id DESC LIMIT 1").fetchone() == (
        "ana", "snapshot")


def test_pages_find_the_newest_snapshot_with_their_options(seeded) -> None:
    database, _ = seeded
    first = take_snapshot(database, "exp1", actor="a")
    cuped = take_snapshot(database, "exp1", cuped=True, actor="a")
    second = store_snapshot(database, analyze_experiment("exp1", database), actor="b")
    assert latest_snapshot(database, "exp1", method="ttest", cuped=False).id == second.id != first.id
    assert latest_snapshot(database, "exp1", method="ttest", cuped=True).id == cuped.id
    assert latest_snapshot(database, "exp1", method="bayesian") is None
    assert latest_snapshot(database, "exp1", segment_by="tier") is None
    assert [h["id"] for h in snapshot_history(database, "exp1")] == [second.id, cuped.id, first.id]


def test_the_experiment_list_reads_snapshots_not_raw_rows(seeded, tmp_path) -> None:
    database, users = seeded
    [before] = experiment_listing(database)
    assert before.snapshot_id is None and before.users_by_arm == {} and before.srm is None
    take_snapshot(database, "exp1", actor="a")
    [row] = experiment_listing(database)
    # Arm sizes as drawn by seed_registry (numpy), independent of the services.
    assert row.users_by_arm == {arm: int((users.arm == i).sum()) for i, arm in enumerate(("control", "coupon", "email"))}
    assert row.srm == "ok" and row.status == "running"
    assert experiment_listing(database, "stopped") == []
    assert experiment_listing(database, owner="nobody") == []
    assert [r.key for r in experiment_listing(database, text="EXP")] == ["exp1"]


def test_risk_breakdown_by_stage_tier_and_reason(tmp_path) -> None:
    frame = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "risk": [0.2, 0.6, 0.9, None],
                          "stage": ["new", "new", "lapsing", "lapsing"], "tier": ["high", "regular", "regular", None],
                          "reason": ["price"] * 4})
    write_cohort(frame, "c9", tmp_path / "r.db")
    database = open_registry(tmp_path / "r.db")
    table = risk_breakdown(database, "c9").set_index(["dimension", "value"])
    # By hand: new = a, b (mean risk 0.4, one at ≥ 0.5); lapsing = c, d (d unscored: mean 0.9 over c only).
    assert table.loc[("stage", "new"), ["users", "mean_risk", "high_risk_users"]].tolist() == [2, pytest.approx(0.4), 1]
    assert table.loc[("stage", "lapsing"), ["users", "mean_risk", "high_risk_users"]].tolist() == [2, 0.9, 1]
    assert table.loc[("tier", "(none)"), "users"] == 1 and table.loc[("reason", "price"), "users"] == 4
    assert risk_breakdown(database, "no-such-cohort").empty
    database.conn.close()


def test_a_snapshot_keeps_the_recommended_winner_and_what_blocks_each_arm(seeded) -> None:
    from experiments.decisions import decision_blockers, recommend_winner

    database, _ = seeded
    snapshot = take_snapshot(database, "exp1", actor="a")
    report = analyze_experiment("exp1", database)  # what `record_decision` checks its blockers on
    expected = recommend_winner(report)
    advice = snapshot.recommendation
    assert (advice["winner_arm"], advice["rationale"], advice["blocked"]) == (
        expected.winner_arm, expected.rationale, list(expected.blocked))
    assert advice["blockers"] == {a.arm_key: decision_blockers(report, a.arm_key) for a in report.arms}
    # A snapshot stored before migration 22 has no recommendation: read as None, never an error.
    database.execute("UPDATE analysis_snapshots SET recommendation = NULL")
    assert latest_snapshot(database, "exp1").recommendation is None
