"""The new steps of the loop through the CLI on a real registry file: exact output lines and files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from winback.cli import cli


@pytest.fixture
def run(tmp_path):
    db = str(tmp_path / "registry.db")

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [*args, "--db", db], input=input)

    return invoke


@pytest.fixture
def running(run, tmp_path):
    """A running 3-arm experiment with 3,000 users assigned from a file and retained outcomes imported."""
    run("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", "8")
    run("treatment", "add", "reco_email", "--kind", "recommendation", "--unit-cost", "0.5")
    run("metric", "add", "retained", "--kind", "binary")
    run("metric", "add", "unsubscribed", "--kind", "binary", "--lower-is-better")
    created = run("experiment", "create", "wb", "--name", "WB", "--primary-metric", "retained",
                  "--arm", "control:-:0.34", "--arm", "coupon:coupon_10:0.33", "--arm", "reco:reco_email:0.33",
                  "--guardrail", "unsubscribed")
    assert created.exit_code == 0, created.output
    assert run("experiment", "start", "wb").exit_code == 0
    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"{i:05d}" for i in range(3000)]}).to_csv(users, index=False)
    assert run("experiment", "assign", "wb", "--users", str(users)).exit_code == 0
    return tmp_path


def test_assignments_export_is_the_crm_send_list(run, running):
    out = running / "send" / "wb.parquet"
    result = run("experiment", "assignments", "wb", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["user_id", "arm", "treatment_key", "assigned_at"] and len(frame) == 3000
    arms = dict(zip(frame["arm"], frame["treatment_key"]))
    assert arms["coupon"] == "coupon_10" and arms["reco"] == "reco_email" and pd.isna(arms["control"])
    assert result.output.startswith(f"3,000 assignments written to {out} (")
    coupon = run("experiment", "assignments", "wb", "--out", str(running / "coupon.csv"), "--arm", "coupon")
    assert set(pd.read_csv(running / "coupon.csv")["arm"]) == {"coupon"}, coupon.output
    bad = run("experiment", "assignments", "wb", "--out", str(running / "x.csv"), "--arm", "cupon")
    assert bad.output == ("Error: experiment 'wb': unknown arm 'cupon' (did you mean 'coupon'?); "
                          "known arms: control, coupon, reco\n")


def test_an_experiment_without_outcomes_says_so_instead_of_ok(run, running):
    result = run("analyze", "wb")
    assert result.exit_code == 0, result.output
    assert "  [--  ] Users without outcomes: no outcomes imported yet" in result.output.splitlines()
    assert "SRM: p = " in result.output and "(ok)" in result.output


def write_outcomes(run, running, with_typo: bool = False):
    exported = running / "all.csv"
    run("experiment", "assignments", "wb", "--out", str(exported))
    arms = pd.read_csv(exported, dtype=str)
    rng = np.random.default_rng(1)
    p = arms["arm"].map({"control": 0.25, "coupon": 0.40, "reco": 0.30}).to_numpy()
    frame = pd.DataFrame({"experiment_key": "wb", "user_id": arms["user_id"], "metric": "retained",
                          "value": (rng.random(len(arms)) < p).astype(int)})
    path = running / "outcomes.csv"
    frame.to_csv(path, index=False)
    return path


def test_flat_csv_and_strict_json_exports(run, running):
    run("import", "outcomes", str(write_outcomes(run, running)))
    out = running / "report.csv"
    result = run("analyze", "wb", "--out", str(out), "--value-per-retained", "50")
    assert result.output == f"4 rows written to {out}\n"
    rows = pd.read_csv(out)
    assert list(rows[["arm", "metric"]].itertuples(index=False, name=None)) == [
        ("coupon", "retained"), ("coupon", "unsubscribed"), ("reco", "retained"), ("reco", "unsubscribed")]
    coupon = rows.iloc[0]
    # cost per incremental retained user = cost / (n_treatment x absolute uplift) (stats.money, Fieller point)
    uplift = coupon["mean_treatment"] - coupon["mean_control"]
    assert coupon["cost_per_retained"] == pytest.approx(coupon["total_cost"] / (coupon["n_treatment"] * uplift))
    assert coupon["total_cost"] == pytest.approx(8.0 * coupon["n_treatment"])  # no deliveries: unit cost x users
    text = run("analyze", "wb", "--json").output
    assert "NaN" not in text and "Infinity" not in text and '"inf"' not in text
    parsed = json.loads(text)
    unsub = next(r for r in parsed["report"]["results"] if r["metric"] == "unsubscribed")
    assert unsub["comparison"]["effect"] is None and "undefined" in unsub["comparison"]
    assert [c["name"] for c in parsed["health"]["checks"]][0] == "srm"


def test_import_list_and_undo(run, running):
    path = write_outcomes(run, running)
    assert run("import", "outcomes", str(path)).output.endswith("(import 1)\n")
    listed = run("import", "list").output.splitlines()
    assert len(listed) == 1 and listed[0].split()[:2] == ["1", "outcomes"]
    assert run("import", "undo", "1", "--yes").output == "import 1 undone: its 3,000 outcomes rows removed\n"
    assert "UNDONE" in run("import", "list").output
    assert run("import", "undo", "7", "--yes").output == (
        "Error: unknown import '7'; known imports: 1; see `winback import list`\n")


def test_drafts_edit_and_delete_through_the_cli(run, running):
    run("experiment", "create", "d1", "--name", "Draft", "--primary-metric", "retained", "--arm", "c:-:0.5",
        "--arm", "t:coupon_10:0.5")
    assert run("experiment", "edit", "d1", "--name", "Renamed").output == "experiment d1 updated: name\n"
    assert run("experiment", "edit", "d1", "--hypothesis", "h", "--arm", "c:-:0.5", "--arm", "t:coupon_10:0.5",
               "--value-per-retained", "60").output == (
        "experiment d1 updated: hypothesis; value per retained; arms c, t\n")  # what changed, not always the arms
    assert run("experiment", "edit", "wb", "--name", "x").output == (
        "Error: experiment 'wb' is running; only drafts can be edited\n")
    assert run("experiment", "delete", "d1", "--yes").output == "experiment d1 deleted\n"
    assert run("treatment", "add", "coupon_10", "--kind", "coupon", "--unit-cost", "123").exit_code == 1
    assert run("treatment", "update", "coupon_10", "--unit-cost", "123").output == (
        "treatment coupon_10 updated: coupon, unit cost 123\n")


def test_plan_prints_size_detectable_effect_and_days(run, running):
    result = run("plan", "--metric", "retained", "--baseline", "0.3", "--mde", "0.1", "--weights", "0.5,0.5",
                 "--daily-traffic", "1000")
    # R: power.prop.test(p1 = 0.30, p2 = 0.33, power = 0.8) gives n = 3762.6 per group -> 3,763 (7,526 in all)
    assert result.output.splitlines()[1] == ("To detect +10.0% with 80% power at alpha 0.05: 7,526 users in all "
                                             "(3,763 control, 3,763 in the smallest treatment arm)")
    assert result.output.splitlines()[2] == "Duration at 1,000 eligible users a day: 8 days"
    bad = run("plan", "--metric", "retaind", "--baseline", "0.3")
    assert bad.output.startswith("Error: unknown metric 'retaind' (did you mean 'retained'?)")


def test_plan_with_weights_that_do_not_sum_to_one_says_how_it_read_them(run, running):
    # 0.5 and 0.6 are planned as shares 0.5/1.1 = 0.455 and 0.6/1.1 = 0.545; create would refuse them
    result = run("plan", "--metric", "retained", "--baseline", "0.3", "--weights", "0.5,0.6")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == ("note: the weights sum to 1.1: planned as the shares 0.455, 0.545; "
                                              "`winback experiment create` needs weights that sum to 1")
    assert "the weights sum to" not in run("plan", "--metric", "retained", "--baseline", "0.3").output


def test_plan_without_history_asks_for_every_input_a_continuous_metric_needs(tmp_path):
    db = str(tmp_path / "fresh.db")
    CliRunner().invoke(cli, ["metric", "add", "revenue", "--kind", "continuous", "--db", db])
    CliRunner().invoke(cli, ["metric", "add", "kept", "--kind", "binary", "--db", db])
    result = CliRunner().invoke(cli, ["plan", "--metric", "revenue", "--db", db])
    assert result.output == ("Error: no past outcomes of 'revenue' to estimate a baseline from; give --baseline and "
                             "--variance\n")  # not --baseline alone, which then fails for want of --variance
    result = CliRunner().invoke(cli, ["plan", "--metric", "kept", "--db", db])
    assert result.output == "Error: no past outcomes of 'kept' to estimate a baseline from; give --baseline\n"


def test_plan_json_says_which_input_a_null_is_missing(run, running):
    plan = json.loads(run("plan", "--metric", "retained", "--baseline", "0.3", "--daily-traffic", "100", "--json").output)
    assert plan["days"] is not None and plan["detectable_relative"] is None
    assert plan["undefined"] == {"detectable_relative": "no cohort given: no detectable effect"}  # not "undefined"


def test_plan_baseline_from_past_experiments_names_its_source_plainly(run, running):
    run("experiment", "assignments", "wb", "--out", str(running / "send.csv"))
    sent = pd.read_csv(running / "send.csv", dtype=str)
    control = sent[sent["arm"] == "control"]["user_id"]
    pd.DataFrame({"experiment_key": "wb", "user_id": control, "metric": "retained",
                  "value": [1 if i % 4 == 0 else 0 for i in range(len(control))]}).to_csv(running / "o.csv", index=False)
    assert run("import", "outcomes", str(running / "o.csv")).exit_code == 0
    first = run("plan", "--metric", "retained").output.splitlines()[0]
    rate = sum(1 for i in range(len(control)) if i % 4 == 0) / len(control)  # every 4th control user retained
    assert first == (f"Metric retained: baseline rate {rate:.4g} (control arms of past experiments, "
                     f"{len(control):,} users)")  # not "(... experiments (1,020 users))"


def test_options_with_bounds_and_chart_suffix(run, running):
    assert run("experiment", "assign", "wb", "--cap-window-days", "-30").exit_code == 2
    chart = run("analyze", "wb", "--chart", str(running / "chart.txt"))
    assert chart.exit_code == 2 and "use a .png, .svg or .pdf file name" in chart.output
