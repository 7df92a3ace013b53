"""Uplift learners, held-out evaluation, model store and off-policy proof on simulated and real data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.models import load_model_record
from uplift.errors import UpliftError
from uplift.evaluation import stratified_split
from uplift.fitting import fit_uplift
from uplift.learners import UpliftModel
from uplift.policy_value import blanket_values, off_policy_value
from uplift.store import load_uplift_model, save_uplift_model, score_uplift

DATA = Path(__file__).parents[2].parent / "shared" / "data"


def simulated(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two treatments vs control; 'a' helps when x > 0.5, 'b' helps the 'north' region; truth returned too."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    region = rng.choice(["north", "south"], n)
    arm = rng.choice(["control", "a", "b"], n)
    truth = pd.DataFrame({"a": np.where(x > 0.5, 0.25, -0.05), "b": np.where(region == "north", 0.2, 0.0)})
    base = 0.3
    p = base + np.select([arm == "a", arm == "b"], [truth["a"], truth["b"]], 0.0)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "x": x, "region": region,
                          "noise": rng.normal(size=n), "arm": arm, "y": y})
    return frame, truth


def test_each_learner_recovers_the_heterogeneity():
    frame, _ = simulated()
    for learner in ("s", "s_fine", "t", "x", "dr"):
        model = UpliftModel(learner, control_name="control", n_estimators=40).fit(frame[["x", "region", "noise"]], frame["y"], treatment=frame["arm"])
        assert model.treatments_ == ["a", "b"]
        predicted = model.predict(frame[["x", "region", "noise"]])
        # The simulated truth: a's uplift jumps by 0.30 at x = 0.5, b's by 0.20 between regions.
        gap_a = predicted.loc[frame["x"] > 0.6, "a"].mean() - predicted.loc[frame["x"] < 0.4, "a"].mean()
        gap_b = predicted.loc[frame["region"] == "north", "b"].mean() - predicted.loc[frame["region"] == "south", "b"].mean()
        assert gap_a > 0.15, learner
        assert gap_b > 0.08, learner


def test_refits_with_the_same_seed_predict_the_same():
    """causalml's DR learner cross-fits internally; its folds follow the model's seed, so a refit is identical."""
    frame, _ = simulated()
    X = frame[["x", "region", "noise"]]
    for learner in ("dr", "s_fine"):
        first = UpliftModel(learner, control_name="control", n_estimators=30, random_state=3).fit(X, frame["y"], treatment=frame["arm"])
        again = UpliftModel(learner, control_name="control", n_estimators=30, random_state=3).fit(X, frame["y"], treatment=frame["arm"])
        pd.testing.assert_frame_equal(first.predict(X), again.predict(X))


def test_uplift_forest_option_and_its_binary_outcome_rule():
    frame, _ = simulated()
    model = UpliftModel("forest", control_name="control", n_estimators=40).fit(frame[["x", "region", "noise"]], frame["y"], treatment=frame["arm"])
    predicted = model.predict(frame[["x", "region", "noise"]])
    assert list(predicted.columns) == ["a", "b"]
    # Same simulated truth as above: a's uplift is 0.30 higher above x = 0.5.
    assert predicted.loc[frame["x"] > 0.6, "a"].mean() - predicted.loc[frame["x"] < 0.4, "a"].mean() > 0.15
    with pytest.raises(UpliftError, match="the uplift forest needs a 0/1 outcome"):
        UpliftModel("forest", control_name="control").fit(frame[["x"]], frame["y"] * 2.5, treatment=frame["arm"])


def test_known_propensities_come_from_arm_weights():
    frame, _ = simulated(900)
    model = UpliftModel("x", control_name="control", arm_weights={"control": 0.5, "a": 0.25, "b": 0.25},
                        n_estimators=10).fit(frame[["x"]], frame["y"], treatment=frame["arm"])
    assert model.propensity_ == {"a": pytest.approx(1 / 3), "b": pytest.approx(1 / 3)}  # 0.25 / (0.25 + 0.5)


def test_split_is_stratified_on_arm_and_outcome():
    frame, _ = simulated()
    train, test = stratified_split(frame["arm"], frame["y"], holdout=0.3, seed=1)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == len(frame)
    full = frame.groupby(["arm", "y"]).size() / len(frame)
    held = frame.iloc[test].groupby(["arm", "y"]).size() / len(test)
    assert (full - held).abs().max() < 0.002


def test_auto_picks_best_holdout_qini_and_store_round_trips(tmp_path):
    frame, _ = simulated()
    fit = fit_uplift(frame, treatment_col="arm", outcome_col="y", control="control", id_col="user_id",
                     learner="auto", candidates=("s", "t"), n_estimators=40, progress=False)
    assert [r.learner for r in fit.reports] == ["s", "t"]
    assert fit.learner == max(fit.reports, key=lambda r: r.mean_qini).learner
    assert fit.features == ["x", "region", "noise"]
    for report in fit.reports:
        assert {s.treatment for s in report.scores} == {"a", "b"}
        assert all(s.qini > 0 for s in report.scores)  # real heterogeneity ranks above random
        deciles = report.deciles[report.deciles["treatment"] == "a"]
        assert list(deciles["decile"]) == list(range(1, 11))
        assert deciles["observed_uplift"].iloc[:3].mean() > deciles["observed_uplift"].iloc[-3:].mean()

    db = tmp_path / "registry.db"
    record = save_uplift_model(fit, "sim", data=frame, db=db, model_dir=tmp_path / "models")
    stored = load_model_record("sim", db)
    assert stored.kind == "uplift" and stored.learner == fit.learner and stored.features == fit.features
    assert stored.metrics["chosen"] == fit.learner and Path(record.path).exists()
    model, loaded = load_uplift_model("sim", db)
    scores = score_uplift(model, loaded, frame.head(50), id_col="user_id", progress=False)
    assert list(scores.columns) == ["user_id", "a", "b"] and len(scores) == 50
    with pytest.raises(UpliftError, match="data lacks column\\(s\\) region that model 'sim' was fitted on"):
        score_uplift(model, loaded, frame.drop(columns="region"), id_col="user_id")
    with pytest.raises(UpliftError, match="no model named 'nope' in the registry; known models: sim"):
        load_uplift_model("nope", db)


def test_fit_input_errors_name_the_problem():
    frame, _ = simulated(300)
    with pytest.raises(UpliftError, match="data lacks column\\(s\\) outcome"):
        fit_uplift(frame, treatment_col="arm", outcome_col="outcome", control="control")
    with pytest.raises(UpliftError, match="control arm 'none' not found in the treatment column"):
        UpliftModel("t", control_name="none").fit(frame[["x"]], frame["y"], treatment=frame["arm"])
    with pytest.raises(UpliftError, match="unknown learner 'z'"):
        fit_uplift(frame, treatment_col="arm", outcome_col="y", control="control", learner="z")  # type: ignore[arg-type]


def test_off_policy_intervals_cover_the_truth_of_a_known_policy_about_95_percent_of_the_time():
    # Policy: 'a' when x > 0.5, else 'b' for north, else control; its true gain per user is known exactly.
    propensity = {"control": 1 / 3, "a": 1 / 3, "b": 1 / 3}
    covered = {"ipw": 0, "dr": 0, "blanket a": 0}
    seeds = range(40)
    for seed in seeds:
        frame, truth = simulated(6000, seed=seed)
        policy = np.where(frame["x"] > 0.5, "a", np.where(frame["region"] == "north", "b", "control"))
        true_value = np.select([policy == "a", policy == "b"], [truth["a"], truth["b"]], 0.0).mean()
        perfect_mu = pd.DataFrame({"control": 0.3, "a": 0.3 + truth["a"], "b": 0.3 + truth["b"]})
        ipw, dr = off_policy_value(frame["arm"], frame["y"], policy, propensity, control="control",
                                   outcome_predictions=perfect_mu)
        covered["ipw"] += ipw.ci_low <= true_value <= ipw.ci_high
        covered["dr"] += dr.ci_low <= true_value <= dr.ci_high
        assert dr.ci_high - dr.ci_low < ipw.ci_high - ipw.ci_low  # good outcome models shrink the interval
        blanket = {b.policy: b for b in blanket_values(frame["arm"], frame["y"], control="control")}["blanket a"]
        covered["blanket a"] += blanket.ci_low <= truth["a"].mean() <= blanket.ci_high
    # Nominal 95% intervals: over 40 seeds the binomial sd of the coverage is 0.034, so >= 0.85 is ~3 sd below.
    for name, hits in covered.items():
        assert hits / len(seeds) >= 0.85, name
    with pytest.raises(UpliftError, match="the policy names treatment\\(s\\) gift"):
        off_policy_value(frame["arm"], frame["y"], np.full(len(frame), "gift"), propensity, control="control")


@pytest.mark.slow
def test_hillstrom_womens_visit_uplift_is_positive_and_ate_matches_arm_rates():
    path = DATA / "hillstrom.csv"
    if not path.exists():
        pytest.skip(f"Hillstrom data not found at {path}")
    data = pd.read_csv(path)
    data = data[data["segment"] != "Mens E-Mail"]
    fit = fit_uplift(data, treatment_col="segment", outcome_col="visit", control="No E-Mail",
                     exclude=["conversion", "spend"], learner="t", n_estimators=100, refit=False, progress=False)
    score = fit.reports[0].scores[0]
    # shared/data/README.md: visit 15.14% (Womens E-Mail) vs 10.62% (No E-Mail) -> ATE 0.0452 on all rows.
    assert score.observed_ate == pytest.approx(0.0452, abs=0.012)
    assert score.predicted_ate == pytest.approx(0.0452, abs=0.012)
    # REFERENCES.md reports positive held-out Qini for every learner on womens/visit.
    assert score.qini > 0


def test_fit_and_allocate_one_call_for_pipelines(tmp_path):
    from uplift.pipeline import fit_and_allocate

    frame, _ = simulated(4000, seed=2)
    frame["margin"] = 50.0
    run = fit_and_allocate(frame, treatment_col="arm", outcome_col="y", control="control", id_col="user_id",
                           costs={"a": 4.0, "b": 1.0}, budget=3000.0, value_per_retained="margin",
                           capacity={"a": 800}, learner="t", name="pipe", db=str(tmp_path / "r.db"),
                           model_dir=str(tmp_path / "m"), n_estimators=50, progress=False)
    assert run.record is not None and run.record.name == "pipe" and "margin" not in run.fit.features
    # The choice goes through fit_targeting: chosen by plan value, every candidate reported and stored.
    assert run.fit.learner == "t" and [c.learner for c in run.fit.candidates] == ["t"]  # by name: gated only
    assert run.record.metrics["chosen_by"] == "doubly robust policy value"
    assert list(run.plan.columns) == ["user_id", "treatment", "expected_uplift", "cost"] and len(run.plan) == 4000
    assert run.plan["cost"].sum() <= 3000 and (run.plan["treatment"] == "a").sum() <= 800
    assert [e.estimator for e in run.proof] == ["dr"] and run.proof[0] == run.fit.forecast_value
    # One candidate: every fold's choice is it, so the nested forecast is its own out-of-fold value.
    assert run.proof[0].value_per_user == pytest.approx(run.fit.chosen.policy_value.value_per_user)
    # The forecast is the plan's calibrated uplift summed over its treated users, with an interval around it.
    assert run.forecast.predicted == pytest.approx(run.allocation.expected_retained)
    assert run.forecast.ci_low <= run.forecast.predicted <= run.forecast.ci_high
    assert {b.policy for b in run.blankets} == {"blanket a", "blanket b"}
    assert run.summary_lines()[0].startswith("uplift learner t, chosen by its plan's value")
