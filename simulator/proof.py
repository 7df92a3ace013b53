"""End-to-end proof on the demo shop, where the true effects are known.

Flag the at-risk users, randomize them over the demo arms, simulate outcomes, fit uplift learners on
features computed from the event history (never the latent traits), allocate a budget on held-out
users, and compare with the oracle allocation (true effects) and each blanket treatment; then check
that the off-policy estimate's interval covers the policy's true value.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from churn.pipeline import demo_as_of_dates, history_features
from simulator.experiment import (
    DEMO_ARMS,
    DEMO_TREATMENTS,
    simulate_outcomes,
    true_uplift,
)
from uplift.allocation import allocate
from uplift.fitting import LearnerChoice, fit_uplift
from uplift.frontier import budget_frontier
from uplift.policy_value import (
    PolicyEstimate,
    arm_outcome_predictions,
    blanket_values,
    off_policy_value,
)


@dataclass(frozen=True)
class DemoProof:
    """Held-out comparison of the targeted allocation with the oracle and blanket policies, on the true effects."""

    n_flagged: int
    n_holdout: int
    learner: str
    budget: float
    targeted_retained: float
    oracle_retained: float
    best_blanket: str
    best_blanket_retained: float
    share_of_oracle: float
    gain_over_best_blanket: float
    true_policy_value: float  # mean true uplift per held-out user of the targeted policy
    estimates: list[PolicyEstimate]
    blankets_measured: list[PolicyEstimate]
    covered: bool  # every estimate's interval covers the true policy value
    policies: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("policies", "estimates", "blankets_measured")}
        out["estimates"] = [e.to_dict() for e in self.estimates]
        out["blankets_measured"] = [e.to_dict() for e in self.blankets_measured]
        out["policies"] = self.policies.to_dict(orient="records")
        return out


@dataclass(frozen=True)
class DemoHoldout:
    """The demo experiment's held-out users with predicted and true uplift, ready to allocate and prove."""

    n_flagged: int
    learner: str
    held: pd.DataFrame = field(repr=False)  # user_id, features, arm, outcome
    predicted: pd.DataFrame = field(repr=False)  # one column per treatment (model trained on the other users)
    truth: pd.DataFrame = field(repr=False)  # true uplift, same columns
    outcome_predictions: pd.DataFrame = field(repr=False)  # per-arm outcome models for the DR estimate
    costs: dict = field(default_factory=dict)
    capacity: dict = field(default_factory=dict)  # the catalog's capacities scaled to the holdout's share
    arm_weights: dict = field(default_factory=dict)
    control: str = "control"
    monthly_value: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # aligned with `held`

    def value(self, margin: float) -> np.ndarray:
        """Value of retaining each held-out user: margin × two months of spend (finance's figure, not a feature)."""
        return margin * 2.0 * self.monthly_value


