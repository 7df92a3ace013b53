"""UpliftModel is a scikit-learn estimator (issue 21): parameters only in __init__, clone, Pipeline, GridSearchCV."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from uplift.errors import UpliftError
from uplift.learners import UpliftModel


def experiment(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """Treatment 'a' lifts the outcome by 0.3 where x > 0.5 and by nothing elsewhere (control and 'a' at 1:1)."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    arm = rng.choice(["control", "a"], n)
    y = (rng.random(n) < 0.3 + np.where((arm == "a") & (x > 0.5), 0.3, 0.0)).astype(int)
    return pd.DataFrame({"x": x, "noise": rng.normal(size=n), "arm": arm, "y": y})


def test_init_only_stores_parameters_and_set_params_round_trips():
    model = UpliftModel("s", n_estimators=30, num_leaves=4)
    params = model.get_params()
    assert params["learner"] == "s" and params["n_estimators"] == 30 and params["num_leaves"] == 4
    assert not [name for name in vars(model) if name.endswith("_")]  # nothing fitted before fit
    model.set_params(min_child_samples=80, reg_lambda=5.0)
    assert model.get_params()["min_child_samples"] == 80 and model.reg_lambda == 5.0


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    frame = experiment()
    model = UpliftModel("t", n_estimators=20, random_state=4).fit(frame[["x", "noise"]], frame["y"],
                                                                   treatment=frame["arm"])
    fitted = sorted(name for name in vars(model) if name.endswith("_"))
    assert fitted == ["binary_outcome_", "encoder_", "features_", "model_", "n_categorical_", "propensity_", "treatments_"]
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "model_")
    # The same parameters and data give the same predictions: the seed is a parameter, not hidden state.
    again = copy.fit(frame[["x", "noise"]], frame["y"], treatment=frame["arm"])
    pd.testing.assert_frame_equal(again.predict(frame[["x", "noise"]]), model.predict(frame[["x", "noise"]]))


def test_pipeline_passes_the_treatment_as_a_fit_parameter():
    frame = experiment()
    squared = FunctionTransformer(lambda X: X.assign(x2=X["x"] ** 2), validate=False)
    pipe = Pipeline([("features", squared), ("uplift", UpliftModel("s", n_estimators=40))])
    pipe.fit(frame[["x", "noise"]], frame["y"], uplift__treatment=frame["arm"])
    assert pipe.named_steps["uplift"].features_ == ["x", "noise", "x2"]
    predicted = pipe.predict(frame[["x", "noise"]])
    # The simulated jump of 0.3 at x = 0.5 shows as a gap in the predicted uplift.
    assert predicted.loc[frame["x"] > 0.6, "a"].mean() - predicted.loc[frame["x"] < 0.4, "a"].mean() > 0.15


def test_grid_search_chooses_parameters_by_qini_with_the_arm_as_a_column():
    frame = experiment(4_000, seed=1)
    search = GridSearchCV(UpliftModel("s", n_estimators=30, treatment_col="arm"),
                          {"num_leaves": [2, 8], "min_child_samples": [20, 200]}, cv=2)
    search.fit(frame[["x", "noise", "arm"]], frame["y"])
    assert set(search.best_params_) == {"num_leaves", "min_child_samples"}
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.features_ == ["x", "noise"]  # the arm column is not a feature
    assert search.score(frame[["x", "noise", "arm"]], frame["y"]) > 0  # real heterogeneity ranks above random


def test_the_outcome_comes_before_the_arms():
    frame = experiment(500)
    with pytest.raises(UpliftError, match="outcome y is not numeric; fit takes \\(X, y, treatment=arms\\)"):
        UpliftModel("t").fit(frame[["x"]], frame["arm"], treatment=frame["y"])
    with pytest.raises(UpliftError, match="no treatment: pass treatment=<arm per user>, or set treatment_col"):
        UpliftModel("t").fit(frame[["x"]], frame["y"])
