"""The registry: schema and migrations, catalog, experiment lifecycle, frozen arms, audit log."""
from __future__ import annotations

import sqlite3

import pytest

from experiments.catalog import (
    Metric,
    Treatment,
    get_treatment,
    list_metrics,
    list_treatments,
    save_metric,
    save_treatment,
    update_treatment,
)
from experiments.db import open_registry, schema_version
from experiments.definitions import Arm, create_experiment, get_experiment, list_experiments
from experiments.errors import ExperimentError
from experiments.lifecycle import list_decisions, record_decision, start_experiment, stop_experiment
from experiments.schema import MIGRATIONS, SCHEMA_VERSION


def test_new_registry_is_migrated_to_the_latest_version_once(db_path):
    database = open_registry(db_path)
    assert schema_version(database) == SCHEMA_VERSION
    open_registry(db_path)  # reopening applies nothing twice
    rows = database.execute("SELECT version FROM schema_migrations").fetchall()
    assert rows == [(v,) for v, _, _ in MIGRATIONS]  # versions by area leave gaps (schema.py)


def test_db_path_comes_from_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_DB", str(tmp_path / "env.db"))
    save_treatment(Treatment("t", "t", "other", 1.0))
    assert (tmp_path / "env.db").exists()


def test_treatment_catalog_round_trip_and_update(catalog_db):
    assert [t.key for t in list_treatments(catalog_db)] == ["coupon_10", "reco_email", "vip_care"]
    with pytest.raises(ExperimentError, match="treatment 'coupon_10' already exists; change it with `winback treatment update"):
        save_treatment(Treatment("coupon_10", "10% coupon", "coupon", 9.5), catalog_db)
    update_treatment("coupon_10", catalog_db, unit_cost=9.5)
    assert get_treatment("coupon_10", catalog_db).unit_cost == 9.5
    assert get_treatment("vip_care", catalog_db).capacity == 100


@pytest.mark.parametrize(
    "treatment, message",
    [
        (Treatment("x", "x", "lottery", 1.0), "treatment 'x': unknown kind 'lottery'; use one of coupon, vip_service, recommendation, care_content, other"),
        (Treatment("x", "x", "coupon", -1.0), "treatment 'x': unit cost must be a number >= 0, got -1.0"),
        (Treatment("x", "x", "coupon", 1.0, capacity=-5), "treatment 'x': capacity must be >= 0, got -5"),
    ],
)
def test_bad_treatments_are_rejected(catalog_db, treatment, message):
    with pytest.raises(ExperimentError) as error:
        save_treatment(treatment, catalog_db)
    assert str(error.value) == message


def test_unknown_treatment_error_lists_known_ones(catalog_db):
    with pytest.raises(ExperimentError, match="unknown treatment 'nope'; known treatments: coupon_10, reco_email, vip_care"):
        get_treatment("nope", catalog_db)


def test_metric_definitions(db_path):
    save_metric(Metric("unsubscribed", "binary", higher_is_better=False), db_path)
    save_metric(Metric("retained", "binary"), db_path)
    assert [(m.key, m.higher_is_better) for m in list_metrics(db_path)] == [("retained", True), ("unsubscribed", False)]


def test_experiment_round_trip(draft_db):
    found = get_experiment("winback-1", draft_db)
    assert found.status == "draft"
    assert [a.key for a in found.arms] == ["control", "coupon", "reco"]
    assert found.control.key == "control"
    assert found.weights == [0.4, 0.3, 0.3]
    assert found.guardrail_metrics == ("unsubscribed",)
    assert [e.key for e in list_experiments(draft_db)] == ["winback-1"]


