"""Calibrated uplift and choice by policy value (issue 15, items 1-2), on small simulated worlds with known effects."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulator.worlds import World, interaction_world
from uplift.allocation import allocate
from uplift.calibration import dr_scores, fit_calibration, plan_interval
from uplift.errors import UpliftError
from uplift.plan_inputs import PlanSpec
from uplift.targeting import ENSEMBLE, fit_targeting


def randomized(n: int, tau: np.ndarray, seed: int, base: float = 0.4) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Arms control/t at 1:1 and 0/1 outcomes; returns arm, y and the exact potential-outcome means."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "t"], n)
    y = (rng.random(n) < base + np.where(arm == "t", tau, 0.0)).astype(float)
    mu = pd.DataFrame({"control": np.full(n, base), "t": base + tau})
    return arm, y, mu


@pytest.mark.parametrize("method", ["linear", "isotonic"])
def test_calibration_undoes_overconfident_predictions(method):
    # tau ~ 0.4 U(0,1); raw = 3 tau + N(0, 0.2): regression dilution gives E[tau | raw] slope
    # 3 Var(tau) / (9 Var(tau) + 0.2^2) = 0.04 / 0.16 = 0.25 (Var(tau) = 0.16/12). Each decile's DR mean has an
    # SE of about 0.022 (n = 4,000), so the slope through the deciles has an SE of about 0.02: tolerance 0.06.
    rng = np.random.default_rng(1)
    n = 40_000
    tau = 0.4 * rng.random(n)
    raw = pd.DataFrame({"t": 3 * tau + rng.normal(0, 0.2, n)})
    arm, y, mu = randomized(n, tau, seed=2)
    calibration = fit_calibration(raw, dr_scores(arm, y, mu, {"control": 1, "t": 1}, "control", ["t"]), method=method)
    table = calibration.table
    slope = np.polyfit(table["predicted"], table["calibrated"], 1)[0]
    assert slope == pytest.approx(0.25, abs=0.06)
    calibrated, se = calibration.apply(raw)
    # The calibrated mean is the mean true uplift (0.2) within three standard errors; raw is three times too big.
    assert calibrated["t"].mean() == pytest.approx(tau.mean(), abs=3 * se["t"].mean())
    assert raw["t"].mean() == pytest.approx(0.6, abs=0.01)


def test_noise_gate_buys_nothing_where_the_data_show_no_effect():
    rng = np.random.default_rng(3)
    n = 20_000
    raw = pd.DataFrame({"t": rng.normal(0.05, 0.03, n)})  # confident noise about a treatment that does nothing
    arm, y, mu = randomized(n, np.zeros(n), seed=4)
    calibration = fit_calibration(raw, dr_scores(arm, y, mu, {"control": 1, "t": 1}, "control", ["t"]))
    calibrated, _ = calibration.apply(raw)
    assert (calibrated["t"] <= 0).all()
    assert calibration.table["gated"].all()


def test_plan_interval_adds_errors_within_a_treatment_and_in_quadrature_across():
    total, low, high = plan_interval(np.array([0.1, 0.2, 0.3]), np.array([0.01, 0.01, 0.02]), np.array(["a", "a", "b"]))
    # a: 0.01 + 0.01 = 0.02, b: 0.02 -> sqrt(0.02^2 + 0.02^2) * 1.959964 = 0.0554365
    assert total == pytest.approx(0.6)
    assert high - total == pytest.approx(1.959964 * np.sqrt(0.0008), rel=1e-6)
    assert total - low == pytest.approx(high - total)


def test_every_candidate_has_a_policy_value_and_qini_and_the_best_plan_is_chosen():
    world = interaction_world(6_000, seed=2)
    data = world.randomize(2)
    spec = PlanSpec(world.costs, 1.5 * len(data), dict(world.capacity), population=len(data))
    fit = fit_targeting(data, treatment_col="arm", outcome_col="retained", control="control", spec=spec,
                        id_col="user_id", arm_weights=world.arm_weights, candidates=("s", "t"), n_estimators=40,
                        progress=False)
    names = [c.learner for c in fit.candidates]
    assert names == ["s", "s_ungated", "t", "t_ungated", ENSEMBLE, f"{ENSEMBLE}_ungated"]  # each with and without the gate
    assert all(np.isfinite(c.policy_value.value_per_user) and np.isfinite(c.mean_qini) for c in fit.candidates)
    best = max(fit.candidates, key=lambda c: c.policy_value.value_per_user)
    assert fit.learner == best.learner
    json.dumps(fit.metrics(), default=float)  # the model store records it as JSON
    predicted, se = fit.model.predict_with_se(data[fit.features].head(50))
    assert list(predicted.columns) == list(se.columns) == sorted(world.costs)
    assert (se.to_numpy() > 0).all()


def test_unplanned_treatments_are_fitted_but_in_no_candidate_plan():
    world = interaction_world(6_000, seed=2)
    data = world.randomize(2)
    spec = PlanSpec(world.costs, 1.5 * len(data), dict(world.capacity), population=len(data))
    kwargs = dict(treatment_col="arm", outcome_col="retained", control="control", spec=spec, id_col="user_id",
                  arm_weights=world.arm_weights, candidates=("s",), n_estimators=40, progress=False)
    for left in ("reco_email", "vip_call"):  # vip_call has a capacity, which goes with it
        fit = fit_targeting(data, unplanned=(left,), **kwargs)
        assert fit.treatments == sorted(world.costs)  # still fitted and scored, so --allow-treatment can plan it
        assert all(c.counts.get(left, 0) == 0 for c in fit.candidates)
        assert sum(fit.candidates[0].counts.values()) > 0
    with pytest.raises(UpliftError, match="every treatment is left out of the plan"):
        fit_targeting(data, unplanned=tuple(world.costs), **kwargs)


def test_a_treatment_without_effect_is_given_to_nobody():
    rng = np.random.default_rng(7)
    n = 12_000
    x = rng.normal(size=(n, 4))
    truth = pd.DataFrame({"good": np.where(x[:, 0] > 0, 0.15, 0.0), "useless": np.zeros(n)})
    features = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], **{f"x{j}": x[:, j] for j in range(4)}})
    world = World("test", features, np.full(n, 0.4), truth, {"good": 1.0, "useless": 0.2}, {}, 5.0)
    data = world.randomize(8)
    fit_rows, plan_rows = np.arange(n) < 9_000, np.arange(n) >= 9_000
    spec = PlanSpec(world.costs, 5.0 * fit_rows.sum(), population=int(fit_rows.sum()))
    plans = {}
    for ungated in (False, True):
        fit = fit_targeting(data[fit_rows], treatment_col="arm", outcome_col="retained", control="control", spec=spec,
                            id_col="user_id", arm_weights=world.arm_weights, candidates=("s", "t"), n_estimators=40,
                            progress=False, ungated=ungated)
        plans[ungated] = allocate(fit.model.predict(data.loc[plan_rows, fit.features]), world.costs,
                                  5.0 * plan_rows.sum())
    # With the noise gate on every candidate, nobody gets the useless treatment. When the gate is a choice the DR
    # value may pick an ungated plan, which buys the useless treatment where noise looks positive: the price of
    # buying small real effects (measured: 41 of 3,000 users, on seed 8).
    assert plans[False].counts["useless"] == 0
    assert plans[True].counts["useless"] <= 0.05 * plan_rows.sum()
    # Most users that the good treatment helps get it (its effect is 0.15 where x0 > 0). Gated, few others do;
    # ungated, with budget to spare (5.00 a user for a 1.00 treatment), half the others get it too (measured 0.51):
    # no harm on this objective (retained users), only cost.
    helped = x[plan_rows, 0] > 0
    given = {ungated: plan.labels() == "good" for ungated, plan in plans.items()}
    assert given[False][helped].mean() > 0.8 and given[False][~helped].mean() < 0.3
    assert given[True][helped].mean() > 0.8


def test_moderate_interaction_world_plan_beats_blankets_and_its_forecast_covers_the_truth():
    # 20,000 users (a fifth of the proof's worlds, docs/uplift.md): fitted on 14,000, planned for 6,000 and
    # judged on the true effects. At this size the plan does not reach the proof's 0.85 of the oracle (measured
    # 0.68 on seed 0), but it beats the best blanket treatment by more than 30 % (+71 %) and the cross-fitted
    # DR forecast's 95 % interval covers what really happens.
    from simulator.targeting_proof import prove_world

    proof = prove_world(interaction_world(20_000, seed=0), seed=0, candidates=("s", "t"), n_estimators=60)
    assert proof.gain_over_blanket >= 0.30
    assert proof.covered
    assert proof.realized > 0.5 * proof.oracle
    best = max(proof.candidates, key=lambda c: c["policy_value"])
    assert proof.learner == best["learner"]


def test_feature_ceiling_is_near_the_oracle_where_the_features_carry_the_effects():
    """The interaction world's effects are functions of its features, so a model of the true uplift nearly matches
    the oracle; the proof's plans are judged against this ceiling in docs/uplift.md."""
    from simulator.targeting_proof import feature_ceiling

    share = feature_ceiling(interaction_world(20_000, seed=0), seed=0, n_estimators=200)
    assert 0.95 <= share <= 1.0 + 1e-9


