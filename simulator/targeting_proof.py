"""The targeting proof: fit on a randomized experiment, plan for users the model never saw, judge on the truth.

For one world and seed: randomize every user, fit (cross-fitting, calibration, choice by policy value)
on 70 %, allocate the budget over the other 30 %, and compare the plan's true incremental retained
users with the oracle (the same allocation on the true effects), each blanket treatment (random users
until the budget or capacity runs out) and the plan's own prediction and interval.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from simulator.worlds import CONTROL, World
from uplift.allocation import Allocation, allocate
from uplift.calibration import Method as CalibrationMethod
from uplift.errors import UpliftError
from uplift.frontier import blanket_choice, evaluate_choice
from uplift.plan_inputs import PlanSpec
from uplift.targeting import DEFAULT_CANDIDATES, TargetingFit, fit_targeting, forecast


@dataclass(frozen=True)
class WorldProof:
    """One world × seed: the chosen plan against the oracle, the blankets and its own forecast (held-out users)."""

    world: str
    seed: int
    n_fit: int
    n_plan: int
    budget: float
    learner: str
    realized: float  # true incremental retained users of the plan
    predicted: float  # sum of the plan users' calibrated uplift (scores alone, as `allocate` reports it)
    ci_low: float
    ci_high: float
    oracle: float
    best_blanket: str
    best_blanket_retained: float
    cost: float
    candidates: list[dict] = field(default_factory=list)  # per learner: policy value, Qini, realized share

    @property
    def share_of_oracle(self) -> float:
        return self.realized / self.oracle

    @property
    def gain_over_blanket(self) -> float:
        return self.realized / self.best_blanket_retained - 1.0

    @property
    def forecast(self) -> tuple[float, float, float]:
        """The plan's forecast: the chosen candidate's cross-fitted doubly robust value per user × the plan's users."""
        chosen = next(c for c in self.candidates if c["learner"] == self.learner)
        return tuple(chosen[k] * self.n_plan for k in ("policy_value", "ci_low", "ci_high"))  # type: ignore[return-value]

    @property
    def forecast_error(self) -> float:
        return self.forecast[0] / self.realized - 1.0

    @property
    def covered(self) -> bool:
        return self.forecast[1] <= self.realized <= self.forecast[2]

    @property
    def passed(self) -> bool:
        """The issue's bar: ≥ 0.85 of the oracle, ≥ 30 % over the best blanket, forecast within ±15 % and covered."""
        return (self.share_of_oracle >= 0.85 and self.gain_over_blanket >= 0.30 and abs(self.forecast_error) <= 0.15
                and self.covered)

    def to_dict(self) -> dict:
        predicted, low, high = self.forecast
        return {**asdict(self), "share_of_oracle": self.share_of_oracle, "gain_over_blanket": self.gain_over_blanket,
                "forecast": predicted, "forecast_low": low, "forecast_high": high,
                "forecast_error": self.forecast_error, "covered": self.covered, "passed": self.passed}


def held_out(world: World, seed: int, holdout: float) -> np.ndarray:
    """Which users the proof plans for (the others are the experiment it fits on): the same draw everywhere."""
    return np.random.default_rng(seed + 101).random(len(world.base)) < holdout


def true_retained(uplift: pd.DataFrame, truth: pd.DataFrame, world: World, budget: float,
                  capacity: dict[str, int]) -> tuple[float, Allocation]:
    """The allocation of `uplift` at this budget and its incremental retained users on the true effects."""
    plan = allocate(uplift, world.costs, budget, None, capacity)
    costs = np.array([world.costs[t] for t in truth.columns])
    got = evaluate_choice(plan.choice, truth.to_numpy(float), costs, np.ones(len(truth)))["incremental_retained"]
    return got, plan


@dataclass(frozen=True)
class ProofSetup:
    """One world × seed split as the proof splits it: the fit on 70 %, and the held-out users it plans for."""

    world: World
    seed: int
    fit: TargetingFit
    n_fit: int
    spec: PlanSpec  # the held-out users' budget and seats
    plan_X: pd.DataFrame
    truth: pd.DataFrame  # true uplift of the held-out users, one column per fitted treatment
    held: np.ndarray

    def realized(self, uplift: pd.DataFrame) -> tuple[float, Allocation]:
        """The plan `uplift` makes for the held-out users and its true incremental retained users."""
        return true_retained(uplift, self.truth, self.world, self.spec.budget, self.spec.capacity)


def setup_proof(world: World, *, seed: int = 0, holdout: float = 0.3, n_estimators: int = 100,
                candidates: tuple[str, ...] = DEFAULT_CANDIDATES, calibration: CalibrationMethod = "isotonic",
                progress: bool = False) -> ProofSetup:
    """Randomize the world, fit every candidate on 70 % (budget and seats scaled to it), keep the other 30 % apart."""
    data = world.randomize(seed)
    held = held_out(world, seed, holdout)
    fit_rows, plan_rows = np.flatnonzero(~held), np.flatnonzero(held)
    n_plan = len(plan_rows)
    spec = PlanSpec(world.costs, world.budget_per_user * n_plan, dict(world.capacity), population=n_plan)
    scale = len(fit_rows) / n_plan
    fit_spec = PlanSpec(world.costs, spec.budget * scale, {k: int(v * scale) for k, v in spec.capacity.items()},
                        population=len(fit_rows))
    fit = fit_targeting(data.iloc[fit_rows], treatment_col="arm", outcome_col="retained", control=CONTROL,
                        spec=fit_spec, id_col="user_id", arm_weights=world.arm_weights, seed=seed,
                        n_estimators=n_estimators, candidates=candidates, calibration=calibration,
                        progress=progress)
    plan_X = data.iloc[plan_rows][fit.features].reset_index(drop=True)
    truth = world.truth.iloc[plan_rows].reset_index(drop=True)[fit.treatments]
    return ProofSetup(world, seed, fit, len(fit_rows), spec, plan_X, truth, held)


