"""The registry's workflow rules: names validated at the door, drafts editable, starts freeze costs and metric
kinds, imports listed and undone, decisions refused on failed guardrails unless overridden."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import analyze_experiment
from experiments.audit_log import read_audit_log
from experiments.catalog import Metric, save_metric, update_treatment
from experiments.db import open_registry
from experiments.definitions import build_arms, create_experiment, delete_draft, get_experiment, update_draft
from experiments.errors import ExperimentError, ImportDataError
from experiments.imports import import_outcomes, list_imports, undo_import
from experiments.lifecycle import list_decisions, record_decision, start_experiment, stop_experiment
from experiments.targeting import arm_of_users, assign_users

USERS = [f"{i:05d}" for i in range(3000)]


@pytest.mark.parametrize("change, message", [
    (dict(primary_metric="retainedd"),
     "experiment 'winback-1', primary metric: unknown metric 'retainedd' (did you mean 'retained'?); known metrics: "
     "retained, revenue, unsubscribed; declare it first with `winback metric add`"),
    (dict(guardrail_metrics=("unsubscribd",)),
     "experiment 'winback-1', guardrail: unknown metric 'unsubscribd' (did you mean 'unsubscribed'?); known metrics: "
     "retained, revenue, unsubscribed; declare it first with `winback metric add`"),
    (dict(target_cohort="nonexistent-cohort"),
     "experiment 'winback-1', target cohort: unknown cohort 'nonexistent-cohort'; known cohorts: none; "
     "flag one with `winback churn flag --cohort NAME`"),
])
def test_typos_are_refused_with_the_closest_match(catalog_db, make_experiment, change, message):
    definition = make_experiment()
    with pytest.raises(ExperimentError) as error:
        create_experiment(definition.__class__(**{**definition.__dict__, **change}), catalog_db)
    assert str(error.value) == message
    assert open_registry(catalog_db).execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)


def test_arms_are_parsed_once_for_every_front_door():
    arms = build_arms(["hold:-:0.5", "coupon:coupon_10:0.5"], control="hold")
    assert [(a.key, a.treatment, a.weight, a.is_control) for a in arms] == [
        ("hold", None, 0.5, True), ("coupon", "coupon_10", 0.5, False)]
    with pytest.raises(ExperimentError, match="control 'x' is not one of the arms: hold, coupon"):
        build_arms(["hold:-:0.5", "coupon:coupon_10:0.5"], control="x")
    with pytest.raises(ExperimentError, match="must look like NAME:TREATMENT:WEIGHT"):
        build_arms(["hold-0.5"])


def test_drafts_can_be_edited_and_deleted_and_both_are_audited(draft_db):
    updated = update_draft("winback-1", draft_db, name="Renamed", arms=build_arms(["c:-:0.5", "v:vip_care:0.5"]))
    assert updated.name == "Renamed" and [a.key for a in updated.arms] == ["c", "v"]
    edit = next(e for e in read_audit_log(draft_db, object_key="winback-1") if e.action == "edit")
    assert set(json.loads(edit.detail)) == {"name", "arms"}
    with pytest.raises(ExperimentError, match="unknown treatment 'vip'"):
        update_draft("winback-1", draft_db, arms=build_arms(["c:-:0.5", "v:vip:0.5"]))
    delete_draft("winback-1", draft_db)
    with pytest.raises(ExperimentError, match="unknown experiment 'winback-1'"):
        get_experiment("winback-1", draft_db)
    assert [e.action for e in read_audit_log(draft_db, object_key="winback-1")][-1] == "delete"


def test_started_experiments_cannot_be_edited_or_deleted(draft_db):
    start_experiment("winback-1", draft_db)
    with pytest.raises(ExperimentError, match="experiment 'winback-1' is running; only drafts can be edited"):
        update_draft("winback-1", draft_db, name="x")
    with pytest.raises(ExperimentError, match="only drafts can be deleted"):
        delete_draft("winback-1", draft_db)


def test_a_running_experiment_keeps_its_unit_costs_and_metric_kinds(draft_db):
    start_experiment("winback-1", draft_db)
    assign_users("winback-1", USERS, db=draft_db)
    before = analyze_experiment("winback-1", draft_db)
    update_treatment("coupon_10", draft_db, unit_cost=123.0)  # 8.00 when the experiment started
    save_metric(Metric("unsubscribed", "continuous"), draft_db)
    after = analyze_experiment("winback-1", draft_db)
    coupon = next(a for a in after.arms if a.arm_key == "coupon")
    assert coupon.cost_source == "unit_cost" and coupon.cost == pytest.approx(8.0 * coupon.n)
    assert [a.cost for a in after.arms] == [a.cost for a in before.arms]
    assert after.result("coupon", "unsubscribed").kind == "binary"


@pytest.fixture
def with_outcomes(draft_db, tmp_path):
    start_experiment("winback-1", draft_db)
    assign_users("winback-1", USERS, db=draft_db)
    arms = arm_of_users("winback-1", draft_db)
    rng = np.random.default_rng(4)
    lift = arms["arm_key"].map({"control": 0.0, "coupon": 0.15, "reco": 0.05}).to_numpy()
    frame = pd.DataFrame({"experiment_key": "winback-1", "user_id": arms["user_id"], "metric": "retained",
                          "value": (rng.random(len(arms)) < 0.3 + lift).astype(int)})
    frame.to_csv(tmp_path / "retained.csv", index=False)
    import_outcomes(tmp_path / "retained.csv", draft_db)
    return draft_db, arms, tmp_path


def test_imports_are_listed_and_undone(with_outcomes):
    db, arms, tmp_path = with_outcomes
    unsub = pd.DataFrame({"experiment_key": "winback-1", "user_id": arms["user_id"], "metric": "unsubscribed",
                          "value": 0})
    unsub.to_csv(tmp_path / "unsub.csv", index=False)
    summary = import_outcomes(tmp_path / "unsub.csv", db)
    batches = list_imports(db, "winback-1")
    assert [(b.id, b.kind, b.inserted) for b in batches] == [(summary.import_id, "outcomes", 3000), (1, "outcomes", 3000)]
    undone = undo_import(summary.import_id, db)
    assert undone.undone_at is not None
    count = open_registry(db).execute("SELECT metric, COUNT(*) FROM outcomes GROUP BY 1").fetchall()
    assert count == [("retained", 3000)]
    with pytest.raises(ImportDataError, match=f"import {summary.import_id}: already undone"):
        undo_import(summary.import_id, db)
    actions = [e.action for e in read_audit_log(db, object_key="winback-1")]
    assert actions[-3:] == ["import outcomes", "import outcomes", "undo import outcomes"]
    # Re-importing the undone file brings the rows back (idempotent import, new batch).
    assert import_outcomes(tmp_path / "unsub.csv", db).inserted == 3000


def test_an_outcome_for_an_unknown_metric_is_refused_naming_row_and_column(with_outcomes):
    db, arms, tmp_path = with_outcomes
    pd.DataFrame({"experiment_key": "winback-1", "user_id": arms["user_id"][:3], "metric": ["retained", "retainde",
                                                                                            "retained"],
                  "value": 1}).to_csv(tmp_path / "typo.csv", index=False)
    with pytest.raises(ImportDataError) as error:
        import_outcomes(tmp_path / "typo.csv", db)
    assert str(error.value) == (f"{tmp_path / 'typo.csv'}, row 2, column 'metric': unknown metric 'retainde' "
                                "(did you mean 'retained'?); known metrics: retained, revenue, unsubscribed; declare it "
                                "first with `winback metric add`")


def test_a_winner_failing_its_guardrail_needs_an_override(with_outcomes):
    db, arms, tmp_path = with_outcomes
    coupon = arms["arm_key"].eq("coupon").to_numpy()
    rng = np.random.default_rng(9)
    unsub = pd.DataFrame({"experiment_key": "winback-1", "user_id": arms["user_id"], "metric": "unsubscribed",
                          "value": (rng.random(len(arms)) < np.where(coupon, 0.15, 0.02)).astype(int)})
    unsub.to_csv(tmp_path / "unsub.csv", index=False)
    import_outcomes(tmp_path / "unsub.csv", db)
    stop_experiment("winback-1", db)
    assert analyze_experiment("winback-1", db).result("coupon", "unsubscribed").guardrail == "fail"
    with pytest.raises(ExperimentError) as error:
        record_decision("winback-1", "coupon", "best retention", "ana", db)
    assert str(error.value) == ("experiment 'winback-1': cannot declare 'coupon' the winner: arm 'coupon' fails "
                                "guardrail(s) unsubscribed. Give an override reason to record it anyway "
                                "(--override \"reason\" on the command line, the override box on the strategy page)")
    assert get_experiment("winback-1", db).status == "stopped"
    decision = record_decision("winback-1", "coupon", "best retention", "ana", db,
                               override="legal approved the unsubscribe rate for Q4")
    assert list_decisions("winback-1", db)[0].override == "legal approved the unsubscribe rate for Q4"
    audit = json.loads(next(e for e in read_audit_log(db, object_key="winback-1") if e.action == "decide").detail)
    assert audit["overridden"] == ["arm 'coupon' fails guardrail(s) unsubscribed"] and decision.winner_arm == "coupon"


def test_a_safe_winner_needs_no_override(with_outcomes):
    db, _, _ = with_outcomes
    stop_experiment("winback-1", db)
    decision = record_decision("winback-1", "reco", "cheap", "ana", db)
    assert decision.override is None


def test_chance_to_win_follows_the_metric_direction(with_outcomes):
    db, arms, tmp_path = with_outcomes
    rng = np.random.default_rng(2)
    coupon = arms["arm_key"].eq("coupon").to_numpy()
    pd.DataFrame({"experiment_key": "winback-1", "user_id": arms["user_id"], "metric": "unsubscribed",
                  "value": (rng.random(len(arms)) < np.where(coupon, 0.01, 0.05)).astype(int)}
                 ).to_csv(tmp_path / "unsub.csv", index=False)
    import_outcomes(tmp_path / "unsub.csv", db)
    report = analyze_experiment("winback-1", db, method="bayesian")
    fewer_unsubscribes = report.result("coupon", "unsubscribed").comparison
    # The coupon arm unsubscribes less: on a lower-is-better metric that is a win, so the chance is near 1.
    assert fewer_unsubscribes.effect < 0 and fewer_unsubscribes.chance_to_win > 0.99
    assert fewer_unsubscribes.risk <= fewer_unsubscribes.risk_control
