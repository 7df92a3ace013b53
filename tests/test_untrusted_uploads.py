"""Uploaded and given tables read by the import rules (issue 23): budget scores through the web keep ids byte for
byte, refuse NA spellings, repeats, padding and uplifts outside [-1, 1]; wide and endless files are refused before
they are parsed; a CSV header over the csv module's field limit is one clear line, not a traceback."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from common.errors import InputRowError
from experiments.table_files import MAX_COLUMNS, read_text_table
from uplift.plan_runs import read_scores
from winback.cli import cli


def _scores(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text("user_id,coupon_10\n" + body)
    return path


@pytest.mark.parametrize(("body", "row", "problem"), [
    ("NA,0.1\n", 1, None),  # an NA spelling is an id like any other text? No: the identity rule decides below
    ("u1,0.1\nu1,0.2\n", 2, "user 'u1' is listed again (first at row 1); give each user once"),
    (" 0000005 ,0.1\n", 1, None),
    ("u1,1e300\n", 1, "an uplift is a change of a probability, within [-1, 1]; got 1e+300"),
    ("u1,\n", 1, "expected a number, got ''"),
    ("u1,NaN\n", 1, "expected a number, got 'NaN'"),
])
def test_budget_scores_follow_the_import_rules(tmp_path, body, row, problem) -> None:
    path = _scores(tmp_path, body)
    if problem is None:  # padded ids and NA spellings: the identity rule (experiments.identity) refuses padding
        if body.startswith(" "):
            with pytest.raises(InputRowError, match=r"row 1, column 'user_id'"):
                read_scores(path, expected=["coupon_10"])
        else:
            assert read_scores(path, expected=["coupon_10"])["user_id"].tolist() == ["NA"]  # kept as text, exactly
        return
    with pytest.raises(InputRowError) as raised:
        read_scores(path, expected=["coupon_10"])
    assert raised.value.row == row and raised.value.problem == problem


def test_an_unknown_score_column_is_refused_before_any_conversion(tmp_path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("user_id,coupon_11\nu1,not a number\n")
    with pytest.raises(InputRowError, match=r"column 'coupon_11': is not a treatment of the catalog \(coupon_10\)"):
        read_scores(path, expected=["coupon_10"])


def test_a_wide_file_is_refused_from_its_header_within_a_moment(tmp_path) -> None:
    path = tmp_path / "wide.csv"
    columns = 20_000
    path.write_text(",".join(["user_id"] + [f"c{i}" for i in range(columns - 1)]) + "\n"
                    + ",".join(["u1"] + ["0.1"] * (columns - 1)) + "\n")
    started = time.process_time()
    with pytest.raises(InputRowError, match=f"has {columns:,} columns; at most {MAX_COLUMNS:,} are read"):
        read_text_table(path)
    assert time.process_time() - started < 5  # a generous bound on CPU: the issue measured 40 s before


def test_a_header_field_over_the_csv_limit_is_one_clear_line(tmp_path) -> None:
    path = tmp_path / "long.csv"
    path.write_text('"' + "x" * 200_000 + '",user_id\n1,u1\n')
    result = CliRunner().invoke(cli, ["optout", "add", "--file", str(path), "--db", str(tmp_path / "r.db")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.startswith("Error: ")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_refused_unread(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["import", "outcomes", "/dev/zero", "--db", str(tmp_path / "r.db")])
    assert result.output == "Error: /dev/zero: is not a regular file (a pipe or a device cannot be imported)\n"
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputRowError, match="is not a regular file"):
        read_text_table(fifo)


def test_read_only_commands_refuse_a_registry_that_does_not_exist(tmp_path) -> None:
    """`audit verify --db typo/x.db` created an empty registry and said 'intact' (rc 0) forever."""
    missing = tmp_path / "typo" / "x.db"
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(missing)])
    assert result.exit_code == 1 and result.output.startswith(f"Error: no registry at {missing}")
    assert not missing.exists() and not missing.parent.exists()
    assert CliRunner().invoke(cli, ["programme", "list", "--db", str(missing)]).exit_code == 1


def test_a_blob_in_the_audit_log_names_its_row(tmp_path) -> None:
    import sqlite3

    db = tmp_path / "r.db"
    assert CliRunner().invoke(cli, ["treatment", "add", "t1", "--kind", "coupon", "--unit-cost", "1", "--db",
                                    str(db)]).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
                                    ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE audit_log SET detail = CAST('x' AS BLOB) WHERE id = 1")
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: audit log broken at row 1: its detail is not text")


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_model_path_that_is_not_a_file_is_refused_not_hung(tmp_path, kind) -> None:
    """Issue 23: a folder at a model's path was a traceback, a FIFO hung `churn score`."""
    from experiments.errors import ExperimentError
    from experiments.model_files import load_model_file
    from experiments.models import ModelRecord

    path = tmp_path / "churn-m1.joblib"
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    record = ModelRecord(name="m1", kind="churn", learner="lgbm", features=[], fingerprint="f", path=str(path),
                         created_at="2026-01-01", sha256="0" * 64)
    with pytest.raises(ExperimentError, match="is not a regular file"):
        load_model_file(record, tmp_path)
