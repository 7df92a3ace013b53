"""The budget frontier: expected incremental retained users, value and ROI per budget, for the targeted
allocation against blanket single-treatment and random allocations (and the oracle when truth is known)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from uplift.allocation import allocate, make_problem

FRONTIER_COLUMNS = ["budget", "policy", "users_treated", "cost", "incremental_retained", "incremental_value", "roi"]


def evaluate_choice(choice: np.ndarray, uplift: np.ndarray, costs: np.ndarray, value: np.ndarray) -> dict:
    """Totals of a choice vector (treatment index per user, −1 = control) under the given uplift matrix."""
    rows = np.flatnonzero(choice >= 0)
    gained = uplift[rows, choice[rows]].astype(np.float64)
    cost = float(costs[choice[rows]].astype(np.float64).sum())
    worth = float(gained @ value[rows].astype(np.float64))
    return {"users_treated": len(rows), "cost": cost, "incremental_retained": float(gained.sum()),
            "incremental_value": worth, "roi": (worth - cost) / cost if cost > 0 else np.nan}


def blanket_reach(n: int, cost: float, budget: float, capacity: float = math.inf) -> int:
    """How many of n users one treatment reaches when sent without targeting: as many as the budget and seats allow."""
    affordable = math.inf if cost <= 0 else float(budget) / float(cost) + 1e-9  # Python floats: 1e308 / 0.5 is inf
    return int(min(n, math.floor(affordable) if affordable < n else n, capacity))


def blanket_choice(n: int, t: int, cost: float, budget: float, capacity: float, rng: np.random.Generator) -> np.ndarray:
    """Treatment t for randomly chosen users, as many as the budget and capacity allow (no targeting)."""
    k = blanket_reach(n, cost, budget, capacity)
    choice = np.full(n, -1)
    choice[rng.permutation(n)[:k]] = t
    return choice


def random_choice(n: int, costs: np.ndarray, budget: float, capacity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random treatment per user, users in random order until the budget or capacities run out."""
    order = rng.permutation(n)
    pick = rng.integers(0, len(costs), n)
    rank_in_t = pd.Series(pick).groupby(pick).cumcount().to_numpy()
    allowed = rank_in_t < capacity[pick]
    spend = np.cumsum(np.where(allowed, costs[pick].astype(np.float64), 0.0))
    take = allowed & (spend <= budget + 1e-9)
    choice = np.full(n, -1)
    choice[order[take]] = pick[take]
    return choice


def budget_frontier(
    predicted: pd.DataFrame,
    costs: Mapping[str, float],
    budgets: Sequence[float],
    value_per_retained: float | np.ndarray | pd.Series = 1.0,
    capacity: Mapping[str, int] | None = None,
    *,
    truth: pd.DataFrame | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per budget × policy; outcomes are judged on `truth` when given, else on the predictions."""
    rows = []
    for budget in budgets:
        problem = make_problem(predicted, costs, budget, value_per_retained, capacity)
        judge = problem.uplift if truth is None else truth[problem.treatments].to_numpy(float)
        n = len(judge)
        rng = np.random.default_rng(seed)
        choices = {"targeted": allocate(predicted, costs, budget, value_per_retained, capacity).choice}
        if truth is not None:
            choices["oracle"] = allocate(truth[problem.treatments], costs, budget, value_per_retained, capacity).choice
        for t, key in enumerate(problem.treatments):
            choices[f"blanket {key}"] = blanket_choice(n, t, problem.costs[t], budget, problem.capacity[t], rng)
        choices["random"] = random_choice(n, problem.costs, budget, problem.capacity, rng)
        for policy, choice in choices.items():
            rows.append({"budget": float(budget), "policy": policy,
                         **evaluate_choice(choice, judge, problem.costs, problem.value)})
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)


def plot_frontier(frontier: pd.DataFrame, path: str | Path, title: str = "Budget frontier") -> Path:
    """Save the frontier (incremental retained users and ROI against budget, one line per policy) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    palette = ["#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
    with plt.style.context("default"):  # causalml switches the global style on import
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        blanket_colors = iter(palette)
        for policy, part in frontier.groupby("policy", sort=False):
            if policy == "targeted":
                style = {"color": "#1f77b4", "lw": 2.4, "ls": "-"}
            elif policy == "oracle":
                style = {"color": "black", "lw": 1.6, "ls": ":"}
            elif policy == "random":
                style = {"color": "grey", "lw": 1.2, "ls": "-."}
            else:
                style = {"color": next(blanket_colors, "grey"), "lw": 1.2, "ls": "--"}
            left.plot(part["budget"], part["incremental_retained"], marker="o", ms=3, label=policy, **style)
            right.plot(part["budget"], part["roi"], marker="o", ms=3, label=policy, **style)
        thousands = FuncFormatter(lambda x, _: f"{x / 1000:,.0f}k")
        left.set(xlabel="budget", ylabel="expected incremental retained users", title=title)
        right.set(xlabel="budget", ylabel="ROI = (value - cost) / cost", title="Return on spend", yscale="symlog")
        for axis in (left, right):
            axis.xaxis.set_major_formatter(thousands)
            axis.grid(alpha=0.3)
        left.legend(fontsize=8)
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
        plt.close(fig)
    return out