@pytest.mark.parametrize(
    "arms, message",
    [
        ((Arm("a", None, 1.0, True),), "experiment 'bad': needs at least two arms, got 1"),
        ((Arm("a", None, 0.5, True), Arm("a", "coupon_10", 0.5)), "experiment 'bad': arm keys must be unique, got a, a"),
        ((Arm("a", None, 0.5), Arm("b", "coupon_10", 0.5)), "experiment 'bad': exactly one arm must be the control, got 0"),
        ((Arm("a", None, 0.5, True), Arm("b", "nope", 0.5)),
         "experiment 'bad', arm 'b': unknown treatment 'nope'; known treatments: coupon_10, reco_email, vip_care; add it first with `winback treatment add`"),
        ((Arm("a", None, 0.5, True), Arm("b", "coupon_10", 0.6)),
         "experiment 'bad': arm weights must sum to 1 (GrowthBook falls back to equal weights otherwise), got 1.1"),
        ((Arm("a", None, 0.5, True), Arm("b", "coupon_10", -0.5)), "experiment 'bad', arm 'b': weight must be > 0, got -0.5"),
    ],
)
def test_bad_definitions_are_rejected_and_nothing_is_written(catalog_db, make_experiment, arms, message):
    definition = make_experiment("bad")
    with pytest.raises(ExperimentError) as error:
        create_experiment(definition.__class__(**{**definition.__dict__, "arms": arms}), catalog_db)
    assert str(error.value) == message
    assert open_registry(catalog_db).execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 0


def test_duplicate_experiment_key_is_rejected(draft_db, make_experiment):
    with pytest.raises(ExperimentError, match="experiment 'winback-1' already exists; pick another key"):
        create_experiment(make_experiment(), draft_db)


def test_lifecycle_moves_forward_only(draft_db):
    with pytest.raises(ExperimentError, match="experiment 'winback-1' is draft; it cannot become stopped"):
        stop_experiment("winback-1", draft_db)
    with pytest.raises(ExperimentError, match="is draft; start it, let it run, then stop it before recording a decision"):
        record_decision("winback-1", "coupon", "p < 0.01", "ana", draft_db)
    assert start_experiment("winback-1", draft_db).started_at
    with pytest.raises(ExperimentError, match="is running; it cannot become running"):
        start_experiment("winback-1", draft_db)
    with pytest.raises(ExperimentError, match="is running; stop it before recording a decision"):
        record_decision("winback-1", "coupon", "p < 0.01", "ana", draft_db)
    stop_experiment("winback-1", draft_db)
    decision = record_decision("winback-1", "coupon", "coupon retained 4 pts more at 3.1 per user", "ana", draft_db)
    found = get_experiment("winback-1", draft_db)
    assert found.status == "concluded" and found.concluded_at == decision.decided_at
    assert [d.winner_arm for d in list_decisions("winback-1", draft_db)] == ["coupon"]
    # A second decision names the first rather than asking to stop a concluded experiment.
    with pytest.raises(ExperimentError) as error:
        record_decision("winback-1", "control", "changed my mind", "bo", draft_db)
    assert str(error.value) == ("experiment 'winback-1' is already concluded: winner 'coupon', decided by ana at "
                                f"{decision.decided_at}; a decision is final")
    assert len(list_decisions("winback-1", draft_db)) == 1


def test_decision_must_name_an_existing_arm(draft_db):
    start_experiment("winback-1", draft_db)
    stop_experiment("winback-1", draft_db)
    with pytest.raises(ExperimentError, match=r"experiment 'winback-1': unknown arm 'gold'; known arms: control, coupon, reco"):
        record_decision("winback-1", "gold", "why not", "ana", draft_db)


def test_arms_and_weights_are_frozen_once_running(draft_db):
    start_experiment("winback-1", draft_db)
    conn = open_registry(draft_db).conn
    with pytest.raises(sqlite3.IntegrityError, match="arms cannot change once an experiment has started"):
        conn.execute("UPDATE arms SET weight = 0.5 WHERE experiment_key = 'winback-1' AND arm_key = 'coupon'")
    with pytest.raises(sqlite3.IntegrityError, match="arms cannot change once an experiment has started"):
        conn.execute("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) VALUES ('winback-1', 'extra', 9, NULL, 0.1, 0)")
    with pytest.raises(sqlite3.IntegrityError, match="arms cannot change once an experiment has started"):
        conn.execute("DELETE FROM arms WHERE experiment_key = 'winback-1'")