def prove_world(world: World, *, seed: int = 0, holdout: float = 0.3, n_estimators: int = 100,
                candidates: tuple[str, ...] = DEFAULT_CANDIDATES, calibration: CalibrationMethod = "isotonic",
                progress: bool = False) -> WorldProof:
    """Fit on a randomized experiment of the world, plan on held-out users, judge every candidate on the truth."""
    setup = setup_proof(world, seed=seed, holdout=holdout, n_estimators=n_estimators, candidates=candidates,
                        calibration=calibration, progress=progress)
    fit, spec, truth = setup.fit, setup.spec, setup.truth
    n_plan = len(truth)
    costs = np.array([world.costs[t] for t in fit.treatments])
    value = np.ones(n_plan)
    oracle_retained = setup.realized(truth)[0]
    blankets: dict[str, float] = {}
    for t, key in enumerate(fit.treatments):
        cap = spec.capacity.get(key, np.inf)
        choice = blanket_choice(n_plan, t, world.costs[key], spec.budget, cap, np.random.default_rng(seed + t))
        blankets[key] = evaluate_choice(choice, truth.to_numpy(float), costs, value)["incremental_retained"]
    best = max(blankets, key=blankets.__getitem__)
    candidates_out = []
    chosen_plan, chosen_se, chosen_realized = None, None, 0.0
    for report in fit.candidates:
        predicted, se = fit.models[report.learner].predict_with_se(setup.plan_X)
        got, plan = setup.realized(predicted)
        if report.learner == fit.learner:
            chosen_plan, chosen_se, chosen_realized = plan, se, got
        candidates_out.append({"learner": report.learner, "policy_value": report.policy_value.value_per_user,
                               "ci_low": report.policy_value.ci_low, "ci_high": report.policy_value.ci_high,
                               "qini": report.mean_qini, "realized": got, "share_of_oracle": got / oracle_retained,
                               "predicted": plan.expected_retained})
    if chosen_plan is None or chosen_se is None:
        raise UpliftError(f"the chosen learner {fit.learner!r} is not among the candidates the fit reports")
    outlook = forecast(chosen_plan, chosen_se)
    return WorldProof(world.name, seed, setup.n_fit, n_plan, spec.budget, fit.learner, chosen_realized,
                      outlook.predicted, outlook.ci_low, outlook.ci_high, oracle_retained, best, blankets[best],
                      chosen_plan.total_cost, candidates_out)


def ceiling_uplift(world: World, held: np.ndarray, *, seed: int = 0, n_estimators: int = 400) -> pd.DataFrame:
    """LightGBM regressions of each treatment's *true* uplift on the features, fitted on the users not `held` (no
    outcome noise) and predicted for the held ones: the best any learner that sees only these features could do."""
    from lightgbm import LGBMRegressor

    from uplift.learners import as_text, build_encoder

    features = world.features.drop(columns="user_id")
    matrix = build_encoder(features).fit_transform(as_text(features)).astype(float)
    return pd.DataFrame({
        t: LGBMRegressor(n_estimators=n_estimators, learning_rate=0.05, num_leaves=31, random_state=seed, n_jobs=1,
                         verbose=-1).fit(matrix[~held], world.truth[t].to_numpy()[~held]).predict(matrix[held])
        for t in world.truth.columns})


def feature_ceiling(world: World, *, seed: int = 0, holdout: float = 0.3, n_estimators: int = 400) -> float:
    """Share of the oracle a model of the *true* uplift reaches on the same held-out users: what the features can tell.

    The proof's budget and seats over the held-out 30 %, planned on `ceiling_uplift`. No learner that sees only
    outcomes can be expected to beat it; how far below it a plan lands is the price of learning from
    a finite experiment.
    """
    held = held_out(world, seed, holdout)
    budget = world.budget_per_user * int(held.sum())
    truth = world.truth[held].reset_index(drop=True)
    modelled = ceiling_uplift(world, held, seed=seed, n_estimators=n_estimators)[truth.columns]
    capacity = dict(world.capacity)
    return (true_retained(modelled, truth, world, budget, capacity)[0]
            / true_retained(truth, truth, world, budget, capacity)[0])


def treatment_breakdown(setup: ProofSetup, *, n_estimators: int = 400) -> pd.DataFrame:
    """Where a plan gains and loses, treatment by treatment: for the oracle, the feature ceiling and each candidate,
    the held-out users given each treatment, their true incremental retained users, and how well the plan's
    uplift ranks users on the true uplift (Pearson correlation; the oracle's is 1)."""
    truth = setup.truth
    plans = {"oracle": truth,
             "feature ceiling": ceiling_uplift(setup.world, setup.held, seed=setup.seed, n_estimators=n_estimators)}
    plans.update({name: model.predict(setup.plan_X) for name, model in setup.fit.models.items()})
    oracle = setup.realized(truth)[0]
    rows = []
    for name, uplift in plans.items():
        uplift = uplift[truth.columns]
        got, plan = setup.realized(uplift)
        choice = np.asarray(plan.choice)
        for t, key in enumerate(truth.columns):
            given = choice == t
            spread = uplift[key].std() > 0
            rows.append({"plan": name, "share_of_oracle": got / oracle, "treatment": key, "users": int(given.sum()),
                         "true_gain": float(truth[key].to_numpy()[given].sum()),
                         "correlation": float(np.corrcoef(uplift[key], truth[key])[0, 1]) if spread else float("nan")})
    return pd.DataFrame(rows)