def test_treatment_breakdown_adds_up_to_each_plans_share_and_the_oracle_ranks_perfectly():
    """scripts/uplift_proof.py --breakdown: per plan and treatment, the users given it and their true gain; the
    gains of a plan add up to its share of the oracle, and the oracle's uplift is the truth itself."""
    from simulator.targeting_proof import setup_proof, treatment_breakdown

    setup = setup_proof(interaction_world(8_000, seed=0), seed=0, candidates=("s",), n_estimators=40)
    frame = treatment_breakdown(setup, n_estimators=60)
    assert set(frame["plan"]) == {"oracle", "feature ceiling", "s"}  # one learner by name: gated only
    assert set(frame["treatment"]) == set(setup.truth.columns)
    oracle = frame[frame["plan"] == "oracle"]
    assert np.allclose(oracle["correlation"], 1.0) and np.allclose(oracle["share_of_oracle"], 1.0)
    for _, rows in frame.groupby("plan"):
        gain = rows["true_gain"].sum()
        assert gain == pytest.approx(rows["share_of_oracle"].iloc[0] * oracle["true_gain"].sum())
        # a plan's users per treatment are counted once: nobody gets two treatments
        assert rows["users"].sum() <= len(setup.truth)


def _two_treatment_experiment(n: int, coupon_effect, call_effect: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    arm = rng.choice(["none", "coupon", "call"], n)
    effect = np.select([arm == "coupon", arm == "call"], [coupon_effect(x), np.full(n, call_effect)], 0.0)
    return pd.DataFrame({"uid": np.arange(n), "x": x, "arm": arm, "kept": (rng.random(n) < 0.3 + effect).astype(int)})


def test_the_plan_is_compared_with_each_treatment_sent_to_random_users_at_the_same_budget():
    # Coupon lifts retention by 0.25 where x > 0.5 and not at all elsewhere; the call by 0.10 everywhere. A budget
    # for 30 % of the users (unit cost 1 each) sent at random reaches 0.3 x 0.125 = 0.0375 per user with the coupon
    # and 0.3 x 0.10 = 0.03 with the call; the targeted plan gives the coupon to users with x > 0.5: 0.3 x 0.25 = 0.075.
    data = _two_treatment_experiment(9_000, lambda x: np.where(x > 0.5, 0.25, 0.0), 0.10, seed=11)
    spec = PlanSpec({"coupon": 1.0, "call": 1.0}, budget=0.3 * len(data), population=len(data))
    fit = fit_targeting(data, treatment_col="arm", outcome_col="kept", control="none", spec=spec, id_col="uid",
                        candidates=("t",), n_estimators=60, progress=False)
    blankets = {b.policy: b for b in fit.blankets}
    assert set(blankets) == {"blanket call", "blanket coupon"}
    assert blankets["blanket coupon"].ci_low <= 0.0375 <= blankets["blanket coupon"].ci_high
    assert blankets["blanket call"].ci_low <= 0.03 <= blankets["blanket call"].ci_high
    gains = {g.policy: g for g in fit.gains}
    assert gains["plan - blanket coupon"].ci_low > 0 and gains["plan - blanket call"].ci_low > 0
    assert fit.blanket_note() is None
    assert [b["policy"] for b in fit.metrics()["blankets"]] == ["blanket call", "blanket coupon"]


def test_a_plan_that_cannot_beat_a_blanket_says_so():
    # The coupon lifts everyone by 0.10 and the call does nothing: any 30 % of users given the coupon is as good as
    # the plan, so the plan's gain over the random coupon is 0 and its interval must say it is not shown to beat it.
    data = _two_treatment_experiment(6_000, lambda x: np.full(len(x), 0.10), 0.0, seed=12)
    spec = PlanSpec({"coupon": 1.0, "call": 1.0}, budget=0.3 * len(data), population=len(data))
    fit = fit_targeting(data, treatment_col="arm", outcome_col="kept", control="none", spec=spec, id_col="uid",
                        candidates=("t",), n_estimators=60, progress=False)
    gain = {g.policy: g for g in fit.gains}["plan - blanket coupon"]
    assert gain.ci_low <= 0 <= gain.ci_high
    assert fit.blanket_note().startswith("the chosen plan is not shown to beat sending coupon to random users with "
                                         "the same budget (its gain: ")
