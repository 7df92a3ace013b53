"""`winback demo` end to end on a small shop: every stage leaves its trace in a real registry file."""
from __future__ import annotations

import json
import re

from click.testing import CliRunner

from experiments.cohorts import read_cohort
from experiments.db import open_registry
from experiments.definitions import get_experiment
from experiments.lifecycle import list_decisions
from experiments.models import list_model_records
from experiments.plans import failed_guardrails
from winback.cli import cli


def test_demo_builds_a_registry_with_a_finished_experiment(tmp_path):
    db = tmp_path / "registry.db"
    result = CliRunner().invoke(
        cli, ["demo", "--db", str(db), "--users", "3000", "--workdir", str(tmp_path / "work"), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["event_types"] >= 20
    assert 0.5 < summary["churn_validation_auc"] <= 1.0

    experiment = get_experiment("demo-winback", db)
    assert experiment.status == "concluded" and experiment.target_cohort == "demo-at-risk"
    decisions = list_decisions("demo-winback", db)
    assert len(decisions) == 1 and decisions[0].winner_arm == summary["winner"]
    cohort = read_cohort("demo-at-risk", db)
    assert len(cohort) == summary["flagged"] > 0
    assert set(cohort["stage"]) <= {"new", "growing", "mature", "at_risk", "churned"}

    database = open_registry(db)
    assigned = database.execute("SELECT COUNT(*) FROM assignments WHERE experiment_key = 'demo-winback'").fetchone()[0]
    assert assigned == summary["assignment"]["newly_assigned"] == len(cohort)
    outcome_users = database.execute(
        "SELECT COUNT(DISTINCT user_id) FROM outcomes WHERE experiment_key = 'demo-winback' AND metric = 'retained'"
    ).fetchone()[0]
    assert outcome_users == assigned
    treated = database.execute(
        "SELECT COUNT(*) FROM assignments a JOIN arms r USING (experiment_key, arm_key) WHERE r.is_control = 0 "
        "AND experiment_key = 'demo-winback'").fetchone()[0]
    assert database.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == treated
    assert {m.kind for m in list_model_records(db)} == {"churn", "uplift"}
    # The programme beside it: twelve finished weekly cycles, none of whose send lists holds a holdout user.
    from experiments.programmes import get_programme, in_holdout

    steps = database.execute("SELECT step FROM cycles WHERE programme = 'demo-programme' ORDER BY number").fetchall()
    assert steps == [("finished",)] * 12
    sent = [r[0] for r in database.execute("SELECT user_id FROM cycle_sends WHERE programme = 'demo-programme'")]
    assert sent and not in_holdout(get_programme(db, "demo-programme"), sent).any()
    assert 0 < summary["plan_cost"] <= summary["budget"]
    assert summary["oracle_retained_true"] > 0

    # The uplift stage goes through fit_targeting: every candidate's out-of-fold plan value and Qini are reported,
    # the chosen one has the highest plan value, and the stored model records that choice.
    candidates = {c["learner"]: c for c in summary["uplift_candidates"]}
    from uplift.candidates import DEFAULT_CANDIDATES

    # every tuned candidate and their average, each calibrated with and without the noise gate
    assert set(candidates) == {f"{n}{suffix}" for n in (*DEFAULT_CANDIDATES, "ensemble") for suffix in ("", "_ungated")}
    best = max(candidates.values(), key=lambda c: c["policy_value"]["value_per_user"])
    assert summary["uplift_learner"] == best["learner"]
    assert all(c["policy_value"]["estimator"] == "dr" and "mean_qini" in c for c in candidates.values())
    uplift_model = next(m for m in list_model_records(db) if m.kind == "uplift")
    assert uplift_model.learner == summary["uplift_learner"]
    assert uplift_model.metrics["chosen_by"] == "doubly robust policy value"
    # The calibrated forecast of the plan comes with an interval; the plan is still scored on the true effects.
    assert summary["plan_forecast_low"] <= summary["plan_forecast"] <= summary["plan_forecast_high"]
    assert summary["plan_retained_true"] > 0 and 0 < summary["share_of_oracle"] <= 1.0 + 1e-9
    # What failed a guardrail in the experiment is not sent, as `winback allocate --model` does, and says so.
    assert summary["left_out"] == failed_guardrails(db, "demo-winback")
    for treatment in summary["left_out"]:
        assert summary["plan_counts"].get(treatment, 0) == 0
        assert any(line.startswith(f"  note: {treatment} left out: it failed guardrail(s)") for line in summary["lines"])


def test_demo_prints_the_choice_the_forecast_and_the_truth(tmp_path):
    result = CliRunner().invoke(
        cli, ["demo", "--db", str(tmp_path / "r.db"), "--users", "2000", "--workdir", str(tmp_path / "work")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "chosen by its plan's value per user" in out
    from uplift.candidates import DEFAULT_CANDIDATES

    # Every candidate has a line, and the names are padded to the longest so the values line up.
    rows = {m.group(1): m.end(2) - m.start(0) for m in re.finditer(r"^  [* ] (\S+)( +)value ", out, re.MULTILINE)}
    assert {*DEFAULT_CANDIDATES, "ensemble", "logit_ungated", "pseudo_forest_ungated"} <= set(rows)
    assert set(rows.values()) == {4 + max(map(len, rows)) + 1}  # "value" starts one space after the longest name
    assert "forecast" in out and "[95%" in out and "realized" in out
    # A plan leaving over a fifth of its budget says why, as `winback allocate` does.
    spent, budget = (float(x.replace(",", "")) for x in re.search(r"cost ([\d,.]+) of ([\d,.]+)\n", out).groups())
    assert (spent < 0.8 * budget) == ("  note: " in out.split("\nallocation: ")[1].split("forecast:")[0])
    # The candidates the experiment cannot tell from the chosen one are named under them, as `uplift fit` does.
    from uplift.choice_notes import tie_note

    stored = next(m for m in list_model_records(str(tmp_path / "r.db")) if m.kind == "uplift").metrics
    assert stored["tied"], "2,000 users cannot tell twelve candidates' plans apart"
    assert f"  note: {tie_note(stored['chosen'], stored['tied'], len(stored['candidates']))}\nallocation: " in out
    assert "on the true effects" in out and "oracle" in out
