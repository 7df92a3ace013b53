"""Budget allocation: at most one treatment per user, maximizing expected incremental value net of cost.

Two objectives. With a value per retained user, a user i given treatment t gains
`uplift[i, t] * value[i] - cost[t]` in expectation (objective "value"). With none, the plan maximizes
expected incremental retained users, `uplift[i, t]`, within the budget (objective "retained"): costs
only enter through the budget, and only positive uplift is ever bought. The exact problem
is a knapsack with a budget row, optional capacity rows and one-of-T per user. Its Lagrangian
relaxation prices the budget (lambda) and each capacity (mu_t): each user independently takes the
treatment with the best priced score, or nothing if none is positive, so one pass over users is a
few numpy operations. The multipliers are found by bisection (spend and counts are monotone in
them), the result is made feasible and then filled greedily with what budget is left. The LP
relaxation (HiGHS via scipy.optimize.linprog) is an upper bound for checking on smaller instances.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from uplift.errors import UpliftError
from uplift.plan_notes import explain
from uplift.prices import find_prices

CONTROL = "control"
Objective = Literal["retained", "value"]


@dataclass(frozen=True)
class AllocationProblem:
    """Validated inputs: uplift (n × T), unit costs (T), value per retained user (n), budget, capacities (T, inf = none)."""

    treatments: list[str]
    uplift: np.ndarray
    costs: np.ndarray
    value: np.ndarray
    budget: float
    capacity: np.ndarray
    objective: Objective = "value"

    @property
    def net(self) -> np.ndarray:
        """What each (user, treatment) adds to the objective: uplift × value − cost, or the uplift itself."""
        if self.objective == "retained":
            return self.uplift.copy()
        return self.uplift * self.value[:, None] - self.costs[None, :]


@dataclass(frozen=True)
class Allocation:
    """Who gets what: the chosen treatment index per user (−1 = control) and the totals it implies."""

    treatments: list[str]
    choice: np.ndarray = field(repr=False)
    expected_uplift: np.ndarray = field(repr=False)
    cost: np.ndarray = field(repr=False)
    budget: float
    total_cost: float
    expected_retained: float  # sum of the chosen treatments' uplift: expected incremental retained users
    expected_value: float  # sum of uplift × value per retained user
    net_value: float  # expected_value − total_cost, the objective
    budget_multiplier: float
    capacity_multipliers: dict[str, float]
    counts: dict[str, int]
    objective: Objective = "value"
    notes: tuple[str, ...] = ()  # why nobody is treated or budget is left, when that happens

    @property
    def roi(self) -> float:
        """(expected value − cost) / cost; nan when nothing is spent or no value per retained user was given."""
        return self.net_value / self.total_cost if self.total_cost > 0 else math.nan

    def labels(self) -> np.ndarray:
        """Treatment key per user, 'control' for users left untreated."""
        names = np.array([*self.treatments, CONTROL], dtype=object)
        return names[np.where(self.choice >= 0, self.choice, len(self.treatments))]

    def to_frame(self, user_ids: pd.Series | np.ndarray) -> pd.DataFrame:
        """user_id, treatment, expected_uplift, cost: one row per user."""
        return pd.DataFrame({"user_id": np.asarray(user_ids), "treatment": self.labels(),
                             "expected_uplift": self.expected_uplift, "cost": self.cost})

    def to_dict(self) -> dict:
        keys = ("treatments", "objective", "budget", "total_cost", "expected_retained", "expected_value", "net_value",
                "budget_multiplier", "capacity_multipliers", "counts", "notes")
        return {**{k: getattr(self, k) for k in keys}, "roi": self.roi}


def make_problem(
    uplift: pd.DataFrame,
    costs: Mapping[str, float],
    budget: float,
    value_per_retained: float | np.ndarray | pd.Series | None = 1.0,
    capacity: Mapping[str, int] | None = None,
) -> AllocationProblem:
    """Check and align the inputs; every error names the treatment, column or value to fix.

    No value per retained user (None) means the "retained" objective. `control` may appear in the costs
    at 0 (and as an all-zero score column): it is the untreated choice, not a treatment.
    """
    if not isinstance(uplift, pd.DataFrame) or uplift.shape[1] == 0:
        raise UpliftError("uplift scores must be a table with one column per treatment")
    costs = dict(costs)
    control_cost = float(costs.pop(CONTROL, 0.0))
    if control_cost != 0:
        raise UpliftError(f"'{CONTROL}' is the untreated choice; its cost must be 0, got {control_cost:g}")
    if CONTROL in uplift.columns:
        uplift = uplift.drop(columns=CONTROL)
        if uplift.shape[1] == 0:
            raise UpliftError("uplift scores hold only the control column; need at least one treatment")
    treatments = [str(c) for c in uplift.columns]
    unknown = [t for t in costs if t not in treatments]
    if unknown:
        raise UpliftError(
            f"cost given for treatment(s) {', '.join(unknown)} but the scores lack column(s) {', '.join(unknown)}; "
            f"score columns are {', '.join(treatments)}"
        )
    uncosted = [t for t in treatments if t not in costs]
    if uncosted:
        raise UpliftError(f"no unit cost for treatment(s) {', '.join(uncosted)}; add them to the costs")
    cost = np.array([float(costs[t]) for t in treatments])
    bad = [f"{t}={c}" for t, c in zip(treatments, cost) if not (c >= 0 and math.isfinite(c))]
    if bad:
        raise UpliftError(f"unit costs must be finite and non-negative: {', '.join(bad)}")
    if not (math.isfinite(budget) and budget >= 0):
        raise UpliftError(f"budget must be a non-negative number, got {budget}")
    caps = np.full(len(treatments), np.inf)
    for key, limit in (capacity or {}).items():
        if key not in treatments:
            raise UpliftError(f"capacity given for unknown treatment '{key}'; treatments are {', '.join(treatments)}")
        if not (limit >= 0):
            raise UpliftError(f"capacity of '{key}' must be non-negative, got {limit}")
        caps[treatments.index(key)] = float(limit)
    matrix = uplift.to_numpy()
    matrix = matrix.astype(np.float32 if matrix.dtype == np.float32 else np.float64, copy=False)
    if not np.isfinite(matrix).all():
        column = treatments[int(np.flatnonzero(~np.isfinite(matrix).all(axis=0))[0])]
        raise UpliftError(f"uplift column '{column}' has missing or infinite values")
    objective: Objective = "retained" if value_per_retained is None else "value"
    raw_value = 1.0 if value_per_retained is None else value_per_retained
    value = np.broadcast_to(np.asarray(raw_value, dtype=matrix.dtype), (len(matrix),)).copy()
    if not np.isfinite(value).all() or (value < 0).any():
        raise UpliftError("value per retained user must be finite and non-negative for every user")
    return AllocationProblem(treatments, matrix, cost.astype(matrix.dtype), value, float(budget), caps, objective)


def _choose(net: np.ndarray, costs: np.ndarray, lam: float, mu: np.ndarray) -> np.ndarray:
    """Each user's best priced treatment (−1 when no priced score is positive)."""
    priced = net - (lam * costs + mu).astype(net.dtype)[None, :]
    best = priced.argmax(axis=1)
    best_score = np.take_along_axis(priced, best[:, None], axis=1)[:, 0]
    return np.where(best_score > 0, best, -1)


