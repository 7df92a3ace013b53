"""Choosing among tied candidates honestly (issue 25): cross-fitted calibration, the nested forecast, the shrunk
promise, the tuned candidates and the note `allocate` prints when its plan differs from the one the model was chosen on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.small_worlds import FAMILIES, threshold_world
from uplift.calibration import dr_scores, fit_calibration
from uplift.candidates import DEFAULT_CANDIDATES, PRESETS, candidate
from uplift.errors import UpliftError
from uplift.plan_inputs import PlanSpec
from uplift.plan_notes import chosen_on_note
from uplift.selection import cross_calibrated, nested_forecast, supported_share, ties
from uplift.targeting import fit_targeting


def noise_experiment(n: int = 12_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A treatment that does nothing, and predictions that are pure noise: any uplift a plan finds is luck."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "t"], n)
    y = (rng.random(n) < 0.4).astype(float)
    mu = pd.DataFrame({"control": np.full(n, 0.4), "t": np.full(n, 0.4)})
    scores = dr_scores(arm, y, mu, {"control": 1, "t": 1}, "control", ["t"])
    raw = pd.DataFrame({"t": rng.normal(size=n)})
    return raw, scores, rng.integers(0, 3, n)


def test_cross_calibration_does_not_use_a_user_s_own_outcome():
    # Calibrated on the other folds, fold 0's calibrated uplift cannot move when fold 0's outcomes (DR scores) do;
    # calibrated on every user, it does: that is the luck a plan picking the best-looking deciles would keep.
    raw, scores, fold = noise_experiment()
    lucky = scores.copy()
    lucky.loc[fold == 0, "t"] += np.where(raw["t"][fold == 0] > 1.0, 0.5, 0.0)  # fold 0's top users did well
    crossed, crossed_lucky = (cross_calibrated(raw, s, fold, method="linear") for s in (scores, lucky))
    pd.testing.assert_frame_equal(crossed[fold == 0], crossed_lucky[fold == 0])
    own, own_lucky = (fit_calibration(raw, s, method="linear").apply(raw)[0] for s in (scores, lucky))
    assert (own_lucky.loc[fold == 0, "t"] - own.loc[fold == 0, "t"]).abs().max() > 0.01
    assert list(crossed.columns) == ["t"] and len(crossed) == len(raw)


def test_nested_forecast_values_each_fold_with_the_choice_made_on_the_others():
    fold = np.repeat([0, 1, 2], 4)
    # 'a' looks best on folds 1 and 2, 'b' on fold 0 only: held back, fold 0 is valued with 'a' (the others' choice).
    terms = {"a": np.array([0.0] * 4 + [1.0] * 4 + [1.0] * 4), "b": np.array([5.0] * 4 + [0.0] * 4 + [0.0] * 4)}
    nested = nested_forecast(terms, fold)
    assert nested.fold_choices == ["a", "b", "b"]  # without fold 0, 'a' wins; without fold 1 or 2, 'b' (mean 2.5)
    # fold 0 from 'a' (0), folds 1 and 2 from 'b' (0): the choice is worth nothing on users it did not see.
    assert nested.estimate.value_per_user == pytest.approx(0.0)
    assert ties({"a": np.ones(100), "b": np.ones(100) + np.random.default_rng(0).normal(0, 0.1, 100)}, "a") == ["b"]
    assert ties({"a": np.ones(100) * 2, "b": np.zeros(100) + np.random.default_rng(0).normal(0, 0.1, 100)}, "a") == []


def test_the_promise_is_only_shrunk_and_never_below_the_floor():
    assert supported_share(50.0, 100.0) == pytest.approx(0.5)
    assert supported_share(150.0, 100.0) == 1.0
    assert supported_share(-10.0, 100.0) == 0.25
    # With a value, the shares are of gross value: net 50 promised and 20 supported on a cost of 100 -> 120/150.
    assert supported_share(20.0, 50.0, cost=100.0) == pytest.approx(0.8)
    assert supported_share(1.0, 0.0) == 1.0


def test_candidates_are_named_presets_of_the_learners():
    assert set(DEFAULT_CANDIDATES) <= set(PRESETS)
    coarse = candidate("s_coarse").model(control="control", arm_weights=None, n_estimators=100, seed=3)
    assert (coarse.learner, coarse.num_leaves, coarse.min_child_samples, coarse.n_estimators) == ("s", 4, 400, 400)
    assert candidate("t").model(control="c", arm_weights=None, n_estimators=50, seed=0).num_leaves is None
    with pytest.raises(UpliftError, match="unknown candidate learner 'z'; choose from s, s_fine"):
        candidate("z")


def test_allocate_note_names_what_differs_from_the_plan_the_model_was_chosen_on():
    chosen_on = PlanSpec({"a": 2.0, "b": 5.0}, 1_000.0, {"b": 10}, population=1_000).per_user(400)
    assert chosen_on == {"budget_per_user": 1.0, "costs": {"a": 2.0, "b": 5.0}, "capacity_share": {"b": 0.01},
                         "value": "none"}
    same = PlanSpec({"a": 2.0, "b": 5.0}, 2_050.0, {"b": 20}).per_user(2_000)  # within 10 %: no note
    assert chosen_on_note(chosen_on, same) is None
    assert chosen_on_note({}, same) is None  # a model fitted before issue 25 recorded nothing
    asked = PlanSpec({"a": 2.0, "b": 9.0}, 4_000.0, {"b": 20}).per_user(2_000)
    note = chosen_on_note(chosen_on, asked)
    assert note is not None and note.startswith(
        "this plan differs from the one the model was chosen and its forecast calibrated on: budget 2.00 per user "
        "(chosen on 1.00); unit cost b 9.00 (chosen on 5.00). ")


def test_the_threshold_family_has_the_issue_s_shape():
    family = FAMILIES["threshold"]
    assert (family.n_experiment, family.n_plan) == (40_000, 80_000)
    world = threshold_world(20_000, seed=1)
    assert world.arm_weights == {"control": 0.4, "discount": 0.15, "free_shipping": 0.15, "concierge": 0.15,
                                 "email": 0.15}
    arms = world.randomize(1)["arm"].value_counts(normalize=True)
    assert arms["control"] == pytest.approx(0.4, abs=0.015) and arms["email"] == pytest.approx(0.15, abs=0.01)
    never_open = world.features["email_open_rate"] == 0
    assert (world.truth.loc[never_open, "email"] < 0).all() and (world.truth.loc[~never_open, "email"] > 0).all()
    helped = world.truth["concierge"] > 0
    assert (world.features.loc[helped, "support_tickets"] >= 2).all() and (world.truth.loc[~helped, "concierge"] < 0).all()


def test_fit_records_the_nested_forecast_the_ties_and_the_plan_it_was_chosen_on():
    world = threshold_world(6_000, seed=2)
    data = world.randomize(2)
    spec = PlanSpec(world.costs, 12_000.0, {}, population=12_000)
    fit = fit_targeting(data, treatment_col="arm", outcome_col="retained", control="control", spec=spec,
                        id_col="user_id", arm_weights=world.arm_weights, candidates=("s", "t_coarse"),
                        n_estimators=30, progress=False)
    assert fit.nested is not None and len(fit.nested.fold_choices) == 3
    names = {f"{n}{suffix}" for n in ("s", "t_coarse", "ensemble") for suffix in ("", "_ungated")}
    assert set(fit.nested.fold_choices) <= names
    assert fit.forecast_value is fit.nested.estimate
    assert set(fit.tied) <= names - {fit.learner}
    assert fit.chosen_on["budget_per_user"] == pytest.approx(1.0)
    metrics = fit.metrics()
    assert metrics["chosen_on"]["costs"] == world.costs and metrics["forecast"] == fit.nested.estimate.to_dict()
    assert 0.25 <= fit.model.calibration.shrink <= 1.0
