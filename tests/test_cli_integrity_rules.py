"""Issue 12's findings 1-3 and 5-8, each reproduced as it was reported and shown fixed (10 is in test_cli_bad_inputs.py).

Findings 4 and 9 (events files) belong to the warehouse loader rewrite. Every test runs the real CLI in-process
(click's CliRunner) on a real registry file in tmp_path.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cohorts import write_cohort
from experiments.errors import ExperimentError
from experiments.model_files import dump_model_file
from experiments.models import ModelRecord, save_model_record
from winback.cli import cli


class Planted:
    """A pickle that runs a shell command when it is loaded (what an attacker would put in the model folder)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def last_error(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.fixture
def db(tmp_path) -> Path:
    """A registry with two treatments, a binary metric and a running experiment e1 (control / coupon / call)."""
    path = tmp_path / "registry.db"
    for step in (["treatment", "add", "coupon", "--kind", "coupon", "--unit-cost", "2"],
                 ["treatment", "add", "call", "--kind", "vip_service", "--unit-cost", "5"],
                 ["metric", "add", "retained", "--kind", "binary"]):
        assert invoke(*step, "--db", path).exit_code == 0
    return path


def create_e1(db: Path, *extra: str, key: str = "e1") -> None:
    result = invoke("experiment", "create", key, "--name", "E", "--primary-metric", "retained", "--arm",
                    "control:-:0.4", "--arm", "coupon:coupon:0.3", "--arm", "call:call:0.3", *extra, "--db", db)
    assert result.exit_code == 0, result.output
    assert invoke("experiment", "start", key, "--db", db).exit_code == 0


def users_file(tmp_path: Path, ids: list[str], name: str = "users.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame({"user_id": ids}).to_csv(path, index=False)
    return path


# 1. Loading a model ran code from the model file -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["churn", "uplift"])
def test_finding_1_a_replaced_model_file_is_refused_before_unpickling(tmp_path, db, kind, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, digest = dump_model_file({"harmless": True}, kind, "m1", tmp_path / "models")
    save_model_record(ModelRecord("m1", kind, "s", ["x"], "f", path=str(path), sha256=digest), db)
    marker = tmp_path / "pwned"
    import joblib

    joblib.dump(Planted(marker), path)  # the attacker swaps the file; the registry is untouched
    scores = tmp_path / "users.csv"
    pd.DataFrame({"uid": ["1"], "x": [0.5]}).to_csv(scores, index=False)
    if kind == "uplift":
        result = invoke("uplift", "score", "--model", "m1", "--data", scores, "--id", "uid", "--out", "o.csv", "--db", db)
    else:
        result = invoke("churn", "score", "--model", "m1", "--as-of", "2026-06-30", "--out", "o.csv", "--db", db)
    assert "has SHA-256" in last_error(result) and "not loaded" in last_error(result)
    assert not marker.exists()


def test_finding_1_a_record_pointing_outside_the_model_folder_is_refused(tmp_path, db, monkeypatch):
    from uplift.store import load_uplift_model

    path, digest = dump_model_file({"harmless": True}, "uplift", "m1", tmp_path / "models")
    elsewhere = tmp_path / "elsewhere" / "uplift-m1.joblib"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(path.read_bytes())
    save_model_record(ModelRecord("m1", "uplift", "s", ["x"], "f", path=str(elsewhere), sha256=digest), db)
    monkeypatch.setenv("WINBACK_MODEL_DIR", str(tmp_path / "models"))
    with pytest.raises(Exception, match=r"is not .*models/uplift-m1.joblib, the only place an? uplift model"):
        load_uplift_model("m1", db)
    link = tmp_path / "models" / "uplift-m2.joblib"  # a symlink in the folder leading out of it
    os.symlink(elsewhere, link)
    save_model_record(ModelRecord("m2", "uplift", "s", ["x"], "f", path=str(link), sha256=digest), db)
    with pytest.raises(Exception, match="is a link to .*outside the model folder"):
        load_uplift_model("m2", db)


# 2. Churn names escaped the model folder -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x/../../outside/pwn", "a/b", "..", " m1", "m1 "])
def test_finding_2_churn_model_names_are_checked_before_any_work(tmp_path, db, name):
    events = tmp_path / "events.csv"  # never read: the name is refused first
    result = invoke("churn", "train", "--events", events, "--as-of", "2026-04-30", "--horizon-days", "60", "--name",
                    name, "--model-dir", tmp_path / "models", "--db", db)
    assert last_error(result) == (f"Error: model name {name!r} is not allowed: use 1-64 letters, digits, '-', '_' or "
                                  "'.', starting with a letter or digit (no '/', no spaces)")
    assert not (tmp_path / "outside").exists() and not (tmp_path / "models").exists()


# 3. The audit log could be rewritten -----------------------------------------------------------------------


def test_finding_3_replacing_inserts_updates_and_deletes_are_refused(db):
    conn = sqlite3.connect(db)
    for statement in (
        "INSERT OR REPLACE INTO audit_log (id, at, actor, action, object_type, object_key, detail, prev_hash, row_hash)"
        " VALUES (1, 'x', 'mallory', 'create', 'treatment', 'coupon', '{}', 'x', 'x')",
        "INSERT INTO audit_log (at, actor, action, object_type, object_key) VALUES ('x', 'm', 'a', 't', 'k')",
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()
    assert invoke("audit", "verify", "--db", db).output.startswith("audit log intact: 3 rows, head hash ")


def test_finding_3_dropped_triggers_come_back_on_open_and_verify_names_the_first_broken_row(db):
    conn = sqlite3.connect(db)
    conn.executescript("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
    conn.execute("UPDATE audit_log SET detail = '{\"unit_cost\": 0}' WHERE id = 2")
    conn.commit()
    conn.close()
    result = invoke("audit", "verify", "--db", db)  # opening restores the triggers (and logs that it did)
    assert last_error(result) == ("Error: audit log broken at row 2: its contents do not match its hash "
                                  "(the row was changed after it was written)")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT action, detail FROM audit_log ORDER BY id DESC LIMIT 1").fetchone() == (
        "restore_triggers", '{"triggers": ["audit_log_no_update", "audit_log_no_delete"]}')
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM audit_log WHERE id = 3")
    conn.close()


def test_finding_3_a_deleted_row_is_named(db):
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 2")
    conn.commit()
    conn.close()
    assert last_error(invoke("audit", "verify", "--db", db)) == (
        "Error: audit log broken at row 3: id 3 follows id 1: row(s) 2..2 are missing")


def test_finding_3_every_change_shows_in_experiment_audit(tmp_path, db):
    write_cohort(pd.DataFrame({"user_id": [f"u{i}" for i in range(30)], "risk": 0.5, "stage": "at_risk",
                               "tier": "regular", "reason": "price"}), "c1", db)
    create_e1(db, "--cohort", "c1")
    assert invoke("experiment", "assign", "e1", "--contact-cap", "5", "--db", db).exit_code == 0
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"experiment_key": "e1", "user_id": ["u1", "u2"], "metric": "retained", "value": [1, 0]}).to_csv(
        outcomes, index=False)
    assert invoke("import", "outcomes", outcomes, "--db", db).exit_code == 0
    assert invoke("optout", "add", "u3", "u4", "--reason", "asked", "--db", db).exit_code == 0
    write_cohort(pd.DataFrame({"user_id": ["u1"], "risk": 0.9, "stage": "at_risk", "tier": "regular",
                               "reason": "price"}), "c1", db)
    lines = invoke("experiment", "audit", "e1", "--db", db).output.splitlines()
    details = {line.split()[2]: line for line in lines}
    # the stored JSON, printed for people (experiments.audit_log.readable_detail)
    assert "contact cap: 5" in details["assign"] and "override: yes" in details["assign"]
    assert "rows read: 2" in next(line for line in lines if "import outcomes" in line)
    assert "user ids: u3, u4" in details["opt_out"]
    assert "version: 2" in details["cohort_version"] and "experiment uses version: 1" in details["cohort_version"]


# 5. Identity was not exact -----------------------------------------------------------------------------------


SPACED = "Error: {where}: ' s1 ' has leading or trailing whitespace (ids and keys are matched exactly: no surrounding " \
         "whitespace, no control characters, not empty)"


@pytest.mark.parametrize("path_kind", ["csv", "parquet"])
def test_finding_5_an_id_with_spaces_is_refused_alike_on_every_path(tmp_path, db, path_kind):
    create_e1(db)
    assert invoke("experiment", "assign", "e1", "--users", users_file(tmp_path, ["s1", "s2"]), "--db", db).exit_code == 0

    def table(columns: dict, name: str) -> Path:
        frame = pd.DataFrame(columns)
        path = tmp_path / f"{name}.{path_kind}"
        frame.to_parquet(path, index=False) if path_kind == "parquet" else frame.to_csv(path, index=False)
        return path

    users = table({"user_id": ["s2", " s1 "]}, "users")
    deliveries = table({"experiment_key": "e1", "user_id": ["s2", " s1 "], "treatment_key": "coupon",
                        "sent_at": "2026-11-20", "cost": 2.0}, "deliveries")
    outcomes = table({"experiment_key": "e1", "user_id": ["s2", " s1 "], "metric": "retained", "value": 1.0}, "outcomes")
    calls = {
        "--users": (["experiment", "assign", "e1", "--users", users], f"{users}, row 2, column 'user_id'"),
        "opt-out file": (["optout", "add", "--file", users], f"{users}, row 2, column 'user_id'"),
        "deliveries": (["import", "deliveries", deliveries], f"{deliveries}, row 2, column 'user_id'"),
        "outcomes": (["import", "outcomes", outcomes], f"{outcomes}, row 2, column 'user_id'"),
        "opt-out argument": (["optout", "add", "s2", " s1 "], "USER_IDS arguments, row 2, column 'user_id'"),
    }
    conn = sqlite3.connect(db)
    before = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone() for t in ("assignments", "opt_outs", "outcomes")]
    for args, where in calls.values():
        assert last_error(invoke(*args, "--db", db)) == SPACED.format(where=where)
    assert [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()
            for t in ("assignments", "opt_outs", "outcomes")] == before


def test_finding_5_a_padded_experiment_key_never_reaches_another_experiment(tmp_path, db):
    create_e1(db)
    assert invoke("experiment", "assign", "e1", "--users", users_file(tmp_path, ["s1"]), "--db", db).exit_code == 0
    outcomes = tmp_path / "o.csv"
    outcomes.write_text("experiment_key,user_id,metric,value\n e1 ,s1,retained,1\n")
    assert last_error(invoke("import", "outcomes", outcomes, "--db", db)).startswith(
        f"Error: {outcomes}, row 1, column 'experiment_key': ' e1 ' has leading or trailing whitespace")
    result = invoke("experiment", "create", " e2", "--name", "E", "--primary-metric", "retained", "--arm",
                    "control:-:0.5", "--arm", "coupon:coupon:0.5", "--db", db)
    assert last_error(result).startswith("Error: experiment key: ' e2' has leading or trailing whitespace")


# 6. A user opted out after assignment kept receiving deliveries -------------------------------------------


def test_finding_6_opt_outs_win_over_later_deliveries_and_plans(tmp_path, db):
    create_e1(db)
    ids = [f"u{i}" for i in range(200)]
    assert invoke("experiment", "assign", "e1", "--users", users_file(tmp_path, ids), "--db", db).exit_code == 0
    conn = sqlite3.connect(db)
    arm = dict(conn.execute("SELECT user_id, arm_key FROM assignments"))
    treated = [u for u in ids if arm[u] == "coupon"][:3]
    assert invoke("optout", "add", treated[0], "--db", db).exit_code == 0
    deliveries = tmp_path / "d.csv"
    pd.DataFrame({"experiment_key": "e1", "user_id": treated, "treatment_key": "coupon",
                  "sent_at": (pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                  "cost": 2.0}).to_csv(deliveries, index=False)
    error = last_error(invoke("import", "deliveries", deliveries, "--db", db))
    assert error.startswith(f"Error: {deliveries}, row 1, column 'user_id': user '{treated[0]}' opted out at ")
    assert error.endswith("breaks the opt-out and is refused")
    assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
    # The analysis keeps the user in their arm (intention to treat) and says how many opted out per arm.
    report = json.loads(invoke("analyze", "e1", "--json", "--db", db).output)["report"]
    arms = {a["arm_key"]: a for a in report["arms"]}
    assert arms["coupon"]["opted_out"] == 1 and arms["control"]["opted_out"] == 0
    assert arms["coupon"]["n"] == sum(1 for u in ids if arm[u] == "coupon")
    # A plan never offers the user a treatment.
    scores = tmp_path / "scores.csv"
    pd.DataFrame({"user_id": treated, "coupon": [0.2, 0.2, 0.2]}).to_csv(scores, index=False)
    costs = tmp_path / "costs.json"
    costs.write_text('{"coupon": 1.0}')
    plan = tmp_path / "plan.csv"
    result = invoke("allocate", "--scores", scores, "--costs", costs, "--budget", "100", "--value-per-retained", "50",
                    "--out", plan, "--db", db)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "left out of the plan: 1 opted out"
    assert treated[0] not in set(pd.read_csv(plan, dtype=str)["user_id"])


# 7. Names collided across kinds, and re-flagging changed a running experiment's cohort ------------------------


def test_finding_7_churn_and_uplift_names_never_overwrite_each_other(tmp_path, db):
    path, digest = dump_model_file({"uplift": True}, "uplift", "m1", tmp_path / "models")
    save_model_record(ModelRecord("m1", "uplift", "t", ["x"], "f", path=str(path), sha256=digest), db)
    result = invoke("churn", "train", "--as-of", "2026-04-30", "--horizon-days", "60", "--name", "m1", "--db", db)
    assert last_error(result) == "Error: model name 'm1' is taken by a uplift model; pick another name for this churn model"
    with pytest.raises(ExperimentError, match="taken by a uplift model"):
        save_model_record(ModelRecord("m1", "churn", "lgbm", ["x"], "f", path=str(path), sha256=digest), db)
    assert sqlite3.connect(db).execute("SELECT kind FROM models WHERE name = 'm1'").fetchone() == ("uplift",)


def test_finding_7_an_experiment_keeps_the_cohort_version_it_started_with(tmp_path, db):
    def cohort(n: int) -> pd.DataFrame:
        return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "risk": 0.5, "stage": "at_risk",
                             "tier": "regular", "reason": "price"})

    write_cohort(cohort(948), "c1", db)
    create_e1(db, "--cohort", "c1")
    assert invoke("experiment", "assign", "e1", "--db", db).exit_code == 0
    write_cohort(cohort(10).assign(stage="new"), "c1", db)  # re-flagging adds version 2
    again = json.loads(invoke("experiment", "assign", "e1", "--json", "--db", db).output)
    assert again["candidates"] == 948 and again["already_assigned"] == 948
    report = json.loads(invoke("analyze", "e1", "--segment", "stage", "--json", "--db", db).output)["report"]
    assert {s["segment"] for s in report["segments"]} == {"at_risk"}  # nobody fell into '(none)'
    assert "c1                       v2         10 users" in invoke("cohort", "list", "--db", db).output


