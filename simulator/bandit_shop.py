"""A bandit experiment run week by week on the weekly shop, with each arm's true effect and cost known.

Each cycle (one a week) the programme enrols the riskiest newly flagged users (the oracle's flags, outside the
programme holdout, at most `users_per_cycle`), hashes them into arms with the weights in force (GrowthBook's hash,
`experiments.assignment.assign`: the product's function), gives each its arm's hazard multiplier
(`WeeklyShop.set_treatment`) and moves the shop one week. A user's outcome is *retained*: still a customer
`outcome_weeks` weeks after enrolment, known to the bandit only once those weeks have passed (delayed feedback).
Before each cycle the policy sets the weights: the bandit by `stats.bandit.thompson_weights` on the outcomes known
so far (the product's function, on the same per-period × arm sufficient statistics), the fixed policy keeps the
equal split; both keep the same control share.

Truth: for every enrolled user the simulator knows the chance to churn within the outcome window under each arm
(`WeeklyShop.churn_probability`), so each arm's true uplift in retention against control, per period and over
the run (periods weighted by their share of users, the estimand of `stats.bandit.combined_effects`), and its true
net value per user V · uplift − cost. Regret: Σ over treated users of (best treatment's true net value in their
period − their arm's); the control's share is the same under both policies and is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from experiments.assignment import assign
from simulator.weekly import WeeklyShop, WeeklyShopConfig
from stats import Moments
from stats.bandit import burn_in_weights, combined_effects, net_values, thompson_weights, winner

Policy = Literal["bandit", "fixed"]


@dataclass(frozen=True)
class BanditArm:
    """An arm of the simulated experiment: its hazard reduction while treated and its cost per user."""

    key: str
    churn_effect: float
    unit_cost: float


@dataclass(frozen=True)
class BanditScenario:
    """The shop, the arms (the first is the control) and the bandit's settings."""

    arms: tuple[BanditArm, ...] = (
        BanditArm("control", 0.0, 0.0),
        BanditArm("coupon", 0.40, 6.0),
        BanditArm("email", 0.25, 0.5),
        BanditArm("call", 0.45, 20.0),
    )
    value_per_retained: float = 200.0
    control_share: float = 0.2
    floor: float = 0.05
    burn_in: int = 1
    cycles: int = 12
    outcome_weeks: int = 2
    users_per_cycle: int = 1500
    n_users: int = 30_000
    treat_share: float = 0.15
    draws: int = 20_000
    shop: dict[str, Any] = field(default_factory=dict)  # other WeeklyShopConfig fields

    def null(self) -> BanditScenario:
        """The A/A scenario: every arm does nothing and costs nothing."""
        return replace(self, arms=tuple(BanditArm(a.key, 0.0, 0.0) for a in self.arms))


