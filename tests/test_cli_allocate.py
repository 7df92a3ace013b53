"""CLI: the defaults of `winback allocate` (issue 15, item 4) on hand-made scores whose best plan is known.

Expected plans come from exhaustive search over every assignment of the six users (3^6 plans).
"""
from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from winback.cli import cli

SCORES = pd.DataFrame({
    "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
    "a": [0.30, 0.05, -0.10, 0.20, 0.00, 0.10],
    "b": [0.10, 0.40, -0.20, 0.25, 0.00, -0.05],
})
COSTS = {"a": 2.0, "b": 5.0}


def best_retained(budget: float) -> float:
    """Exhaustive search: the most incremental retained users any plan buys within the budget."""
    best = 0.0
    for plan in itertools.product([None, "a", "b"], repeat=len(SCORES)):
        cost = sum(COSTS[t] for t in plan if t)
        if cost <= budget:
            best = max(best, sum(SCORES[t].iloc[i] for i, t in enumerate(plan) if t))
    return best


def run(tmp_path, scores: pd.DataFrame, costs: dict, *args: str):
    scores_path, costs_path, out = tmp_path / "scores.csv", tmp_path / "costs.json", tmp_path / "plan.csv"
    scores.to_csv(scores_path, index=False)
    costs_path.write_text(json.dumps(costs))
    result = CliRunner().invoke(cli, ["allocate", "--scores", str(scores_path), "--costs", str(costs_path),
                                      "--out", str(out), *args])
    plan = pd.read_csv(out, keep_default_na=False) if out.exists() else None
    return result, plan, out


def test_no_value_maximizes_incremental_retained_users_within_budget(tmp_path):
    result, plan, out = run(tmp_path, SCORES, COSTS, "--budget", "10")
    assert result.exit_code == 0, result.output
    assert best_retained(10) == pytest.approx(0.9)
    assert plan["expected_uplift"].sum() == pytest.approx(0.9)
    assert dict(zip(plan["user_id"], plan["treatment_key"])) == {"u1": "a", "u2": "b", "u3": "", "u4": "a", "u5": "",
                                                                 "u6": ""}
    assert result.output.splitlines() == [
        "treated 3 of 6 users (a 2, b 1); held out 0; cost 9.00 of 10.00",
        f"expected incremental retained users 0.9 -> {out}",
    ]


def test_control_may_be_listed_at_zero_cost_and_as_a_score_column(tmp_path):
    scores = SCORES.assign(control=0.0)
    result, plan, _ = run(tmp_path, scores, {"control": 0, **COSTS}, "--budget", "10")
    assert result.exit_code == 0, result.output
    assert plan["expected_uplift"].sum() == pytest.approx(0.9)
    assert "control" not in set(plan["treatment_key"])


def test_plan_that_treats_nobody_says_why(tmp_path):
    negative = SCORES.assign(a=-SCORES["a"].abs() - 0.01, b=-SCORES["b"].abs() - 0.01)
    result, _, out = run(tmp_path, negative, COSTS, "--budget", "10")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "treated 0 of 6 users (none); held out 0; cost 0.00 of 10.00",
        f"expected incremental retained users 0.0 -> {out}",
        "note: no user has a positive predicted uplift for any treatment, so there is nothing worth buying",
    ]


def test_plan_leaving_more_than_a_fifth_of_the_budget_says_why(tmp_path):
    result, plan, _ = run(tmp_path, SCORES, COSTS, "--budget", "100")
    assert result.exit_code == 0, result.output
    # Every user with positive uplift gets the treatment with the largest: u1 a, u2 b, u4 b, u6 a (cost 14).
    assert plan["cost"].sum() == 14.0
    assert result.output.splitlines()[2:] == [
        "note: every user with a positive predicted uplift is treated (4 of 6); the rest of the budget would buy nothing",
        "note: 86.00 of the 100.00 budget is left unspent",
    ]


def test_value_too_small_for_the_costs_says_what_would_be_needed(tmp_path):
    result, _, _ = run(tmp_path, SCORES, COSTS, "--budget", "10", "--value-per-retained", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "note: no user's expected value (uplift × value per retained user) exceeds a treatment's cost: the best is "
        "0.3 against a's cost 2; give a larger value per retained user, or none to maximize incremental retained "
        "users within budget")


def test_value_per_retained_clv_reads_the_per_user_column(tmp_path):
    # u2 is worth 100 (b: 0.40 x 100 - 5 = 35 net), the others 1: only u2 is worth treating.
    scores = SCORES.assign(clv=[1.0, 100.0, 1.0, 1.0, 1.0, 1.0])
    result, plan, _ = run(tmp_path, scores, COSTS, "--budget", "10", "--value-per-retained", "clv")
    assert result.exit_code == 0, result.output
    assert dict(zip(plan["user_id"], plan["treatment_key"]))["u2"] == "b"
    assert (plan["treatment_key"] != "").sum() == 1
    # 0.40 x 100 = 40 of value for b's cost of 5: a finance reader needs the net beside the gross.
    assert result.output.splitlines()[1].startswith("expected incremental retained users 0.4; value 40.00, net of cost 35.00 -> ")


def test_money_lines_name_the_currency_when_one_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_CURRENCY", "EUR")
    scores = SCORES.assign(clv=[1.0, 100.0, 1.0, 1.0, 1.0, 1.0])
    result, _, out = run(tmp_path, scores, COSTS, "--budget", "10", "--value-per-retained", "clv")
    assert result.output.splitlines()[:2] == [
        "treated 1 of 6 users (b 1); held out 0; cost 5.00 of 10.00 EUR",
        f"expected incremental retained users 0.4; value 40.00, net of cost 35.00 EUR -> {out}",
    ]


