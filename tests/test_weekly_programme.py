"""A real programme (cycle run, the send gate, the report) on the shop that moves week by week: the sent users follow
their treatment's true effect, and the truth the report is checked against is itself checked against the events."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.programmes import get_programme, in_holdout
from programme.population import population_outcomes
from simulator.weekly import WeeklyShopConfig
from simulator.weekly_programme import NAME, run_weekly_programme


@pytest.fixture(scope="module")
def effect_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weekly-programme")
    config = WeeklyShopConfig(n_users=6000, seed=3, holdout_share=0.3)
    return run_weekly_programme(folder, config, cycles=3, max_users_per_cycle=900)


def test_the_cycles_send_only_programme_users_and_the_report_reads_every_cycle(effect_run) -> None:
    import sqlite3

    programme = get_programme(effect_run.db, NAME)
    with sqlite3.connect(effect_run.db) as conn:
        sent = [r[0] for r in conn.execute("SELECT user_id FROM cycle_sends WHERE programme = ?", (NAME,))]
        treated = conn.execute("SELECT COUNT(*) FROM cycle_sends WHERE programme = ? AND treatment_key IS NOT NULL",
                               (NAME,)).fetchone()[0]
        cycles = conn.execute("SELECT COUNT(*) FROM cycles WHERE programme = ? AND step = 'finished'",
                              (NAME,)).fetchone()[0]
    assert cycles == 3 and sent and not in_holdout(programme, sent).any()
    assert 0 < effect_run.sent == treated < len(sent)  # the experiment's control arm is sent nothing
    assert effect_run.report.matured_users > 0 and effect_run.report.pending_users == 0
    assert [c["number"] for c in effect_run.report.cycles] == [1, 2, 3]


def test_the_truth_matches_what_the_simulated_users_did(effect_run) -> None:
    """Mean P(no order in the horizon | treatments given) over the programme's users against the share of them who
    placed no order in the events (the report's churn), within 4 standard errors: the formula is the shop's."""
    outcomes = population_outcomes(effect_run.db, get_programme(effect_run.db, NAME))
    programme_users = outcomes[outcomes["group"] == "programme"]
    truth = effect_run.truth.set_index("tier")
    realized = programme_users["churned"].mean()
    n = len(programme_users)
    assert truth.loc["all", "users"] == n
    # P(no order | with) averaged over users is E[churned]; the realized share has SE sqrt(p(1-p)/n) around it.
    levels = effect_run.levels
    assert len(levels) == n and set(levels["user_id"]) == set(programme_users["user_id"])
    expected = levels["no_order_with"].mean()
    assert abs(realized - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert truth.loc["all", "true_reduction"] == pytest.approx(
        1 - levels["no_order_with"].sum() / levels["no_order_without"].sum())
    assert truth.loc["all", "true_reduction"] > 0  # coupons cut the hazard by a quarter for four weeks


def test_a_programme_whose_treatment_does_nothing_has_a_true_effect_of_zero(tmp_path) -> None:
    config = WeeklyShopConfig(n_users=3000, seed=5, holdout_share=0.3, churn_effect={"high_value": 0.0, "regular": 0.0},
                              spend_effect={"high_value": 0.0, "regular": 0.0})
    run = run_weekly_programme(tmp_path, config, cycles=2, max_users_per_cycle=400)
    assert run.sent > 0
    assert (run.truth["true_reduction"] == 0).all() and (run.truth["true_ltv_change"] == 0).all()
    table = run.comparison()
    assert set(table["tier"]) <= {"high", "regular"} and "covered" in table
    assert isinstance(run.truth, pd.DataFrame)
