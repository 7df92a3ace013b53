"""The pseudo-outcome forest (issue 25): a forest of shallow trees on each treatment's transformed outcome."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.candidates import DEFAULT_CANDIDATES, candidate
from uplift.errors import UpliftError
from uplift.learners import UpliftModel
from uplift.pseudo_forest import PseudoOutcomeForest


def experiment(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """'a' helps (+0.15) above x = 0.5 and harms (-0.05) below; 'b' helps (+0.12) in the north and east only (two of
    six regions: one native categorical split, where one-hot columns need two)."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    region = rng.choice(["north", "south", "east", "west", "centre", "coast"], n)
    arm = rng.choice(["control", "a", "b"], n, p=[0.4, 0.3, 0.3])
    truth = pd.DataFrame({"a": np.where(x > 0.5, 0.15, -0.05), "b": np.where(np.isin(region, ["north", "east"]), 0.12, 0.0)})
    p = 0.3 + 0.2 * x + np.select([arm == "a", arm == "b"], [truth["a"], truth["b"]], 0.0)
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"x": x, "region": region, "noise": rng.normal(size=n), "arm": arm, "y": y}), truth


def test_the_forest_estimates_the_uplift_itself_at_a_threshold_and_in_a_set_of_categories():
    frame, truth = experiment()
    X = frame[["x", "region", "noise"]]
    model = candidate("pseudo_forest").model(control="control", arm_weights={"control": 0.4, "a": 0.3, "b": 0.3},
                                             n_estimators=100, seed=0).fit(X, frame["y"], treatment=frame["arm"])
    predicted = model.predict(X)
    assert list(predicted.columns) == ["a", "b"] and model.n_estimators == 200
    # The transformed outcome's mean is the uplift (Athey & Imbens 2015), so the leaves are effects: a is about
    # +0.15 above x = 0.5 and about -0.05 below (sign and size, within the noise of ~6,000 treated users).
    high, low = predicted.loc[frame["x"] > 0.6, "a"].mean(), predicted.loc[frame["x"] < 0.4, "a"].mean()
    assert 0.08 < high < 0.22 and -0.12 < low < 0.02
    inside = np.isin(frame["region"], ["north", "east"])
    assert predicted.loc[inside, "b"].mean() - predicted.loc[~inside, "b"].mean() > 0.06
    assert np.corrcoef(predicted["b"], truth["b"])[0, 1] > 0.8


def test_categories_are_codes_and_an_unseen_one_scores_as_missing():
    frame, _ = experiment(4_000)
    X = frame[["x", "region"]]
    model = UpliftModel("pseudo_forest", arm_weights={"control": 0.4, "a": 0.3, "b": 0.3}).fit(
        X, frame["y"], treatment=frame["arm"])
    assert model.n_categorical_ == 1 and model.encoder_.transform(X.head(3).astype({"x": float})).shape == (3, 2)
    unseen = pd.DataFrame({"x": [0.2, 0.9], "region": ["islands", "north"]})
    scored = model.predict(unseen)
    assert scored.shape == (2, 2) and np.isfinite(scored.to_numpy()).all()


@pytest.mark.parametrize("learner", ["pseudo_forest", "pseudo_rules"])
def test_a_continuous_outcome_is_estimated_the_same_way_from_a_single_feature(learner):
    rng = np.random.default_rng(3)
    n = 12_000
    x = rng.random(n)
    arm = rng.choice(["control", "t"], n)
    spend = 50 + 20 * x + rng.normal(0, 10, n) + np.where((arm == "t") & (x > 0.5), 8.0, 0.0)
    model = UpliftModel(learner, arm_weights={"control": 0.5, "t": 0.5}, n_estimators=200).fit(
        pd.DataFrame({"x": x}), spend, treatment=arm)
    predicted = model.predict(pd.DataFrame({"x": [0.2, 0.8]}))["t"].to_numpy()
    assert abs(predicted[0]) < 2.5 and 5.5 < predicted[1] < 10.5


def test_a_treatment_without_a_propensity_is_refused_and_the_forest_is_a_default_candidate():
    assert "pseudo_forest" in DEFAULT_CANDIDATES
    X = np.random.default_rng(0).random((200, 1))
    arm = np.array(["control", "t", "u", "control"] * 50)
    with pytest.raises(UpliftError, match="no propensity for treatment"):
        PseudoOutcomeForest({"t": 0.5}).fit(X, arm, np.ones(200))


def test_the_cli_offers_every_preset_and_names_the_default_candidates():
    from uplift.candidates import PRESETS
    from winback.commands.uplift import AUTO_HELP, LEARNER_CHOICES

    assert LEARNER_CHOICES == ["auto", *PRESETS]
    assert all(name in AUTO_HELP for name in DEFAULT_CANDIDATES)