def demo_holdout(
    n_users: int = 60_000,
    *,
    seed: int = 7,
    risk_threshold: float = 0.5,
    learner: LearnerChoice = "auto",
    n_estimators: int = 100,
    progress: bool = False,
) -> DemoHoldout:
    """Generate a shop, flag users at risk, randomize and simulate the demo experiment, fit uplift on 70% of it."""
    from simulator.shop import generate_shop

    shop = generate_shop(n_users, seed=seed)
    users = shop.users[shop.users["p_churn"] >= risk_threshold].reset_index(drop=True)
    rng = np.random.default_rng(seed + 1)
    arms = [a for a, _, _, _ in DEMO_ARMS]
    weights = np.array([w for _, _, w, _ in DEMO_ARMS])
    assignments = pd.DataFrame({"user_id": users["user_id"], "arm_key": rng.choice(arms, len(users), p=weights / weights.sum())})
    outcomes = simulate_outcomes(users, assignments, seed=seed + 2)
    retained = outcomes[outcomes["metric"] == "retained"].set_index("user_id")["value"]
    as_of = demo_as_of_dates(shop.as_of, shop.horizon_days)["score"]
    features = history_features(shop.events[shop.events["user_id"].isin(users["user_id"])], as_of)
    data = users[["user_id"]].merge(features.reset_index(), on="user_id", how="left").merge(assignments, on="user_id")
    data["retained"] = retained.reindex(data["user_id"]).to_numpy()
    control = next(a for a, _, _, c in DEMO_ARMS if c)
    arm_weights = {a: w for a, _, w, _ in DEMO_ARMS}
    fit = fit_uplift(data, treatment_col="arm_key", outcome_col="retained", control=control, id_col="user_id",
                     learner=learner, arm_weights=arm_weights, seed=seed, n_estimators=n_estimators,
                     refit=False, progress=progress)
    held = fit.holdout
    predicted = held[[f"uplift_{t}" for t in fit.treatments]].set_axis(fit.treatments, axis=1)
    truth = true_uplift(users.set_index("user_id").loc[held["user_id"]].reset_index())[fit.treatments]
    capacity_total = DEMO_TREATMENTS.dropna(subset=["capacity"]).set_index("key")["capacity"]
    share = len(held) / len(users)
    train = ~data["user_id"].isin(held["user_id"])
    mu = arm_outcome_predictions(data.loc[train, fit.features], data.loc[train, "arm_key"],
                                 data.loc[train, "retained"], held[fit.features], seed=seed)
    return DemoHoldout(
        n_flagged=len(users), learner=fit.learner, held=held, predicted=predicted, truth=truth,
        outcome_predictions=mu, costs=DEMO_TREATMENTS.set_index("key")["unit_cost"].to_dict(),
        capacity={k: int(v * share) for k, v in capacity_total.items()}, arm_weights=arm_weights, control=control,
        monthly_value=users.set_index("user_id").loc[held["user_id"], "monthly_value"].to_numpy(float),
    )


def prove(demo: DemoHoldout, *, budget_per_user: float = 5.0, margin: float = 0.3, seed: int = 7) -> DemoProof:
    """Allocate a budget on the held-out users and compare with the oracle, blanket policies and the off-policy estimate."""
    held = demo.held
    value = demo.value(margin)
    budget = budget_per_user * len(held)
    targeted = allocate(demo.predicted, demo.costs, budget, value, demo.capacity)
    # Judged on the true effects: the targeted plan, the oracle, each blanket treatment and a random allocation.
    policies = budget_frontier(demo.predicted, demo.costs, [budget], value, demo.capacity, truth=demo.truth,
                               seed=seed + 3).drop(columns="budget")
    rows = policies.set_index("policy").to_dict(orient="index")
    blankets = policies[policies["policy"].str.startswith("blanket")]
    best = blankets.iloc[int(np.nanargmax(blankets["incremental_retained"].to_numpy(float)))]  # the first largest
    labels = targeted.labels()
    labels = np.where(labels == "control", demo.control, labels)
    estimates = off_policy_value(held["arm"], held["outcome"], labels, demo.arm_weights, control=demo.control,
                                 outcome_predictions=demo.outcome_predictions)
    true_value = float(rows["targeted"]["incremental_retained"] / len(held))
    return DemoProof(
        n_flagged=demo.n_flagged, n_holdout=len(held), learner=demo.learner, budget=budget,
        targeted_retained=float(rows["targeted"]["incremental_retained"]),
        oracle_retained=float(rows["oracle"]["incremental_retained"]),
        best_blanket=str(best["policy"]), best_blanket_retained=float(best["incremental_retained"]),
        share_of_oracle=float(rows["targeted"]["incremental_retained"] / rows["oracle"]["incremental_retained"]),
        gain_over_best_blanket=float(rows["targeted"]["incremental_retained"] / best["incremental_retained"] - 1),
        true_policy_value=true_value, estimates=estimates,
        blankets_measured=blanket_values(held["arm"], held["outcome"], control=demo.control),
        covered=all(e.ci_low <= true_value <= e.ci_high for e in estimates), policies=policies,
    )


def demo_frontier(demo: DemoHoldout, *, budgets_per_user: tuple[float, ...] = (0.5, 1, 2, 3, 5, 8, 12),
                  margin: float = 0.3, seed: int = 7) -> pd.DataFrame:
    """The budget frontier on the demo's held-out users, judged on the true effects."""
    from uplift.frontier import budget_frontier

    budgets = [b * len(demo.held) for b in budgets_per_user]
    return budget_frontier(demo.predicted, demo.costs, budgets, demo.value(margin), demo.capacity,
                           truth=demo.truth, seed=seed)
