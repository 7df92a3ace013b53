"""Proof of a targeting plan on a real randomized experiment: fit on part of it, judge the plan on the rest.

Where no true effects are known (a real shop), the randomized users the model never saw are the proof:
`fit_targeting` runs on a random share of the experiment, its chosen model plans the budget for the
held-out users, and the plan's incremental outcome per user is estimated on those users with the doubly
robust estimator (known propensities, outcome models fitted on the fit users only). Each blanket policy
(random users with one treatment until the budget runs out) is judged on the same users, and the
targeted plan's gain over each blanket is estimated from the paired per-user terms, so its interval is
narrower than the two separate ones. The fit's own forecast (its out-of-fold plan value) is reported
beside the held-out value: the promise against what the untouched users show.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from uplift.allocation import allocate
from uplift.frontier import blanket_choice
from uplift.plan_inputs import PlanSpec
from uplift.policy_value import PolicyEstimate, arm_outcome_predictions, interval, policy_terms
from uplift.targeting import DEFAULT_CANDIDATES, fit_targeting


@dataclass(frozen=True)
class HoldoutProof:
    """A plan fitted on one part of a randomized experiment and judged (doubly robust) on the other part."""

    learner: str
    n_fit: int
    n_plan: int
    budget: float  # for the held-out users
    treated: int
    cost: float
    forecast: PolicyEstimate  # the chosen candidate's out-of-fold plan value per user, on the fit users
    targeted: PolicyEstimate  # the plan's incremental outcome per held-out user
    blankets: list[PolicyEstimate] = field(default_factory=list)  # random users with one treatment, same budget
    gains: list[PolicyEstimate] = field(default_factory=list)  # targeted minus each blanket, paired per user
    held_out: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)  # over the data's rows
    policy: np.ndarray = field(default_factory=lambda: np.zeros(0, object), repr=False)  # arm per held-out user

    @property
    def forecast_gap(self) -> tuple[float, float, float]:
        """Forecast minus held-out value per user with its 95 % interval (the two samples are disjoint, so their
        standard errors add in quadrature): an interval that covers 0 means the held-out users bear the promise out."""
        z = float(norm.ppf(0.975))
        se = math.hypot((self.forecast.ci_high - self.forecast.ci_low) / (2 * z),
                        (self.targeted.ci_high - self.targeted.ci_low) / (2 * z))
        gap = self.forecast.value_per_user - self.targeted.value_per_user
        return gap, gap - z * se, gap + z * se

    @property
    def forecast_consistent(self) -> bool:
        gap, low, high = self.forecast_gap
        return low <= 0 <= high

    def to_dict(self) -> dict:
        return {"learner": self.learner, "n_fit": self.n_fit, "n_plan": self.n_plan, "budget": self.budget,
                "treated": self.treated, "cost": self.cost, "forecast": self.forecast.to_dict(),
                "targeted": self.targeted.to_dict(), "blankets": [b.to_dict() for b in self.blankets],
                "gains": [g.to_dict() for g in self.gains], "forecast_gap": list(self.forecast_gap),
                "forecast_consistent": self.forecast_consistent}


def prove_on_holdout(
    data: pd.DataFrame,
    *,
    treatment_col: str,
    outcome_col: str,
    control: str,
    costs: Mapping[str, float],
    budget_per_user: float,
    arm_weights: Mapping[str, float],
    capacity: Mapping[str, int] | None = None,
    id_col: str | None = None,
    holdout: float = 0.3,
    seed: int = 0,
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
    n_estimators: int = 100,
    alpha: float = 0.05,
    unplanned: tuple[str, ...] = (),
    progress: bool = False,
) -> HoldoutProof:
    """Fit on a random (1 − holdout) of the experiment's users, plan `budget_per_user` for the rest, judge there.

    `capacity` is per held-out population (scaled to the fit users for the fit's own plans). `unplanned` treatments
    (failed a guardrail) are fitted but neither planned nor offered as a blanket."""
    held = np.random.default_rng(seed).random(len(data)) < holdout
    fit_data, plan_data = data[~held].reset_index(drop=True), data[held].reset_index(drop=True)
    capacity = dict(capacity or {})
    scale = len(fit_data) / max(len(plan_data), 1)
    fit_spec = PlanSpec(dict(costs), budget_per_user * len(fit_data), {k: int(v * scale) for k, v in capacity.items()},
                        population=len(fit_data))
    fit = fit_targeting(fit_data, treatment_col=treatment_col, outcome_col=outcome_col, control=control,
                        spec=fit_spec, id_col=id_col, arm_weights=dict(arm_weights), seed=seed,
                        n_estimators=n_estimators, candidates=candidates, unplanned=unplanned, progress=progress)
    budget = budget_per_user * len(plan_data)
    planned = [t for t in fit.treatments if t not in set(unplanned)]
    predicted = fit.model.predict(plan_data[fit.features])[planned]
    plan = allocate(predicted, {t: costs[t] for t in planned}, budget, None,
                    {t: c for t, c in capacity.items() if t in planned})
    labels = np.where(plan.labels() == "control", control, plan.labels())
    arm = plan_data[treatment_col].astype(str).to_numpy()
    y = pd.to_numeric(plan_data[outcome_col]).to_numpy(float)
    mu = arm_outcome_predictions(fit_data[fit.features], fit_data[treatment_col].astype(str),
                                 pd.to_numeric(fit_data[outcome_col]).astype(float), plan_data[fit.features],
                                 seed=seed)
    weights = dict(arm_weights)

    def terms(policy: np.ndarray) -> np.ndarray:
        return policy_terms(arm, y, policy, weights, control=control, outcome_predictions=mu)

    targeted_terms = terms(labels)
    blankets, gains = [], []
    rng = np.random.default_rng(seed + 1)
    for t, key in enumerate(planned):
        choice = blanket_choice(len(plan_data), t, costs[key], budget, capacity.get(key, np.inf), rng)
        blanket_terms = terms(np.where(choice >= 0, key, control))
        blankets.append(interval(f"blanket {key}", "dr", blanket_terms, alpha))
        gains.append(interval(f"targeted - blanket {key}", "dr", targeted_terms - blanket_terms, alpha))
    return HoldoutProof(fit.learner, len(fit_data), len(plan_data), budget, int((plan.choice >= 0).sum()),
                        float(plan.total_cost), fit.forecast_value,
                        interval("targeted", "dr", targeted_terms, alpha), blankets, gains, held, labels)
