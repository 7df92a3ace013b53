"""CLI: winback uplift fit / score and winback allocate, through click's CliRunner."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from winback.cli import cli


@pytest.fixture()
def experiment_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.random(n)
    arm = rng.choice(["none", "coupon", "call"], n)
    p = 0.3 + np.select([arm == "coupon", arm == "call"], [np.where(x > 0.5, 0.25, 0.0), 0.1], 0.0)
    frame = pd.DataFrame({"uid": [f"{i:07d}" for i in range(n)], "x": x, "tier": rng.choice(["gold", "std"], n),
                          "arm": arm, "kept": (rng.random(n) < p).astype(int)})
    path = tmp_path / "exp.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_score_allocate_round_trip(tmp_path, experiment_csv):
    runner = CliRunner()
    db, models = str(tmp_path / "registry.db"), str(tmp_path / "models")
    result = runner.invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm", "--outcome", "kept",
                                 "--control", "none", "--id", "uid", "--name", "demo", "--learner", "t",
                                 "--model-dir", models, "--db", db])
    assert result.exit_code == 0, result.output
    assert "no --costs and not every treatment is in the catalog" in result.output
    assert "model demo: learner t, 2 features, treatments call, coupon; saved to" in result.output
    scores = tmp_path / "scores.csv"
    result = runner.invoke(cli, ["uplift", "score", "--model", "demo", "--data", str(experiment_csv), "--id", "uid",
                                 "--out", str(scores), "--db", db])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(scores, dtype={"uid": str})
    assert list(table.columns) == ["uid", "call", "coupon", "se:call", "se:coupon"]
    assert table["uid"].iloc[0] == "0000000"
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"call": 5.0, "coupon": 2.0}))
    out = tmp_path / "plan.csv"
    result = runner.invoke(cli, ["allocate", "--scores", str(scores), "--costs", str(costs), "--budget", "1000",
                                 "--value-per-retained", "60", "--capacity", "call=50", "--id", "uid", "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(out, keep_default_na=False)
    assert list(plan.columns) == ["user_id", "arm", "treatment_key", "planned_treatment", "expected_uplift", "cost"]
    assert plan["cost"].sum() <= 1000 and (plan["treatment_key"] == "call").sum() <= 50
    assert set(plan["treatment_key"]) <= {"call", "coupon", ""} and set(plan["arm"]) <= {"call", "coupon", "untreated"}


def test_score_refuses_missing_feature(tmp_path, experiment_csv):
    runner = CliRunner()
    db, models = str(tmp_path / "registry.db"), str(tmp_path / "models")
    runner.invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm", "--outcome", "kept",
                        "--control", "none", "--id", "uid", "--name", "m1", "--learner", "s", "--model-dir", models,
                        "--db", db])
    partial = tmp_path / "partial.csv"
    pd.read_csv(experiment_csv).drop(columns="tier").to_csv(partial, index=False)
    result = runner.invoke(cli, ["uplift", "score", "--model", "m1", "--data", str(partial), "--id", "uid",
                                 "--out", str(tmp_path / "s.csv"), "--db", db])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: data lacks column(s) tier that model 'm1' was fitted on; expected features: x, tier")


def test_fit_unknown_control_is_one_clean_line(tmp_path, experiment_csv):
    result = CliRunner().invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm",
                                      "--outcome", "kept", "--control", "nobody", "--id", "uid", "--name", "x",
                                      "--learner", "t", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {experiment_csv}, column 'arm': control arm 'nobody' does not occur (arms: call, coupon, none)")


@pytest.mark.parametrize(
    "costs, extra, message",
    [
        ({"a": 1.0, "gift": 2.0}, [], "Error: {costs}: 'gift' is not a treatment of the scores; their treatments are a, b"),
        ({"a": 1.0, "b": -2.0}, [], "Error: {costs}: the cost of 'b' must be a number from 0 to 1e+15, got -2.0"),
        ({"a": 1.0, "b": 2.0}, ["--capacity", "vip=3"], ("Error: --capacity names treatment(s) vip without a cost; "
                                                         "treatments are a, b")),
        ({"control": 1.0, "a": 1.0, "b": 2.0}, [],
         "Error: {costs}: 'control' is the untreated choice and must cost 0, got 1.0"),
        ({"a": 1.0, "b": 2.0}, ["--capacity", "a"], "Error: --capacity takes NAME=NUMBER, got 'a'"),
        ({"a": 1.0, "b": 2.0}, ["--value-per-retained", "margin"],
         "Error: --value-per-retained 'margin' is neither a number nor a column of the scores file"),
    ],
)
def test_allocate_bad_input(tmp_path, costs, extra, message):
    scores = tmp_path / "scores.csv"
    pd.DataFrame({"user_id": ["1", "2"], "a": [0.1, 0.2], "b": [0.0, 0.3]}).to_csv(scores, index=False)
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(costs))
    result = CliRunner().invoke(cli, ["allocate", "--scores", str(scores), "--costs", str(path), "--budget", "10",
                                      "--out", str(tmp_path / "o.csv"), *extra])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == message.format(costs=path)


def test_help_texts():
    for args in (["uplift", "--help"], ["uplift", "fit", "--help"], ["uplift", "score", "--help"], ["allocate", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_a_misspelled_outcome_column_names_the_closest_one(tmp_path, experiment_csv):
    wide = pd.read_csv(experiment_csv, dtype={"uid": str})
    wide = wide.assign(**{f"f{i}": 0.0 for i in range(20)})  # a features file is wide: the list is cut short
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["uplift", "fit", "--data", str(path), "--treatment", "arm", "--outcome", "kpt",
                                      "--control", "none", "--id", "uid", "--name", "m",
                                      "--db", str(tmp_path / "registry.db")])
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}, column 'kpt': no such column (did you mean 'kept'?); the file has: "
                             "uid, x, tier, arm, kept, f0, f1, f2, f3, f4, f5, f6, ... (25 columns)\n")


def test_a_wide_file_in_the_wrong_place_gets_a_short_error(tmp_path, experiment_csv):
    """A features file scored by a model fitted on other features, or passed to allocate as scores: the errors
    list ten names and the count, not every column (the walk's 91-feature files printed two screens)."""
    runner, db = CliRunner(), str(tmp_path / "registry.db")
    wide = pd.read_csv(experiment_csv, dtype={"uid": str}).assign(**{f"f{i:02d}": float(i) for i in range(12)})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    fitted = runner.invoke(cli, ["uplift", "fit", "--data", str(path), "--treatment", "arm", "--outcome", "kept",
                                 "--control", "none", "--id", "uid", "--name", "wide", "--learner", "s", "--trees",
                                 "10", "--model-dir", str(tmp_path / "models"), "--db", db])
    assert fitted.exit_code == 0, fitted.output
    result = runner.invoke(cli, ["uplift", "score", "--model", "wide", "--data", str(experiment_csv), "--id", "uid",
                                 "--out", str(tmp_path / "s.csv"), "--db", db])
    assert result.exit_code == 1
    assert result.output == ("Error: data lacks column(s) f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, ... (12 in "
                             "all) that model 'wide' was fitted on; expected features: x, tier, f00, f01, f02, f03, "
                             "f04, f05, f06, f07, ... (14 in all)\n")
    numeric = tmp_path / "numeric.csv"
    wide.drop(columns=["x", "tier", "arm", "kept"]).to_csv(numeric, index=False)
    result = runner.invoke(cli, ["allocate", "--scores", str(numeric), "--budget", "10", "--id", "uid",
                                 "--out", str(tmp_path / "p.csv"), "--db", db])
    assert result.exit_code == 1
    # The header is checked against the catalog before any cell is converted (issue 23: one reader for given tables).
    assert result.output.startswith(f"Error: {numeric}, column 'f00': is not a treatment of the catalog")
    assert result.output.endswith("(12 such columns: is this a features file? a plan takes the scores `winback uplift "
                                  "score` writes)\n")


def test_fit_prints_each_blanket_and_the_plans_gain_over_it(tmp_path):
    # As the fixture, three times the users: the coupon lifts retention by 0.25 only where x > 0.5, the call by 0.10
    # everywhere; with a budget for 30 % of the users, the targeted coupon beats either treatment sent to random users
    # (uplift.targeting). Its value is measured on calibration cross-fitted per fold, so on the fixture's 3,000 users
    # the gain over random coupons (truly +0.0375 a user) is not shown: +0.0137 [-0.0063, +0.0336].
    rng = np.random.default_rng(0)
    n = 9000
    x = rng.random(n)
    arm = rng.choice(["none", "coupon", "call"], n)
    p = 0.3 + np.select([arm == "coupon", arm == "call"], [np.where(x > 0.5, 0.25, 0.0), 0.1], 0.0)
    experiment_csv = tmp_path / "exp.csv"
    pd.DataFrame({"uid": [f"{i:07d}" for i in range(n)], "x": x, "arm": arm,
                  "kept": (rng.random(n) < p).astype(int)}).to_csv(experiment_csv, index=False)
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"call": 1.0, "coupon": 1.0}))
    result = CliRunner().invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm",
                                      "--outcome", "kept", "--control", "none", "--id", "uid", "--name", "m",
                                      "--learner", "t", "--costs", str(costs), "--budget", "2700",
                                      "--model-dir", str(tmp_path / "models"), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = lines.index("each treatment sent to random users with the same budget, and the chosen plan's gain over "
                         "it (per user, doubly robust):")
    rows = lines[header + 1:header + 3]
    assert [row.split()[:2] for row in rows] == [["blanket", "call"], ["blanket", "coupon"]]
    gains = [float(row.split("plan's gain ")[1].split()[0]) for row in rows]
    assert all(g > 0 for g in gains)
    assert not any(line.startswith("note: the chosen plan is not shown") for line in lines)