@dataclass(frozen=True)
class BanditRun:
    """One run: weights per period, per period × arm counts, the truth, the estimates and the regret."""

    policy: Policy
    seed: int
    weights: list[list[float]]
    counts: list[list[int]]
    true_uplift: list[float]  # per arm, periods weighted by their share of users (control 0)
    true_net: list[float]
    estimate: list[dict[str, Any]]  # per treatment: effect, ci_low, ci_high, covered, net, p_holm, p_best
    winner: str | None
    regret: float
    regret_per_treated_user: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def run_bandit(scenario: BanditScenario, seed: int, policy: Policy = "bandit") -> BanditRun:
    """Run the experiment for `scenario.cycles` weekly cycles on the shop of `seed` with the given policy."""
    sc = scenario
    arms = len(sc.arms)
    window = sc.outcome_weeks
    shop = WeeklyShop(WeeklyShopConfig(n_users=sc.n_users, weeks=sc.cycles + window, seed=seed,
                                       treat_share=sc.treat_share, effect_weeks=max(4, window),
                                       holdout_seed=f"bandit-holdout-{seed}", **sc.shop))
    n = sc.n_users
    period = np.full(n, -1)
    arm_of = np.full(n, -1)
    churn_week = np.full(n, 10**6)
    mult = np.array([1 - a.churn_effect for a in sc.arms])
    costs = np.array([a.unit_cost for a in sc.arms])
    weights: list[list[float]] = []
    key = f"bandit-sim-{seed}"
    for w in range(sc.cycles):
        weights.append(list(_weights(sc, policy, w, period, arm_of, churn_week, seed)))
        flagged = shop.oracle_flags() & shop.alive & ~shop.holdout & (period < 0)
        risk = np.where(flagged, shop.hazard[:, w], -1.0)
        chosen = np.flatnonzero(flagged)
        chosen = chosen[np.argsort(-risk[chosen], kind="stable")][: sc.users_per_cycle]
        index = assign(shop.user_ids[chosen], seed=key, weights=weights[-1], hash_version=2)
        period[chosen], arm_of[chosen] = w, index
        mask = np.zeros(n, dtype=bool)
        mask[chosen] = True
        shop.set_treatment(mask, mult[np.maximum(arm_of, 0)])
        gone = shop.step(mask, events=False).churned
        churn_week[np.isin(shop.user_ids, gone)] = w
    for w in range(sc.cycles, sc.cycles + window - 1):  # the last cycles' outcome windows
        gone = shop.step(np.zeros(n, dtype=bool), events=False).churned
        churn_week[np.isin(shop.user_ids, gone)] = w
    cells = _cells(sc.cycles, arms, period, arm_of, churn_week, window, known_by=None)
    counts = [[c.n for c in row] for row in cells]
    uplift = np.zeros((sc.cycles, arms))  # true uplift per period × arm over the period's enrolled users
    for p in range(sc.cycles):
        users = period == p
        base = shop.churn_probability(p, window, 1.0)[users]
        for k in range(arms):
            uplift[p, k] = float((base - shop.churn_probability(p, window, mult[k])[users]).mean()) if users.any() else 0.0
    net = sc.value_per_retained * uplift - (costs - costs[0])
    net[:, 0] = -np.inf
    best = net.max(axis=1)
    treated = np.array(counts, dtype=float)[:, 1:]
    regret = float((treated * (best[:, None] - net[:, 1:])).sum())
    shares = np.array([sum(row) for row in counts], dtype=float)
    shares /= shares.sum()
    true_uplift = (shares[:, None] * uplift).sum(axis=0)
    true_net = sc.value_per_retained * true_uplift - (costs - costs[0])
    effects = combined_effects(cells, 0)
    pooled_row = [sum((row[k] for row in cells[1:]), cells[0][k]) for k in range(arms)]
    pooled = combined_effects([pooled_row], 0)  # the naive read: every period pooled as one
    nets = net_values(cells, value_per_retained=sc.value_per_retained, unit_costs=costs, control=0, seed=seed)
    estimate = [{"arm": sc.arms[e.arm].key, "true_uplift": float(true_uplift[e.arm]), "effect": e.effect,
                 "ci_low": e.ci_low, "ci_high": e.ci_high,
                 "covered": bool(e.ci_low <= true_uplift[e.arm] <= e.ci_high), "true_net": float(true_net[e.arm]),
                 "net": nv.net, "net_ci_low": nv.ci_low, "net_ci_high": nv.ci_high, "p_holm": nv.p_holm,
                 "p_best": nv.p_best, "pooled_effect": pe.effect,
                 "pooled_covered": bool(pe.ci_low <= true_uplift[e.arm] <= pe.ci_high)}
                for e, nv, pe in zip(effects, nets, pooled, strict=True)]
    won = winner(nets)
    return BanditRun(policy, seed, weights, counts, [float(x) for x in true_uplift], [float(x) for x in true_net],
                     estimate, None if won is None else sc.arms[won].key, regret, regret / max(treated.sum(), 1.0))


def _weights(sc: BanditScenario, policy: Policy, w: int, period: np.ndarray, arm_of: np.ndarray,
             churn_week: np.ndarray, seed: int) -> tuple[float, ...]:
    """The weights of cycle w: equal during the burn-in, under the fixed policy and before any outcome is known."""
    arms = len(sc.arms)
    equal = burn_in_weights(arms, 0, sc.control_share)
    if policy == "fixed" or w < sc.burn_in:
        return equal
    cells = _cells(w, arms, period, arm_of, churn_week, sc.outcome_weeks, known_by=w)
    if not any(c.n for row in cells for c in row):
        return equal
    update = thompson_weights(cells, control=0, unit_costs=[a.unit_cost for a in sc.arms],
                              value_per_retained=sc.value_per_retained, control_share=sc.control_share,
                              floor=sc.floor, draws=sc.draws, seed=seed * 1000 + w)
    return update.weights


def _cells(periods: int, arms: int, period: np.ndarray, arm_of: np.ndarray, churn_week: np.ndarray, window: int,
           known_by: int | None) -> list[list[Moments]]:
    """Retained (0/1) moments per period × arm; with `known_by`, only users whose window ended before that cycle."""
    rows = []
    for p in range(periods):
        known = known_by is None or p + window <= known_by
        row = []
        for k in range(arms):
            users = (period == p) & (arm_of == k) if known else np.zeros(period.size, dtype=bool)
            retained = churn_week[users] >= p + window
            row.append(Moments(int(users.sum()), float(retained.sum())))
        rows.append(row)
    return rows