def test_audit_log_records_changes_and_is_append_only(draft_db):
    start_experiment("winback-1", draft_db, actor="ana")
    conn = open_registry(draft_db).conn
    actions = conn.execute("SELECT action, object_type, object_key, actor FROM audit_log ORDER BY id").fetchall()
    assert ("create", "experiment", "winback-1") in [a[:3] for a in actions]
    assert actions[-1] == ("running", "experiment", "winback-1", "ana")
    with pytest.raises(sqlite3.IntegrityError, match="audit_log is append-only"):
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="audit_log is append-only"):
        conn.execute("DELETE FROM audit_log")


def test_an_older_registry_is_upgraded_in_place_keeping_its_rows(db_path):
    import sqlite_utils

    from experiments.db import migrate
    from experiments.schema import MIGRATIONS

    old = sqlite_utils.Database(sqlite3.connect(str(db_path), isolation_level=None))
    assert migrate(old, MIGRATIONS[:1]) == 1  # a registry written by version 1 of the schema
    old.conn.execute("INSERT INTO treatments VALUES ('t', 't', 'other', 1.0, NULL, '2026-01-01')")
    assert "value_per_retained" not in {c.name for c in old["experiments"].columns}
    upgraded = open_registry(db_path)
    assert schema_version(upgraded) == SCHEMA_VERSION
    assert "value_per_retained" in {c.name for c in upgraded["experiments"].columns}
    assert [t.key for t in list_treatments(db_path)] == ["t"]


@pytest.mark.parametrize("key", ["../etc", "spring/2026", "a\\b", ".", ".."])
def test_a_key_that_cannot_be_one_segment_of_a_web_address_is_rejected(catalog_db, make_experiment, key):
    """The web UI and API name an experiment in their paths (/experiments/KEY/results): such a key was
    accepted, and its pages could never be opened."""
    with pytest.raises(ExperimentError) as error:
        create_experiment(make_experiment(key), catalog_db)
    assert str(error.value) == (f"experiment key: '{key}' cannot name an experiment: no '/' or '\\', and not '.' "
                                "or '..' (the key is part of the experiment's web address)")
    assert open_registry(catalog_db).execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 0
    create_experiment(make_experiment("wb-2026.spring_v1-a"), catalog_db)  # dots, underscores and dashes are fine


@pytest.mark.parametrize("key", ["x" * 65, "spring 2026", "a?b", "<b>", "wb\u202e1", "wb:1", "-leading"])
def test_experiment_and_plan_keys_follow_the_one_name_rule(catalog_db, make_experiment, key):
    """Issue 23: keys of 5,000 characters, spaces, '?', '<b>' and U+202E were accepted; the name rule is now the key
    rule (1-64 letters, digits, '-', '_', '.'), in the service, so every door has it."""
    with pytest.raises(ExperimentError, match="is not allowed: use 1-64 letters, digits"):
        create_experiment(make_experiment(key.encode().decode("unicode_escape")), catalog_db)


def test_free_text_has_a_length_rule(catalog_db, make_experiment):
    """Issue 23: a 50 MB hypothesis and 1 MB names were stored; now a name holds 200 characters, a hypothesis 5,000."""
    from dataclasses import replace

    with pytest.raises(ExperimentError, match="name: 201 characters; at most 200 are kept"):
        create_experiment(replace(make_experiment("wb-long"), name="n" * 201), catalog_db)
    with pytest.raises(ExperimentError, match="hypothesis: 5,001 characters; at most 5,000 are kept"):
        create_experiment(replace(make_experiment("wb-long"), hypothesis="h" * 5_001), catalog_db)