def test_allocate_says_when_its_plan_differs_from_the_one_the_model_was_chosen_on(tmp_path, experiment_csv):
    runner = CliRunner()
    db, models = str(tmp_path / "registry.db"), str(tmp_path / "models")
    costs, scores, out = tmp_path / "costs.json", tmp_path / "scores.csv", tmp_path / "plan.csv"
    costs.write_text(json.dumps({"call": 5.0, "coupon": 2.0}))
    result = runner.invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm", "--outcome",
                                 "kept", "--control", "none", "--id", "uid", "--name", "chosen", "--learner", "t",
                                 "--costs", str(costs), "--budget", "300", "--population", "3000", "--trees", "30",
                                 "--model-dir", models, "--db", db])
    assert result.exit_code == 0, result.output
    assert "forecast of the chosen plan over 3,000 users:" in result.output
    result = runner.invoke(cli, ["uplift", "score", "--model", "chosen", "--data", str(experiment_csv), "--id", "uid",
                                 "--out", str(scores), "--db", db])
    assert result.exit_code == 0, result.output

    def allocate(budget: str) -> list[str]:
        result = runner.invoke(cli, ["allocate", "--scores", str(scores), "--costs", str(costs), "--budget", budget,
                                     "--model", "chosen", "--id", "uid", "--out", str(out), "--db", db])
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if line.startswith("note: this plan differs")]

    assert allocate("300") == []  # 0.10 per user of the 3,000 scored, as the model was chosen on
    assert allocate("1000") == [  # 1,000 over 3,000 users: 0.33 per user
        "note: this plan differs from the one the model was chosen and its forecast calibrated on: budget 0.33 per "
        "user (chosen on 0.10). The learner that is best, and the forecast, may differ at these settings: refit with "
        "`uplift fit` given this budget, these costs and --population"]


