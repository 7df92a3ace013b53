"""The small-experiment proof: fit on an experiment as `uplift fit` would, plan a bigger population as `allocate` would.

For one family and seed: randomize the experiment's users with the family's arm shares, fit the targeting
told the costs, the budget and the population it is for, score the population with the stored model, allocate
the budget over it, and judge the plan on the true effects: its share of the oracle, each candidate's share,
and the two promises against what happens (the sum of the plan's calibrated scores with its interval, which
`allocate` prints, and the fit's forecast of the chosen plan).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from simulator.small_worlds import Family
from simulator.targeting_proof import true_retained
from simulator.worlds import CONTROL
from uplift.plan_inputs import PlanSpec
from uplift.targeting import fit_targeting, forecast, mean_frames


@dataclass(frozen=True)
class SmallProof:
    """One family × seed: the chosen plan on the population against the oracle, every candidate and its promises."""

    world: str
    seed: int
    n_fit: int
    n_plan: int
    budget: float
    learner: str
    realized: float  # true incremental retained users of the plan over the population
    oracle: float
    promise: float  # the plan's calibrated scores summed (what `allocate` prints), with its 95 % interval
    promise_low: float
    promise_high: float
    fit_forecast: float  # the fit's forecast of the chosen plan (per user × population), with its 95 % interval
    fit_low: float
    fit_high: float
    seconds: float
    candidates: list[dict] = field(default_factory=list)  # learner, DR value, realized share of the oracle

    @property
    def share_of_oracle(self) -> float:
        return self.realized / self.oracle

    @property
    def best_candidate_share(self) -> float:
        return max(c["share_of_oracle"] for c in self.candidates)

    @property
    def promise_ratio(self) -> float:
        return self.promise / self.realized

    @property
    def promise_covered(self) -> bool:
        return self.promise_low <= self.realized <= self.promise_high

    @property
    def fit_ratio(self) -> float:
        return self.fit_forecast / self.realized

    @property
    def fit_covered(self) -> bool:
        return self.fit_low <= self.realized <= self.fit_high

    def to_dict(self) -> dict:
        return {**asdict(self), "share_of_oracle": self.share_of_oracle, "best_candidate_share": self.best_candidate_share,
                "promise_ratio": self.promise_ratio, "promise_covered": self.promise_covered,
                "fit_ratio": self.fit_ratio, "fit_covered": self.fit_covered}


def prove_family(family: Family, seed: int, *, n_estimators: int = 100, progress: bool = False,
                 **fit_options) -> SmallProof:
    """Fit on the family's experiment, plan its population with the chosen model, judge on the true effects."""
    import time

    n_fit, n_plan = family.n_experiment, family.n_plan
    world = family.make(n_fit + n_plan, seed)
    data = world.randomize(seed)
    experiment = data.iloc[:n_fit]
    budget = world.budget_per_user * n_plan
    capacity = {k: int(v * n_plan / len(data)) for k, v in world.capacity.items()}
    spec = PlanSpec(world.costs, budget, capacity, population=n_plan)
    started = time.perf_counter()
    fit = fit_targeting(experiment, treatment_col="arm", outcome_col="retained", control=CONTROL, spec=spec,
                        id_col="user_id", arm_weights=world.arm_weights, seed=seed, n_estimators=n_estimators,
                        progress=progress, **fit_options)
    seconds = time.perf_counter() - started
    plan_X = data.iloc[n_fit:][fit.features].reset_index(drop=True)
    truth = world.truth.iloc[n_fit:].reset_index(drop=True)[fit.treatments]
    oracle = true_retained(truth, truth, world, budget, capacity)[0]
    candidates, promise, realized = [], (np.nan, np.nan, np.nan), np.nan
    scored: dict[int, pd.DataFrame] = {}  # each fold model scores the population once (candidates share them)

    def score(member) -> pd.DataFrame:
        if id(member) not in scored:
            scored[id(member)] = member.predict(plan_X)[fit.treatments]
        return scored[id(member)]

    for report in fit.candidates:
        model = fit.models[report.learner]  # what TargetingModel.predict_with_se does, with the scores shared
        raw = mean_frames([mean_frames([score(m) for m in members]) for members in model.fold_models])
        predicted, se = model.calibration.apply(raw)
        got, plan = true_retained(predicted, truth, world, budget, capacity)
        if report.learner == fit.learner:
            outlook = forecast(plan, se)
            promise, realized = (outlook.predicted, outlook.ci_low, outlook.ci_high), got
        candidates.append({"learner": report.learner, "policy_value": report.policy_value.value_per_user,
                           "ci_low": report.policy_value.ci_low, "ci_high": report.policy_value.ci_high,
                           "realized": got, "share_of_oracle": got / oracle})
    estimate = fit.forecast_value
    return SmallProof(family.name, seed, n_fit, n_plan, budget, fit.learner, realized, oracle, *promise,
                      estimate.value_per_user * n_plan, estimate.ci_low * n_plan, estimate.ci_high * n_plan,
                      seconds, candidates)
