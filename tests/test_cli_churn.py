"""`winback churn ...` end to end on real files: exit codes and exact output / Error lines."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from churn.events import EVENT_TYPES
from simulator.shop import generate_shop
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


def test_train_score_flag(files):
    root, events = files
    result = run(root, "train", "--events", str(events), "--as-of", TRAIN, "--horizon-days", "60", "--name", "m1",
                 "--validate-as-of", VALIDATE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"model m1: trained as of {TRAIN} on ")
    assert lines[1].startswith(f"validated as of {VALIDATE} (later_date, ")
    assert lines[-1] == f"saved to {(root / 'models' / 'churn-m1.joblib').resolve()}"

    out = root / "scores.csv"
    result = run(root, "score", "--model", "m1", "--as-of", SCORE, "--out", str(out))  # events already loaded
    n_users = SHOP.events.loc[SHOP.events["ts"] < "2026-06-30", "user_id"].nunique()
    assert result.exit_code == 0, result.output
    assert result.output == f"scored {n_users} users as of {SCORE} with m1 into {out}\n"
    scored = pd.read_csv(out, dtype={"user_id": str})
    assert list(scored.columns) == ["user_id", "risk", "stage", "tier", "reason"]
    assert scored["user_id"].str.len().eq(7).all()

    result = run(root, "flag", "--model", "m1", "--as-of", SCORE, "--cohort", "at-risk", "--top", "100")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"cohort at-risk: 100 of {n_users} users flagged by m1 as of {SCORE} (")
    assert result.output.endswith("; rule: top 100)\n")


def test_bad_event_type_is_one_clean_error_line(files, tmp_path):
    root, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,event_type,ts,amount\n0001,order,2026-01-01,5\n0001,teleport,2026-01-02,0\n")
    result = run(root, "load", "--events", str(bad))
    assert result.exit_code == 1
    assert result.output == (f"Error: {bad}, row 2, column 'event_type': unknown event type 'teleport'; "
                             f"known types: {', '.join(EVENT_TYPES)}\n")


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
    for command in ("load", "train", "score", "flag"):
        result = CliRunner().invoke(cli, ["churn", command, "--help"])
        assert result.exit_code == 0 and "--db" in result.output and "--warehouse" in result.output