def test_fit_says_which_candidates_tie_and_how_precise_its_forecast_is(tmp_path, experiment_csv):
    from experiments.models import load_model_record
    from uplift.choice_notes import forecast_precision, precision_note, tie_note

    db = str(tmp_path / "registry.db")
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"call": 5.0, "coupon": 2.0}))
    result = CliRunner().invoke(cli, ["uplift", "fit", "--data", str(experiment_csv), "--treatment", "arm", "--outcome",
                                      "kept", "--control", "none", "--id", "uid", "--name", "auto", "--costs", str(costs),
                                      "--budget", "1500", "--trees", "30", "--model-dir", str(tmp_path / "models"),
                                      "--db", db])
    assert result.exit_code == 0, result.output
    metrics = load_model_record("auto", db).metrics
    assert metrics["tied"], "3,000 users cannot tell ten candidates' plans apart"
    lines = result.output.splitlines()
    tie = tie_note(metrics["chosen"], metrics["tied"], len(metrics["candidates"]))
    assert f"note: {tie}" in lines
    header = next(i for i, line in enumerate(lines) if "plan value per user" in line)  # after the progress bar
    assert lines.index(f"note: {tie}") == header + len(metrics["candidates"]) + 1  # right under the candidates' table
    forecast = next(i for i, line in enumerate(lines) if line.startswith("forecast of the chosen plan over 3,000 users"))
    precision = forecast_precision(metrics["forecast"])
    assert precision is not None and not precision.within_target  # 1,000 users an arm: far wider than ±15 %
    assert lines[forecast + 1] == f"note: {precision_note(precision)}"