def _usage(choice: np.ndarray, costs: np.ndarray) -> tuple[float, np.ndarray]:
    counts = np.bincount(choice[choice >= 0], minlength=len(costs))
    return float(counts @ costs.astype(np.float64)), counts


def _repair(problem: AllocationProblem, net: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Drop the treated users with the least net value per cost until budget and capacities hold (ties: row order)."""
    choice = choice.copy()
    rows = np.flatnonzero(choice >= 0)
    for t in np.flatnonzero(np.isfinite(problem.capacity)):
        mine = rows[choice[rows] == t]
        excess = len(mine) - int(problem.capacity[t])
        if excess > 0:
            choice[mine[np.argsort(net[mine, t], kind="stable")[:excess]]] = -1
    rows = np.flatnonzero(choice >= 0)
    cost = problem.costs[choice[rows]].astype(np.float64)
    if cost.sum() > problem.budget:
        order = np.argsort(-(net[rows, choice[rows]] / np.maximum(cost, 1e-12)), kind="stable")
        keep = np.cumsum(cost[order]) <= problem.budget
        choice[rows[order[~keep]]] = -1
    return choice


def _fill(problem: AllocationProblem, net: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Spend what budget and capacity are left on untreated users, best net value per cost first."""
    spend, counts = _usage(choice, problem.costs)
    left = problem.budget - spend
    room = problem.capacity - counts
    open_t = (room > 0) & (problem.costs.astype(np.float64) <= left)
    if left <= 0 or not open_t.any():
        return choice
    idle = np.flatnonzero(choice < 0)
    best, gain = best_open(net[idle], open_t)
    positive = gain > 0
    idle, best, gain = idle[positive], best[positive], gain[positive]
    take = greedy_take(best, gain, problem.costs[best].astype(np.float64), room, left)
    choice = choice.copy()
    choice[idle[take]] = best[take]
    return choice


def best_open(net: np.ndarray, open_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's best treatment among the open ones and its gain (−inf when none is open)."""
    candidate = np.where(open_t[None, :], net, -np.inf)
    best = candidate.argmax(axis=1)
    return best, candidate[np.arange(len(net)), best]


def greedy_take(best: np.ndarray, gain: np.ndarray, cost: np.ndarray, room: np.ndarray, left: float) -> np.ndarray:
    """Which candidates the fill takes: best gain per cost first, at most `room[t]` per treatment, while the
    running cost stays within `left` (it stops at the first one that does not fit). Ties keep the given order."""
    order = np.argsort(-(gain / np.maximum(cost, 1e-12)), kind="stable")
    ordered_best = best[order]
    rank_in_t = pd.Series(ordered_best).groupby(ordered_best).cumcount().to_numpy()
    within_cap = rank_in_t < room[ordered_best]
    spent = np.cumsum(np.where(within_cap, cost[order], 0.0))
    take = np.zeros(len(best), dtype=bool)
    take[order[within_cap & (spent <= left)]] = True
    return take


def allocate(
    uplift: pd.DataFrame,
    costs: Mapping[str, float],
    budget: float,
    value_per_retained: float | np.ndarray | pd.Series | None = None,
    capacity: Mapping[str, int] | None = None,
    *,
    max_rounds: int = 5,
    warm_start_size: int = 200_000,
) -> Allocation:
    """Lagrangian allocation of treatments under a budget and capacities (vectorized over users).

    Without a value per retained user it maximizes expected incremental retained users within budget.
    """
    problem = make_problem(uplift, costs, budget, value_per_retained, capacity)
    uplift = uplift.drop(columns=CONTROL) if CONTROL in uplift.columns else uplift
    net = problem.net
    n = len(net)
    lam, mu = 0.0, np.zeros(len(problem.treatments))
    if n > warm_start_size:
        # Multipliers from a random subsample (budget and capacities scaled alike) are a close first guess.
        rows = np.sort(np.random.default_rng(0).choice(n, warm_start_size, replace=False))
        share = warm_start_size / n
        sub_caps = {t: c * share for t, c in zip(problem.treatments, problem.capacity) if np.isfinite(c)}
        sub_value = None if problem.objective == "retained" else problem.value[rows]
        sub = allocate(uplift.iloc[rows], costs, problem.budget * share, sub_value, sub_caps,
                       max_rounds=max_rounds, warm_start_size=warm_start_size)
        lam = sub.budget_multiplier
        mu = np.array([sub.capacity_multipliers.get(t, 0.0) for t in problem.treatments])
    warm = n > warm_start_size
    lam, mu = _multipliers(problem, net, lam, mu, min(max_rounds, 2) if warm else max_rounds, rel=1e-5 if warm else 1e-7)
    choice = _fill(problem, net, _repair(problem, net, _choose(net, problem.costs, lam, mu)))
    return _summarize(problem, choice, lam, mu)


def _multipliers(
    problem: AllocationProblem, net: np.ndarray, lam: float, mu: np.ndarray, max_rounds: int, rel: float
) -> tuple[float, np.ndarray]:
    """Coordinate bisection: the budget price, then each capacity price, until all constraints hold and prices settle."""
    costs_arr = problem.costs
    positive_cost = costs_arr > 0
    top_ratio = float(np.max(net[:, positive_cost] / costs_arr[positive_cost], initial=0.0)) if positive_cost.any() else 0.0
    top_net = float(net.max(initial=0.0))
    return find_prices(problem, lambda x, m: _usage(_choose(net, costs_arr, x, m), costs_arr), lam, mu,
                       top_ratio, top_net, max_rounds, rel)


def _summarize(problem: AllocationProblem, choice: np.ndarray, lam: float, mu: np.ndarray) -> Allocation:
    """Totals of a choice vector."""
    treated = choice >= 0
    rows = np.flatnonzero(treated)
    expected = np.zeros(len(choice))
    expected[rows] = problem.uplift[rows, choice[rows]]
    cost = np.zeros(len(choice))
    cost[rows] = problem.costs[choice[rows]]
    counts = np.bincount(choice[treated], minlength=len(problem.treatments))
    value = float(expected @ problem.value.astype(np.float64))
    total_cost = float(cost.sum())
    retained_mode = problem.objective == "retained"
    return Allocation(
        treatments=problem.treatments, choice=choice, expected_uplift=expected, cost=cost,
        budget=problem.budget, total_cost=total_cost, expected_retained=float(expected.sum()),
        expected_value=math.nan if retained_mode else value,
        net_value=math.nan if retained_mode else value - total_cost, budget_multiplier=float(lam),
        capacity_multipliers={problem.treatments[t]: float(mu[t]) for t in np.flatnonzero(np.isfinite(problem.capacity))},
        counts={t: int(c) for t, c in zip(problem.treatments, counts)},
        objective=problem.objective, notes=explain(problem, choice, total_cost),
    )


@dataclass(frozen=True)
class LPBound:
    """The LP relaxation's optimum: an upper bound on any allocation's net value."""

    net_value: float
    status: str
    n_variables: int

    def to_dict(self) -> dict:
        return {"net_value": self.net_value, "status": self.status, "n_variables": self.n_variables}


def lp_bound(
    uplift: pd.DataFrame,
    costs: Mapping[str, float],
    budget: float,
    value_per_retained: float | np.ndarray | pd.Series | None = None,
    capacity: Mapping[str, int] | None = None,
) -> LPBound:
    """Solve the LP relaxation with HiGHS (sparse; only pairs with positive net value become variables)."""
    problem = make_problem(uplift, costs, budget, value_per_retained, capacity)
    net = problem.net.astype(np.float64)
    users, treats = np.nonzero(net > 0)
    m = len(users)
    if m == 0:
        return LPBound(0.0, "no user has a positive net value", 0)
    gains = net[users, treats]
    costs_arr = problem.costs.astype(np.float64)
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    _, user_row = np.unique(users, return_inverse=True)
    n_users = int(user_row.max()) + 1
    cap_row = {t: n_users + 1 + i for i, t in enumerate(capped)}
    rows = [user_row, np.full(m, n_users)]
    cols = [np.arange(m), np.arange(m)]
    vals = [np.ones(m), costs_arr[treats]]
    for t, r in cap_row.items():
        mine = np.flatnonzero(treats == t)
        rows.append(np.full(len(mine), r))
        cols.append(mine)
        vals.append(np.ones(len(mine)))
    a_ub = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n_users + 1 + len(capped), m))
    b_ub = np.concatenate([np.ones(n_users), [problem.budget], problem.capacity[capped]])
    result = linprog(-gains, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
    if result.status != 0:
        raise UpliftError(f"the LP solver could not solve the relaxation: {result.message}")
    return LPBound(float(-result.fun), str(result.message), m)
