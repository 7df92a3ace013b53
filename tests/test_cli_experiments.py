"""The registry CLI end to end on a real registry file: exit codes and exact output lines."""
from __future__ import annotations

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from winback.cli import cli


@pytest.fixture
def run(tmp_path):
    db = str(tmp_path / "registry.db")

    def invoke(*args: str):
        return CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)

    return invoke


def setup_experiment(run) -> None:
    assert run("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", "8").output == \
        "treatment coupon_10: coupon, unit cost 8\n"
    run("treatment", "add", "reco_email", "--kind", "recommendation", "--unit-cost", "0.5")
    run("metric", "add", "retained", "--kind", "binary")
    run("metric", "add", "unsubscribed", "--kind", "binary", "--lower-is-better")
    result = run("experiment", "create", "wb-1", "--name", "Win back Q4", "--primary-metric", "retained",
                 "--arm", "control:-:0.5", "--arm", "coupon:coupon_10:0.25", "--arm", "reco:reco_email:0.25",
                 "--guardrail", "unsubscribed")
    assert result.exit_code == 0, result.output
    assert result.output == "experiment wb-1 created as draft with arms control, coupon, reco\n"


def test_full_lifecycle_through_the_cli(run, tmp_path):
    setup_experiment(run)
    assert run("experiment", "start", "wb-1").output == ("experiment wb-1 is running; it has no target cohort: "
                                                         "assign users from a file\n")
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"{i:05d}" for i in range(1000)]}).to_csv(users, index=False)
    run("optout", "add", "00000", "00001", "--reason", "asked")
    result = run("experiment", "assign", "wb-1", "--users", str(users))
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == (
        "1,000 candidates: 998 newly assigned, 0 already, 2 opted out, 0 in another experiment of the layer, "
        "0 over the contact cap, 0 outside coverage"
    )
    again = run("experiment", "assign", "wb-1", "--users", str(users))
    assert again.output.splitlines()[0].startswith("1,000 candidates: 0 newly assigned, 998 already")
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"experiment_key": "wb-1", "user_id": [f"{i:05d}" for i in range(2, 1000)], "metric": "retained",
                  "value": 1}).to_csv(outcomes, index=False)
    assert run("import", "outcomes", str(outcomes)).output == f"{outcomes}: 998 rows, 998 new, 0 already present (import 1)\n"
    assert run("experiment", "stop", "wb-1").exit_code == 0
    decided = run("decide", "wb-1", "--winner", "coupon", "--rationale", "cheapest per retained user", "--by", "ana")
    assert decided.output == "experiment wb-1 concluded: winner coupon (decided by ana)\n"
    again = run("decide", "wb-1", "--winner", "reco", "--rationale", "second thoughts", "--by", "bo")
    assert again.exit_code == 1 and again.output.startswith(
        "Error: experiment 'wb-1' is already concluded: winner 'coupon', decided by ana at ")
    assert again.output.endswith("; a decision is final\n")
    shown = run("experiment", "show", "wb-1").output.splitlines()
    assert shown[0] == "wb-1: Win back Q4 [concluded]  layer default, coverage 1"
    assert shown[-1].endswith("by ana: winner coupon (cheapest per retained user)")
    audit = [line.split()[1:] for line in run("experiment", "audit", "wb-1").output.splitlines()]
    # Starting takes a first snapshot (as the web's Start button and the API do): one service, every door.
    assert [entry[1] for entry in audit if entry[2] == "experiment"] == [
        "create", "running", "snapshot", "assign", "snapshot", "assign", "snapshot", "stopped", "decide"]
    assert audit[-1][0] == "ana"


def test_cohort_list(run, tmp_path):
    from experiments.cohorts import write_cohort

    frame = pd.DataFrame({"user_id": ["001", "002"], "risk": [0.9, 0.7], "stage": "at_risk", "tier": "regular",
                          "reason": "price_sensitive", "model": "m1", "scored_at": "2026-11-20T00:00:00.000000Z"})
    write_cohort(frame, "at-risk", tmp_path / "registry.db")
    assert run("cohort", "list").output == (
        "at-risk                  v1          2 users  mean risk 0.800  model m1  as of unknown  "
        "scored 2026-11-20T00:00:00\n"
    )


def test_errors_are_one_clean_line(run, tmp_path):
    setup_experiment(run)
    result = run("experiment", "assign", "wb-1")
    assert result.exit_code == 1
    assert result.output == "Error: experiment 'wb-1' is draft; start it before assigning users\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment_key,user_id,value\nwb-1,1,1\n")
    result = run("import", "outcomes", str(bad))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {bad}, column 'metric': missing required column; the file has: experiment_key, user_id, value\n"
    )
    result = run("experiment", "create", "wb-2", "--name", "x", "--primary-metric", "retained", "--arm", "a:b")
    assert result.output == "Error: arm 'a:b' must look like NAME:TREATMENT:WEIGHT (TREATMENT '-' for none)\n"
    assert run("experiment", "start", "nope").output == "Error: unknown experiment 'nope'; known experiments: wb-1\n"


def test_every_command_documents_itself():
    """Each command and group has help text (a command without docs fails here)."""
    runner = CliRunner()

    def walk(group, path):
        for name, command in group.commands.items():
            assert command.help, f"`winback {' '.join(path + [name])}` has no help text"
            for option in command.params:  # and each option says what it does (uplift prove --learner did not)
                if isinstance(option, click.Option) and option.name != "help":
                    assert option.help, f"`winback {' '.join(path + [name])} {option.opts[0]}` has no help text"
            result = runner.invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output
            if hasattr(command, "commands"):
                walk(command, path + [name])

    walk(cli, [])


