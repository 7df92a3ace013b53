"""Bandit weight periods in the registry (experiments.bandit_weights): what a bandit must be, periods that are
idempotent per cycle stamp, move forward, are append-only and audited, and the weights assignment uses."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from experiments.bandit_weights import (
    BanditSettings,
    create_bandit_experiment,
    get_bandit,
    list_periods,
    update_bandit_weights,
    weights_in_force,
)
from experiments.definitions import Arm, create_experiment, get_experiment, update_draft
from experiments.errors import ExperimentError
from experiments.imports import import_outcomes
from experiments.lifecycle import start_experiment
from experiments.targeting import assign_users

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _bandit(make_experiment, **kw):
    return make_experiment(key="bandit-1", value_per_retained=100.0, **kw)


def test_a_bandit_needs_a_value_a_binary_metric_two_treatments_and_floors_that_fit(catalog_db, make_experiment) -> None:
    with pytest.raises(ExperimentError, match="needs --value-per-retained"):
        create_bandit_experiment(make_experiment(key="b"), catalog_db)
    with pytest.raises(ExperimentError, match="primary metric 'revenue' must be a binary"):
        create_bandit_experiment(replace(_bandit(make_experiment), primary_metric="revenue"), catalog_db)
    two_arms = (Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.5))
    with pytest.raises(ExperimentError, match="at least two treatment arms"):
        create_bandit_experiment(replace(_bandit(make_experiment), arms=two_arms), catalog_db)
    with pytest.raises(ExperimentError, match=r"2 treatments x floor 0.4 = 0.8 is more than the treatments' share 0.6"):
        create_bandit_experiment(_bandit(make_experiment), catalog_db, BanditSettings(floor=0.4))
    assert get_bandit(catalog_db, "bandit-1") is None
    create_bandit_experiment(_bandit(make_experiment), catalog_db, BanditSettings(floor=0.1, burn_in=2), actor="ana")
    assert get_bandit(catalog_db, "bandit-1") == BanditSettings(floor=0.1, burn_in=2)


def test_periods_are_idempotent_per_stamp_move_forward_and_are_append_only(catalog_db, make_experiment) -> None:
    create_bandit_experiment(_bandit(make_experiment), catalog_db, BanditSettings(floor=0.1, burn_in=1))
    with pytest.raises(ExperimentError, match="is draft; its weights change only while it runs"):
        update_bandit_weights(catalog_db, "bandit-1", now=T0)
    start_experiment("bandit-1", catalog_db)
    assert weights_in_force(catalog_db, "bandit-1") is None  # no period yet: the arms' weights apply
    first = update_bandit_weights(catalog_db, "bandit-1", now=T0, actor="cycle 1")
    assert first is not None and (first.period, first.rule) == (1, "burn-in")
    assert first.weights == {"control": 0.4, "coupon": 0.3, "reco": 0.3}
    assert update_bandit_weights(catalog_db, "bandit-1", now=T0) == first  # a cycle run again: the same period
    with pytest.raises(ExperimentError, match="periods move forward in time"):
        update_bandit_weights(catalog_db, "bandit-1", now=T0 - timedelta(days=1))
    second = update_bandit_weights(catalog_db, "bandit-1", now=T0 + timedelta(days=7))
    assert second is not None and second.rule == "no outcomes yet" and second.weights == first.weights
    assert [p.period for p in list_periods(catalog_db, "bandit-1")] == [1, 2]
    with sqlite3.connect(catalog_db) as conn:
        audited = conn.execute("SELECT actor, detail FROM audit_log WHERE action = 'bandit_weights'").fetchall()
        assert audited[0][0] == "cycle 1" and [json.loads(d)["period"] for _, d in audited] == [1, 2]
        assert json.loads(audited[0][1])["weights"] == first.weights
        for statement in ("UPDATE bandit_periods SET weights = '{}'", "DELETE FROM bandit_periods"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    # A fixed-weight experiment has no periods and is left alone.
    create_experiment(make_experiment(key="fixed-1", layer="other"), catalog_db)
    start_experiment("fixed-1", catalog_db)
    assert update_bandit_weights(catalog_db, "fixed-1", now=T0) is None and weights_in_force(catalog_db, "fixed-1") is None


def test_thompson_periods_use_imported_outcomes_and_assignment_follows_them(catalog_db, make_experiment, tmp_path) -> None:
    create_bandit_experiment(_bandit(make_experiment), catalog_db, BanditSettings(floor=0.05, burn_in=1))
    start_experiment("bandit-1", catalog_db)
    update_bandit_weights(catalog_db, "bandit-1", now=T0)
    users = [f"u{i:04d}" for i in range(1500)]
    assign_users("bandit-1", users, db=catalog_db, now=T0)
    with sqlite3.connect(catalog_db) as conn:
        arms = dict(conn.execute("SELECT user_id, arm_key FROM assignments WHERE experiment_key = 'bandit-1'"))
    # reco retains 60% against 30% in the other arms, and costs 0.5 against the coupon's 8: it is the best net value.
    rows = ["experiment_key,user_id,metric,value"]
    for i, user in enumerate(sorted(arms)):
        share = 0.6 if arms[user] == "reco" else 0.3
        rows.append(f"bandit-1,{user},retained,{int((i * 7919) % 100 < share * 100)}")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("\n".join(rows) + "\n")
    import_outcomes(outcomes, catalog_db)
    period = update_bandit_weights(catalog_db, "bandit-1", now=T0 + timedelta(days=7))
    assert period is not None and period.rule == "thompson"
    assert period.weights["control"] == 0.4 and period.weights["coupon"] == pytest.approx(0.05, abs=1e-6)
    assert period.weights["reco"] == pytest.approx(0.55, abs=1e-6)
    assert period.posterior["p_best"]["reco"] == 1.0
    assert period.posterior["unit_cost"] == {"control": 0.0, "coupon": 8.0, "reco": 0.5}
    assert weights_in_force(catalog_db, "bandit-1") == pytest.approx([0.4, 0.05, 0.55])
    later = [f"v{i:04d}" for i in range(2000)]
    assign_users("bandit-1", later, db=catalog_db, now=T0 + timedelta(days=7))
    with sqlite3.connect(catalog_db) as conn:
        counts = dict(conn.execute("SELECT arm_key, COUNT(*) FROM assignments WHERE user_id LIKE 'v%' GROUP BY 1"))
        kept = dict(conn.execute("SELECT user_id, arm_key FROM assignments WHERE user_id LIKE 'u%'"))
    assert kept == arms  # the first users keep their arms
    assert counts["reco"] / 2000 == pytest.approx(0.55, abs=0.04) and counts["coupon"] / 2000 < 0.08


def test_an_edited_bandit_draft_is_checked_again_before_it_starts(catalog_db, make_experiment) -> None:
    create_bandit_experiment(_bandit(make_experiment), catalog_db, BanditSettings(floor=0.25))
    update_draft("bandit-1", catalog_db, arms=(Arm("control", None, 0.6, True), Arm("coupon", "coupon_10", 0.2),
                                               Arm("reco", "reco_email", 0.2)))
    with pytest.raises(ExperimentError, match=r"2 treatments x floor 0.25 = 0.5 is more than the treatments' share 0.4"):
        start_experiment("bandit-1", catalog_db)
    assert get_experiment("bandit-1", catalog_db).status == "draft"
