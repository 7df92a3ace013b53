"""CLI: `winback allocate --engine spark` writes the default engine's plan and prints its lines.

Expected values: the same command without --engine on the same Parquet scores (the in-memory plan,
itself checked against exhaustive search in tests/test_cli_allocate.py): every user's row equal, costs
and uplifts to 1e-12, and the printed lines equal but for the output path.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.optouts import add_opt_outs
from winback.cli import cli

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(8)
    n = 600
    scores = pd.DataFrame({"user_id": [f"u{i:04d}" for i in range(n)], "coupon": rng.normal(0.05, 0.05, n),
                           "vip": rng.normal(0.1, 0.08, n), "se:coupon": 0.002, "se:vip": 0.004,
                           "clv": rng.gamma(2.0, 60.0, n)})
    scores.to_parquet(tmp_path / "scores.parquet", index=False)
    (tmp_path / "costs.json").write_text(json.dumps({"control": 0, "coupon": 5.0, "vip": 20.0}))
    db = tmp_path / "registry.db"
    add_opt_outs(["u0003", "u0100"], "asked", db=db)
    return tmp_path, db


def run(folder, db, out, *args):
    return CliRunner().invoke(cli, ["allocate", "--scores", str(folder / "scores.parquet"), "--costs",
                                    str(folder / "costs.json"), "--out", str(out), "--db", str(db), *args])


@pytest.mark.parametrize("options", [("--budget", "1500", "--value-per-retained", "clv"),
                                     ("--budget", "100000", "--capacity", "vip=40")])
def test_spark_plan_equals_the_default_plan(spark, files, options):
    folder, db = files
    memory = run(folder, db, folder / "plan.csv", *options)
    assert memory.exit_code == 0, memory.output
    remote = run(folder, db, folder / "plan", *options, "--engine", "spark")
    assert remote.exit_code == 0, remote.output
    expected = pd.read_csv(folder / "plan.csv", keep_default_na=False, dtype={"user_id": str})
    got = pd.read_parquet(folder / "plan").sort_values("user_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert got[["user_id", "arm", "treatment_key", "planned_treatment"]].equals(
        expected[["user_id", "arm", "treatment_key", "planned_treatment"]])
    assert got["cost"].to_numpy() == pytest.approx(expected["cost"].to_numpy(), rel=1e-12)
    assert got["expected_uplift"].to_numpy() == pytest.approx(expected["expected_uplift"].to_numpy(), rel=1e-12)
    assert "u0003" not in set(got["user_id"]) and len(got) == 598
    lines = remote.output.replace(str(folder / "plan"), "OUT").splitlines()
    assert lines == memory.output.replace(str(folder / "plan.csv"), "OUT").splitlines()
    assert lines[0] == "left out of the plan: 2 opted out" and "[95% " in lines[2]


@pytest.mark.parametrize("option", [("--holdout", "0.1"), ("--record", "plan-q4")])
def test_options_spark_does_not_support_are_refused(tmp_path, option):
    scores, costs = tmp_path / "scores.parquet", tmp_path / "costs.json"
    pd.DataFrame({"user_id": ["u1"], "coupon": [0.1]}).to_parquet(scores)
    costs.write_text('{"coupon": 1}')
    result = CliRunner().invoke(cli, ["allocate", "--scores", str(scores), "--costs", str(costs), "--budget", "5",
                                      "--engine", "spark", *option, "--out", str(tmp_path / "plan")])
    assert result.exit_code == 1
    assert result.output == f"Error: {option[0]} is not supported with --engine spark; plan without it, or in memory\n"


def test_scores_spark_cannot_read_are_one_error_line(spark, tmp_path):
    scores, costs = tmp_path / "scores.csv", tmp_path / "costs.json"
    scores.write_text("user_id,coupon\nu1,0.1\n")
    costs.write_text('{"coupon": 1}')
    result = CliRunner().invoke(cli, ["allocate", "--scores", str(scores), "--costs", str(costs), "--budget", "5",
                                      "--engine", "spark", "--out", str(tmp_path / "plan"),
                                      "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {scores}: cannot be read as Parquet by Spark (")
    assert len(result.output.splitlines()) == 1


def test_spark_reads_scores_by_url_and_memory_refuses_a_missing_file(spark, files):
    """--scores is where Spark reads (README: an s3a:// folder), so only the in-memory path needs a local file."""
    folder, db = files
    url = (folder / "scores.parquet").as_uri()  # file:///...: a URL Spark reads that is no local path
    remote = CliRunner().invoke(cli, ["allocate", "--scores", url, "--costs", str(folder / "costs.json"), "--budget",
                                      "1500", "--engine", "spark", "--out", str(folder / "plan"), "--db", str(db)])
    assert remote.exit_code == 0, remote.output
    assert len(pd.read_parquet(folder / "plan")) == 598
    missing = folder / "nope.csv"
    memory = CliRunner().invoke(cli, ["allocate", "--scores", str(missing), "--costs", str(folder / "costs.json"),
                                      "--budget", "5", "--out", str(folder / "plan.csv"), "--db", str(db)])
    assert (memory.exit_code, memory.output) == (1, f"Error: --scores {missing}: file not found\n")