def test_an_assignment_that_assigns_nobody_says_why_and_what_to_do(run, tmp_path):
    setup_experiment(run)  # wb-1 in the default layer
    run("experiment", "start", "wb-1")
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"{i:05d}" for i in range(1200)]}).to_csv(users, index=False)
    run("experiment", "assign", "wb-1", "--users", str(users))
    run("experiment", "create", "wb-2", "--name", "Same layer", "--primary-metric", "retained",
        "--arm", "control:-:0.5", "--arm", "coupon:coupon_10:0.5")
    run("experiment", "start", "wb-2")
    result = run("experiment", "assign", "wb-2", "--users", str(users))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "1,200 candidates: 0 newly assigned, 0 already, 0 opted out, 1,200 in another experiment of the layer, "
        "0 over the contact cap, 0 outside coverage",
        "arm sizes: control 0, coupon 0",
        "warning: nobody is assigned; 1,200 in another running experiment of the same layer: stop that one, or "
        "create this one in another --layer",
    ]


def test_an_arm_past_its_treatments_catalog_capacity_is_warned_about(run, tmp_path):
    """vip_care can serve 100 users; half of 1,000 users in its arm is more than it can serve."""
    run("treatment", "add", "vip_care", "--kind", "vip_service", "--unit-cost", "25", "--capacity", "100")
    run("metric", "add", "retained", "--kind", "binary")
    run("experiment", "create", "vip", "--name", "VIP", "--primary-metric", "retained",
        "--arm", "control:-:0.5", "--arm", "vip:vip_care:0.5")
    run("experiment", "start", "vip")
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"{i:05d}" for i in range(1000)]}).to_csv(users, index=False)
    result = run("experiment", "assign", "vip", "--users", str(users))
    assert result.exit_code == 0, result.output
    n = int(result.output.splitlines()[1].split("vip ")[1].replace(",", ""))  # "arm sizes: control N, vip M"
    assert n > 100
    assert result.output.splitlines()[2] == (
        f"warning: arm vip gives vip_care to {n:,} users, more than its capacity of 100 in the catalog: the users "
        "past it cannot be served, yet the analysis counts every user of the arm (assign fewer users, or raise the "
        "capacity with `winback treatment update vip_care --capacity N`)")
    run("treatment", "update", "vip_care", "--capacity", "1000")
    assert "warning" not in run("experiment", "assign", "vip", "--users", str(users)).output


def test_decide_on_a_misspelled_arm_names_the_closest_one(run, tmp_path):
    setup_experiment(run)
    run("experiment", "start", "wb-1")
    run("experiment", "stop", "wb-1")
    result = run("decide", "wb-1", "--winner", "copon", "--rationale", "cheapest", "--by", "ana")
    assert result.exit_code == 1
    assert result.output == ("Error: experiment 'wb-1': unknown arm 'copon' (did you mean 'coupon'?); "
                             "known arms: control, coupon, reco\n")


def test_a_misspelled_column_is_named_as_one_and_leaves_the_registry_unchanged(run, tmp_path):
    setup_experiment(run)
    run("experiment", "start", "wb-1")
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"{i:05d}" for i in range(20)]}).to_csv(users, index=False)
    run("experiment", "assign", "wb-1", "--users", str(users))
    rows = pd.DataFrame({"experiment_key": "wb-1", "user_id": [f"{i:05d}" for i in range(20)], "metric": "retained",
                         "value": 1, "observed": "2030-01-01T00:00:00Z"})
    bad = tmp_path / "bad.csv"
    rows.rename(columns={"metric": "metrc"}).to_csv(bad, index=False)
    result = run("import", "outcomes", str(bad))
    assert result.exit_code == 1
    assert result.output == (f"Error: {bad}, column 'metric': missing required column (is 'metrc' a misspelling of "
                             "it?); the file has: experiment_key, user_id, metrc, value, observed\n")
    assert run("import", "list").output.strip() in ("", "no imports yet")
    good = tmp_path / "good.csv"
    rows.to_csv(good, index=False)
    result = run("import", "outcomes", str(good))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == ("  note: column 'observed' is not one Winback reads (did you mean "
                                             "'observed_at'?); it was ignored")


def test_editing_one_arm_says_that_arm_replaces_them_all(run):
    setup_experiment(run)
    result = run("experiment", "edit", "wb-1", "--arm", "coupon:coupon_10:0.6")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: --arm replaces all arms: repeat it for every arm, the control "
                                              "included")
    assert "arm coupon           treatment coupon_10        weight 0.25" in run("experiment", "show", "wb-1").output


def test_treatment_costs_name_the_currency_when_one_is_set(run, monkeypatch):
    monkeypatch.setenv("WINBACK_CURRENCY", "EUR")
    assert run("treatment", "add", "vip_care", "--kind", "vip_service", "--unit-cost", "25", "--capacity",
               "200").output == "treatment vip_care: vip_service, unit cost 25 EUR\n"
    assert run("treatment", "list").output == (
        "vip_care             vip_service     cost    25.00 EUR  capacity 200        vip_care\n")
