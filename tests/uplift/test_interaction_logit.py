"""The logit learner (one penalised logistic regression over every arm), the pooled T-learner and the noise gate as a choice (issue 25)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.calibration import dr_scores, fit_calibration
from uplift.candidates import candidate
from uplift.errors import UpliftError
from uplift.interaction_logit import InteractionLogit
from uplift.learners import UpliftModel


def experiment(n: int = 12_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """'a' helps (+0.15) where x > 0.5 and harms (-0.05) elsewhere; 'b' helps (+0.10) in the north only;
    a point mass at 0 in `opens` (30 % of users) that switches 'b' off there."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    region = rng.choice(["north", "south"], n)
    opens = np.where(rng.random(n) < 0.3, 0.0, rng.random(n))
    arm = rng.choice(["control", "a", "b"], n, p=[0.4, 0.3, 0.3])
    truth = pd.DataFrame({"a": np.where(x > 0.5, 0.15, -0.05),
                          "b": np.where((region == "north") & (opens > 0), 0.10, 0.0)})
    p = 0.3 + 0.2 * x + np.select([arm == "a", arm == "b"], [truth["a"], truth["b"]], 0.0)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame({"x": x, "region": region, "opens": opens, "noise": rng.normal(size=n), "arm": arm, "y": y})
    return frame, truth


def test_logit_finds_where_a_treatment_helps_and_where_it_harms():
    frame, truth = experiment()
    X = frame[["x", "region", "opens", "noise"]]
    model = UpliftModel("logit", control_name="control").fit(X, frame["y"], treatment=frame["arm"])
    predicted = model.predict(X)
    assert list(predicted.columns) == ["a", "b"]
    # Truth: a is +0.15 above x = 0.5 and -0.05 below; the fit says so in sign and, roughly, in size.
    high, low = predicted.loc[frame["x"] > 0.6, "a"].mean(), predicted.loc[frame["x"] < 0.4, "a"].mean()
    assert high > 0.08 and low < 0 and high - low > 0.12
    # The point mass at opens = 0 is a bin of its own: b is predicted near 0 there, and higher in the north elsewhere.
    north_open = (frame["region"] == "north") & (frame["opens"] > 0)
    assert predicted.loc[north_open, "b"].mean() - predicted.loc[frame["opens"] == 0, "b"].mean() > 0.04
    assert np.corrcoef(predicted["b"], truth["b"])[0, 1] > 0.5


def test_logit_candidates_and_rules():
    logit = candidate("logit").model(control="control", arm_weights=None, n_estimators=100, seed=0)
    assert (logit.learner, logit.pairs) == ("logit", False)
    strong = candidate("logit_strong").model(control="control", arm_weights=None, n_estimators=100, seed=0)
    assert strong.reg_lambda == 500.0 and candidate("logit_pairs").model(
        control="control", arm_weights=None, n_estimators=100, seed=0).pairs
    frame, _ = experiment(3_000)
    with pytest.raises(UpliftError, match="the logit learner needs a 0/1 outcome"):
        UpliftModel("logit").fit(frame[["x"]], frame["y"] * 2.5, treatment=frame["arm"])


def test_pairs_hold_an_effect_that_lives_where_two_thresholds_cross():
    rng = np.random.default_rng(5)
    n = 30_000
    u, v = rng.random(n), rng.random(n)
    arm = rng.choice(["control", "t"], n)
    tau = np.where((u > 0.6) & (v > 0.6), 0.25, 0.0)  # 16 % of users; nothing on either feature alone
    y = (rng.random(n) < 0.3 + tau * (arm == "t")).astype(int)
    X = np.column_stack([u, v])
    paired = InteractionLogit(pairs=True, C=0.05).fit(X, arm, y).predict(X)[:, 0]
    corner = (u > 0.6) & (v > 0.6)
    assert paired[corner].mean() > 0.15 and abs(paired[~corner].mean()) < 0.05


def test_without_the_gate_a_small_real_effect_keeps_its_positive_uplift():
    # A treatment worth +0.02 for everyone on 2,400 treated users: no decile is significant on its own, so the gate
    # zeroes every positive decile; ungated, the calibration keeps the (noisy) positive mean.
    rng = np.random.default_rng(11)
    n = 8_000
    arm = rng.choice(["control", "t"], n, p=[0.7, 0.3])
    y = (rng.random(n) < 0.4 + 0.02 * (arm == "t")).astype(float)
    mu = pd.DataFrame({"control": np.full(n, 0.4), "t": np.full(n, 0.42)})
    scores = dr_scores(arm, y, mu, {"control": 0.7, "t": 0.3}, "control", ["t"])
    raw = pd.DataFrame({"t": rng.normal(0.02, 0.005, n)})
    gated = fit_calibration(raw, scores)
    ungated = fit_calibration(raw, scores, gate=False)
    assert gated.table["gated"].any() and (gated.apply(raw)[0]["t"] <= 0).all()
    assert not ungated.table["gated"].any() and (ungated.apply(raw)[0]["t"] > 0).mean() > 0.5
    pd.testing.assert_series_equal(ungated.table["calibrated"], ungated.table["isotonic"], check_names=False)


def test_pooled_t_learns_each_arm_as_a_deviation_from_the_pooled_baseline():
    frame, truth = experiment(20_000, seed=3)
    X = frame[["x", "region", "opens", "noise"]]
    model = UpliftModel("pooled_t", control_name="control", n_estimators=100).fit(X, frame["y"], treatment=frame["arm"])
    predicted = model.predict(X)
    assert list(predicted.columns) == ["a", "b"]
    # Truth: a is +0.15 above x = 0.5 and -0.05 below (harm predicted as harm); b helps only northern openers.
    assert predicted.loc[frame["x"] > 0.6, "a"].mean() > 0.08 and predicted.loc[frame["x"] < 0.4, "a"].mean() < 0
    assert np.corrcoef(predicted["b"], truth["b"])[0, 1] > 0.4
    with pytest.raises(UpliftError, match="the pooled_t learner needs a 0/1 outcome"):
        UpliftModel("pooled_t").fit(X, frame["y"] * 2.5, treatment=frame["arm"])


def test_logit_takes_missing_values_as_a_bin_of_their_own():
    frame, _ = experiment(6_000, seed=4)
    X = frame[["x", "region", "opens", "noise"]].copy()
    X.loc[X.index[:600], "opens"] = np.nan  # as churn features are for users with no e-mail yet
    model = UpliftModel("logit", control_name="control").fit(X, frame["y"], treatment=frame["arm"])
    predicted = model.predict(X)
    assert np.isfinite(predicted.to_numpy()).all()
    with pytest.raises(UpliftError, match="a feature column is missing for every user"):
        InteractionLogit().fit(np.full((100, 1), np.nan), np.array(["control", "t"] * 50), np.arange(100) % 2)