# 8. analyze divided by zero --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ttest", "sequential", "bayesian"])
def test_finding_8_an_all_zero_treatment_arm_gives_nan_with_the_reason_everywhere(tmp_path, db, method):
    create_e1(db)
    ids = [f"u{i}" for i in range(300)]
    assert invoke("experiment", "assign", "e1", "--users", users_file(tmp_path, ids), "--db", db).exit_code == 0
    arm = dict(sqlite3.connect(db).execute("SELECT user_id, arm_key FROM assignments"))
    outcomes = tmp_path / "o.csv"
    pd.DataFrame({"experiment_key": "e1", "user_id": ids, "metric": "retained",
                  "value": [int(arm[u] != "coupon" and i % 3 == 0) for i, u in enumerate(ids)]}).to_csv(
        outcomes, index=False)
    assert invoke("import", "outcomes", outcomes, "--db", db).exit_code == 0
    text = invoke("analyze", "e1", "--method", method, "--db", db)
    assert text.exit_code == 0, text.output
    assert "undefined: the relative effect's standard error is 0" in text.output
    report = json.loads(invoke("analyze", "e1", "--method", method, "--json", "--db", db).output)["report"]
    coupon = next(r for r in report["results"] if r["arm_key"] == "coupon")
    assert coupon["comparison"]["effect"] is None and "standard error is 0" in coupon["comparison"]["reason"]
