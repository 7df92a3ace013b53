"""`winback churn ...` end to end on real files: exit codes and exact output / Error lines."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cohorts import read_cohort
from simulator.shop import generate_shop
from warehouse.event_vocabulary import EVENT_TYPES
from winback.cli import cli

SHOP = generate_shop(1_500, seed=3, as_of="2026-06-30", horizon_days=60)
TRAIN, VALIDATE, SCORE = "2026-02-28", "2026-04-29", "2026-06-29"  # demo_as_of_dates(2026-06-30, 60)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    events = root / "events.csv"
    SHOP.events.assign(ts=SHOP.events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(events, index=False)
    return root, events


def run(root, *args):
    env = {"WINBACK_MODEL_DIR": str(root / "models")}
    return CliRunner(env=env).invoke(cli, ["churn", *args, "--db", str(root / "registry.db")])


@pytest.fixture(scope="module")
def trained(files):
    """Model m1 trained through the CLI (each test that needs it gets it, also on another xdist worker)."""
    root, events = files
    return run(root, "train", "--events", str(events), "--as-of", TRAIN, "--horizon-days", "60", "--name", "m1",
               "--validate-as-of", VALIDATE)


def test_train_score_flag(files, trained):
    root, _ = files
    result = trained
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"model m1: trained as of {TRAIN} on ")
    assert re.match(rf"validated as of {VALIDATE} on [\d,]+ users \(churn rate ", lines[1]), lines[1]
    assert lines[-1] == f"saved to {(root / 'models' / 'churn-m1.joblib').resolve()}"
    # each stage's cut-off, and the stages no cut-off reaches named once with what that means (not "new none")
    assert re.fullmatch(r"stage thresholds for precision 0\.70: \w+ [\d.]+(, \w+ [\d.]+)*"
                        r"(; no risk cut-off reaches it in \w+(, \w+)* \(flag --rule stage-thresholds leaves them "
                        r"out\))?", lines[-2]), lines[-2]

    out = root / "scores.csv"
    result = run(root, "score", "--model", "m1", "--as-of", SCORE, "--out", str(out))  # events already loaded
    n_users = SHOP.events.loc[SHOP.events["ts"] < "2026-06-30", "user_id"].nunique()
    assert result.exit_code == 0, result.output
    assert result.output == f"scored {n_users:,} users as of {SCORE} with m1 into {out}\n"
    scored = pd.read_csv(out, dtype={"user_id": str})
    assert list(scored.columns) == ["user_id", "risk", "clv", "stage", "tier", "reason"]
    assert scored["user_id"].str.len().eq(7).all()

    result = run(root, "flag", "--model", "m1", "--as-of", SCORE, "--cohort", "at-risk", "--max-users", "100")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"cohort at-risk: 100 of {n_users:,} users flagged by m1 as of {SCORE} (")
    assert re.search(r"; rule: stages new, growing, mature, at_risk; expected precision >= 0\.70, "
                     r"risk >= 0\.\d{3}; capacity 100\)$", lines[0]), lines[0]
    assert lines[1].startswith("expected precision ") and "(high value: top 20% of buyers by predicted" in lines[1]
    cohort = read_cohort("at-risk", root / "registry.db")  # the command stores what churn/ returned
    assert len(cohort) == 100 and "churned" not in set(cohort["stage"])


def test_flag_warns_when_most_users_would_be_flagged(files, trained):
    root, _ = files
    result = run(root, "flag", "--model", "m1", "--as-of", SCORE, "--cohort", "wide", "--target-precision", "0.3",
                 "--stage", "churned", "--stage", "at_risk", "--tiers", "monthly", "--no-clv")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1 and warning[0].endswith(
        "more than half: set a capacity (--max-users), a higher --target-precision or fewer --stage")
    assert "(high value: average monthly spend above 500.00)" in result.output
    result = run(root, "flag", "--model", "m1", "--as-of", SCORE, "--cohort", "c", "--no-clv")
    assert result.exit_code == 1
    assert result.output == "Error: tiers by customer value need customer value; drop --no-clv or choose --tiers spend\n"
    result = run(root, "flag", "--model", "m1", "--as-of", SCORE, "--cohort", "c", "--max-users", "0")
    assert result.exit_code == 1 and result.output == "Error: --max-users must be at least 1, got 0\n"


def test_features_and_score_with_features_feed_uplift(files, trained):
    root, _ = files
    out = root / "features.parquet"
    result = run(root, "features", "--as-of", SCORE, "--out", str(out))
    assert result.exit_code == 0, result.output
    features = pd.read_parquet(out)
    n_users = SHOP.events.loc[SHOP.events["ts"] < "2026-06-30", "user_id"].nunique()
    assert len(features) == n_users and features.columns[0] == "user_id"
    assert result.output == f"wrote {features.shape[1] - 1} features of {n_users:,} users as of {SCORE} into {out}\n"
    assert features.shape[1] - 1 >= 80  # issue 11: the ~90 churn features
    scores = root / "scores.csv"
    result = run(root, "score", "--model", "m1", "--as-of", SCORE, "--out", str(scores), "--with-features")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(scores, dtype={"user_id": str})
    assert list(scored.columns) == ["user_id", "risk", "clv", "stage", "tier", "reason", *features.columns[1:]]
    merged = scored.merge(features, on="user_id", suffixes=("", "_f"))
    assert np.allclose(merged["spend"], merged["spend_f"], atol=1e-6)
    result = run(root, "features", "--as-of", SCORE, "--out", str(root / "features.xlsx"))
    assert result.exit_code == 2 and result.output.splitlines()[-1] == (
        f"Error: Invalid value for '--out': {root / 'features.xlsx'}: write .csv or .parquet")


def test_bad_event_type_is_one_clean_error_line(files, tmp_path):
    root, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,event_type,ts,amount\n0001,order,2026-01-01,5\n0001,teleport,2026-01-02,0\n")
    result = run(root, "load", "--events", str(bad))
    assert result.exit_code == 1
    assert result.output == (f"Error: {bad}, row 2, column 'event_type': unknown event type 'teleport'; "
                             f"known types: {', '.join(EVENT_TYPES)}; or load with --unknown-events skip "
                             "(Python: unknown_events='skip') to leave rows of unknown types out\n")


def test_unknown_model_bad_date_and_missing_option(files):
    root, _ = files
    result = run(root, "score", "--model", "nope", "--as-of", SCORE, "--out", str(root / "x.csv"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: no model named 'nope' in the registry; known models: ")
    result = run(root, "flag", "--model", "m1", "--as-of", "someday", "--cohort", "c")
    assert result.exit_code == 1
    assert result.output == "Error: as-of date 'someday' is not a date; use YYYY-MM-DD\n"
    result = run(root, "train", "--horizon-days", "60", "--name", "m2")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: Missing option '--as-of'."


def test_every_command_has_help():
    for command in ("load", "train", "features", "score", "flag"):
        result = CliRunner().invoke(cli, ["churn", command, "--help"])
        assert result.exit_code == 0 and "--db" in result.output and "--warehouse" in result.output


def test_train_without_a_later_date_says_it_fitted_fewer_users_and_why(tmp_path):
    """The shop's events end 2026-06-30: labels of 2026-04-29 + 60 days are unknown, so training as of 2026-04-29
    validates on a stratified holdout of the users, who are then not fitted on."""
    events = tmp_path / "events.csv"
    SHOP.events.assign(ts=SHOP.events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(events, index=False)
    result = run(tmp_path, "train", "--events", str(events), "--as-of", VALIDATE, "--horizon-days", "60",
                 "--name", "late")
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()[:2]
    fitted, held, total = (int(x.replace(",", "")) for x in re.match(
        r"model late: trained as of 2026-04-29 on ([\d,]+) users \(([\d,]+) more held out to validate\)", first)
        .groups() + (re.search(r"on the ([\d,]+) held-out users", second).group(1),))
    assert held == total and fitted > held
    assert "the events end before 2026-06-28 + 60 days, so no later date can be checked" in second


def test_scoring_past_the_events_warns_and_a_near_model_name_is_suggested(files, trained):
    """SHOP's events end the day before its as-of 2026-06-30; scoring as of 2026-08-30 makes every user 62 days
    more idle than the data shows. Scoring as of 2026-06-29 (SCORE) says nothing."""
    root, _ = files
    assert trained.exit_code == 0, trained.output
    last = SHOP.events["ts"].max().normalize()
    gap = (pd.Timestamp("2026-08-30") - last).days
    result = run(root, "score", "--model", "m1", "--as-of", "2026-08-30", "--out", str(root / "late.csv"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Warning: the warehouse's events end {last.date()}, {gap} days before --as-of 2026-08-30: every user looks "
        f"{gap} days more idle than the data can tell; use --as-of {last.date()}, or load newer events")
    assert "Warning" not in run(root, "score", "--model", "m1", "--as-of", SCORE, "--out", str(root / "x.csv")).output
    result = run(root, "score", "--model", "m2x", "--as-of", SCORE, "--out", str(root / "x.csv"))
    assert result.output.startswith("Error: no model named 'm2x' in the registry; known models: ")
    result = run(root, "score", "--model", "m11", "--as-of", SCORE, "--out", str(root / "x.csv"))
    assert result.output.startswith("Error: no model named 'm11' in the registry (did you mean 'm1'?); known models: ")
