"""Issue 12, finding 10: every input the report found to crash, mislead or pass silently, now one `Error:` line.

Most bad files are also covered in bulk by tests/test_fuzz_cli.py; these are the exact cases of the report.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import experiments.db
from winback.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(result, code: int = 1) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == code and len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.fixture
def db(tmp_path) -> Path:
    """A running experiment e1 (control / coupon) with 100 users assigned."""
    path = tmp_path / "registry.db"
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(100)]}).to_csv(users, index=False)
    for step in (["treatment", "add", "coupon", "--kind", "coupon", "--unit-cost", "2"],
                 ["metric", "add", "retained", "--kind", "binary"],
                 ["experiment", "create", "e1", "--name", "E", "--primary-metric", "retained", "--arm",
                  "control:-:0.5", "--arm", "coupon:coupon:0.5"],
                 ["experiment", "start", "e1"], ["experiment", "assign", "e1", "--users", users]):
        assert invoke(*step, "--db", path).exit_code == 0, step
    return path


def test_a_db_that_is_not_sqlite(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 200)
    for args in (["experiment", "list"], ["analyze", "e1"], ["audit", "verify"]):
        assert one_error(invoke(*args, "--db", path)) == (
            f"Error: registry {path} is not a Winback registry (SQLite said: file is not a database)")


def test_a_write_lock_held_past_the_timeout(db, monkeypatch):
    monkeypatch.setattr(experiments.db, "BUSY_TIMEOUT_MS", 200)  # the real 60 s, shortened for the test
    holder = sqlite3.connect(db)
    holder.execute("BEGIN IMMEDIATE")
    try:
        error = one_error(invoke("treatment", "add", "gift", "--kind", "other", "--unit-cost", "1", "--db", db))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert error == ("Error: registry: another process has held the write lock for over 0.2 s; nothing was written, "
                     "try again when it finishes")


def _uplift(tmp_path: Path, rows: int, **change) -> Path:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"uid": [f"{i:04d}" for i in range(rows)], "x": rng.random(rows).round(4),
                          "arm": np.where(np.arange(rows) % 2 == 0, "none", "coupon"),
                          "kept": rng.integers(0, 2, rows)})
    for column, (row, value) in change.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def fit(path: Path, tmp_path: Path, *extra):
    return invoke("uplift", "fit", "--data", path, "--treatment", "arm", "--outcome", "kept", "--control", "none",
                  "--id", "uid", "--name", "u1", "--learner", "s", "--model-dir", tmp_path / "models", *extra,
                  "--db", tmp_path / "r.db")


def test_uplift_fit_on_thin_or_broken_data(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("uid,x,arm,kept\n")
    assert one_error(fit(header, tmp_path)) == f"Error: {header}: has a header but no data rows"
    ten = _uplift(tmp_path, 10)
    assert one_error(fit(ten, tmp_path)) == (f"Error: {ten}, column 'arm': each arm needs at least 20 users and a "
                                             "treatment arm must exist; got none 5, coupon 5")
    infinite = _uplift(tmp_path, 100, kept=(7, "inf"))
    assert one_error(fit(infinite, tmp_path)) == f"Error: {infinite}, row 8, column 'kept': 'inf' is not a finite number"
    good = _uplift(tmp_path, 100)
    assert one_error(fit(good, tmp_path, "--arm-weight", "coupon=-0.5")) == (
        "Error: --arm-weight coupon=-0.5: a weight must be a share between 0 and 1")
    assert not (tmp_path / "models").exists()


def test_uplift_score_with_text_where_the_model_had_numbers(tmp_path):
    assert fit(_uplift(tmp_path, 200), tmp_path).exit_code == 0
    users = tmp_path / "users.csv"
    pd.DataFrame({"uid": ["1", "2"], "x": ["high", "low"]}).to_csv(users, index=False)
    result = invoke("uplift", "score", "--model", "u1", "--data", users, "--id", "uid", "--out", tmp_path / "o.csv",
                    "--db", tmp_path / "r.db")
    assert one_error(result) == (f"Error: {users}, row 1, column 'x': the model was fitted on numbers here, "
                                 "but the file has text")


def test_numeric_options_have_bounds(tmp_path, db):
    assert "'--horizon-days': 100000000 is not in the range 1<=x<=3650" in one_error(invoke(
        "churn", "train", "--as-of", "2026-04-30", "--horizon-days", "100000000", "--name", "m", "--db", db), 2)
    for days in ("1000000000", "-30"):
        assert f"'--cap-window-days': {days} is not in the range 1<=x<=3650" in one_error(
            invoke("experiment", "assign", "e1", "--cap-window-days", days, "--db", db), 2)
    assert one_error(invoke("analyze", "e1", "--chart", "x.txt", "--db", db), 2) == (
        "Error: --chart x.txt: use a .png, .svg or .pdf file name")


def test_huge_values_name_the_metric_and_arm(db):
    conn = sqlite3.connect(db)  # written by SQL: imports refuse values above 1e15 (tests/test_fuzz_cli.py)
    conn.execute("INSERT INTO metrics (key, kind) VALUES ('revenue', 'continuous')")
    arm = conn.execute("SELECT arm_key FROM assignments WHERE user_id = 'u1'").fetchone()[0]
    conn.execute("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                 "VALUES ('e1', 'u1', 'revenue', 'post', 1e200, '2026-11-20T00:00:00.000000Z')")
    conn.commit()
    error = one_error(invoke("analyze", "e1", "--db", db))
    assert error.startswith(f"Error: experiment 'e1', metric 'revenue', arm '{arm}', cannot be summarized: "
                            "Moments.sum_squares must be a finite number")


def test_unclear_file_messages_now_name_file_row_and_column(tmp_path, db):
    shifted = tmp_path / "outcomes.csv"
    shifted.write_text("experiment_key,user_id,metric,value\ne1,u1,retained,1,extra\ne1,u2,retained,0,extra\n")
    assert one_error(invoke("import", "outcomes", shifted, "--db", db)) == (
        f"Error: {shifted}, row 1: has 5 fields, more than the 4 columns of the header")
    users = tmp_path / "users.parquet"
    pd.DataFrame({"user_id": ["u1", None, "u3"]}).to_parquet(users)
    assert one_error(invoke("experiment", "assign", "e1", "--users", users, "--db", db)) == (
        f"Error: {users}, row 2, column 'user_id': missing value")


def test_no_outcomes_yet_says_why_in_the_text_output(db):
    result = invoke("analyze", "e1", "--db", db)
    # The reason is the missing data, not the arithmetic on it (it used to say "the metric has no variance").
    assert result.exit_code == 0 and "no outcomes imported for 'retained' yet" in result.output
    assert "no variance" not in result.output


def test_what_used_to_pass_silently(tmp_path, db):
    deliveries = tmp_path / "d.csv"
    row = "e1,u1,coupon,{},2.0\n"
    deliveries.write_text("experiment_key,user_id,treatment_key,sent_at,cost\n" + row.format("2999-01-01"))
    assert one_error(invoke("import", "deliveries", deliveries, "--db", db)) == (
        f"Error: {deliveries}, row 1, column 'sent_at': 2999-01-01T00:00:00.000000Z lies in the future")
    deliveries.write_text("experiment_key,user_id,treatment_key,sent_at,cost\n" + row.format("2001-01-01"))
    result = invoke("import", "deliveries", deliveries, "--db", db)
    assert result.exit_code == 0 and "  note: 1 deliveries were sent over a year before their experiment was " \
                                     "created (earliest 2001-01-01T00:00:00.000000Z); check the sent_at clock" in result.output
    for step in (["experiment", "stop", "e1"], ["decide", "e1", "--winner", "coupon", "--rationale", "r", "--by", "a",
                                                "--override", "testing"]):
        assert invoke(*step, "--db", db).exit_code == 0, invoke(*step, "--db", db).output
    outcomes = tmp_path / "o.csv"
    outcomes.write_text("experiment_key,user_id,metric,value\ne1,u1,retained,1\n")
    assert one_error(invoke("import", "outcomes", outcomes, "--db", db)) == (
        f"Error: {outcomes}, row 1, column 'experiment_key': experiment 'e1' is concluded; its data can no longer change")