def test_clv_column_is_not_taken_for_a_treatment_when_unused(tmp_path):
    result, plan, _ = run(tmp_path, SCORES.assign(clv=50.0), COSTS, "--budget", "10")
    assert result.exit_code == 0, result.output
    assert plan["expected_uplift"].sum() == pytest.approx(0.9)


def test_holdout_keeps_a_random_share_of_each_treatments_users_untreated(tmp_path):
    big = pd.DataFrame({"user_id": [f"u{i}" for i in range(200)], "a": 0.2, "b": 0.1})
    result, plan, _ = run(tmp_path, big, COSTS, "--budget", "400", "--holdout", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert (plan["planned_treatment"] == "a").sum() == 200
    assert (plan["arm"] == "holdout").sum() == 50 and (plan["arm"] == "a").sum() == 150
    assert set(plan.loc[plan["arm"] == "holdout", "treatment_key"]) == {""}
    assert plan.loc[plan["arm"] == "holdout", "cost"].sum() == 0
    assert result.output.splitlines()[0] == "treated 150 of 200 users (a 150); held out 50; cost 300.00 of 400.00"
    # With room to spare (a for all 200 users costs 400.00 of 800.00) the notes speak of the plan, then say what
    # the held-out users' treatments leave unsent, so the send list's spend is stated too.
    result, plan, _ = run(tmp_path, big, COSTS, "--budget", "800", "--holdout", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "note: 400.00 of the 800.00 budget is left unspent" in result.output
    assert ("note: the 50 held-out users' treatments (100.00) are not sent: the send list spends 300.00 of the "
            "800.00 budget") in result.output
    # A plan that spends its whole budget says nothing of its own, but a 25 % holdout leaves a quarter unsent.
    result, _, _ = run(tmp_path, big, COSTS, "--budget", "400", "--holdout", "0.25", "--seed", "3")
    assert ("note: the 50 held-out users' treatments (100.00) are not sent: the send list spends 300.00 of the "
            "400.00 budget") in result.output
    result, _, _ = run(tmp_path, big, COSTS, "--budget", "400", "--holdout", "0.1", "--seed", "3")
    assert "note:" not in result.output  # 10 % unsent: under the fifth that earns a note


def test_holdout_out_of_range_is_one_clean_line(tmp_path):
    result, _, _ = run(tmp_path, SCORES, COSTS, "--budget", "10", "--holdout", "1")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "Error: --holdout must be at least 0 and below 1, got 1.0"


def _catalog(tmp_path, capacity_a: int | None):
    """A registry whose catalog holds treatments a (capacity `capacity_a`) and b, at COSTS."""
    db = tmp_path / "registry.db"
    runner = CliRunner()
    for key, cap in (("a", capacity_a), ("b", None)):
        extra = ["--capacity", str(cap)] if cap is not None else []
        done = runner.invoke(cli, ["treatment", "add", key, "--kind", "coupon", "--unit-cost", str(COSTS[key]),
                                   "--db", str(db), *extra])
        assert done.exit_code == 0, done.output
    return db


def test_the_catalogs_capacity_bounds_the_plan_unless_capacity_is_given(tmp_path):
    # Catalog: a serves at most 1 user. Exhaustive search with a capped at 1 and budget 10: u1->a (0.30),
    # u2->b (0.40) = 0.70 for 7.00; without the cap, u1->a, u2->b, u4->a = 0.90 (the first test).
    db = _catalog(tmp_path, capacity_a=1)
    result, plan, _ = run(tmp_path, SCORES, COSTS, "--budget", "10", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert (plan["treatment_key"] == "a").sum() == 1
    assert plan["expected_uplift"].sum() == pytest.approx(0.7)
    assert "note: a is at its capacity of 1 users" in result.output
    result, plan, _ = run(tmp_path, SCORES, COSTS, "--budget", "10", "--db", str(db), "--capacity", "a=5")
    assert result.exit_code == 0, result.output
    assert plan["expected_uplift"].sum() == pytest.approx(0.9)


def test_a_taken_record_key_is_refused_before_any_plan_file_is_written(tmp_path):
    db = _catalog(tmp_path, capacity_a=None)
    first, _, out = run(tmp_path, SCORES, COSTS, "--budget", "10", "--db", str(db), "--record", "plan-x")
    assert first.exit_code == 0, first.output
    out.unlink()
    again, plan, out = run(tmp_path, SCORES, COSTS, "--budget", "10", "--db", str(db), "--record", "plan-x")
    assert again.exit_code == 1
    assert again.output == "Error: an experiment or plan named 'plan-x' already exists; choose another key\n"
    assert plan is None and not out.exists()


def test_a_plan_the_registry_refuses_leaves_no_send_list(tmp_path):
    db = _catalog(tmp_path, capacity_a=None)
    negative = SCORES.assign(a=-SCORES["a"].abs() - 0.01, b=-SCORES["b"].abs() - 0.01)
    result, plan, out = run(tmp_path, negative, COSTS, "--budget", "10", "--db", str(db), "--record", "plan-y")
    assert result.exit_code == 1
    assert result.output.startswith("Error: plan 'plan-y' treats nobody, so there is nothing to record: ")
    assert not out.exists()


@pytest.mark.parametrize(("costs", "message"), [
    ({"a": 2.0}, "no unit cost for b, which the scores have; add \"b\": COST to it"),
    ({"a": 2.0, "bb": 5.0}, "'bb' is not a treatment of the scores (did you mean 'b'?); their treatments are a, b"),
])
def test_a_costs_file_that_misses_or_misspells_a_treatment_is_named_with_the_fix(tmp_path, costs, message):
    result, plan, _ = run(tmp_path, SCORES, costs, "--budget", "10")
    assert result.exit_code == 1 and plan is None
    assert result.output == f"Error: {tmp_path / 'costs.json'}: {message}\n"
