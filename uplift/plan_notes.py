"""Why a plan treats nobody or leaves budget unspent: plain sentences a marketer can act on."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from uplift.allocation import AllocationProblem

UNSPENT_SHARE = 0.2  # a plan leaving more than this share of its budget unspent says why


def explain(problem: AllocationProblem, choice: np.ndarray, total_cost: float) -> tuple[str, ...]:
    """Sentences explaining an empty plan or one that leaves more than a fifth of the budget unspent."""
    treated = int((choice >= 0).sum())
    left = problem.budget - total_cost
    if treated and (problem.budget <= 0 or left <= UNSPENT_SHARE * problem.budget):
        return ()
    net = problem.net
    gain = "predicted uplift" if problem.objective == "retained" else "expected value net of cost"
    positive = net > 0
    notes: list[str] = []
    if not positive.any():
        if problem.objective == "retained":
            notes.append("no user has a positive predicted uplift for any treatment, so there is nothing worth buying")
        else:
            worth = problem.uplift * problem.value[:, None]
            t = int(np.unravel_index(np.argmax(worth - problem.costs[None, :]), worth.shape)[1])
            notes.append(
                f"no user's expected value (uplift × value per retained user) exceeds a treatment's cost: the best "
                f"is {float(worth[:, t].max()):.4g} against {problem.treatments[t]}'s cost {float(problem.costs[t]):.4g}; "
                "give a larger value per retained user, or none to maximize incremental retained users within budget"
            )
        return tuple(notes)
    idle = choice < 0
    counts = np.bincount(choice[choice >= 0], minlength=len(problem.treatments))
    wanted = (positive & idle[:, None]).sum(axis=0)
    for t, key in enumerate(problem.treatments):
        if wanted[t] == 0:
            continue
        if counts[t] >= problem.capacity[t]:
            notes.append(f"{key} is at its capacity of {int(problem.capacity[t])} users; {int(wanted[t])} more "
                         f"untreated user(s) have a positive {gain} for it")
        elif problem.costs[t] > left:
            notes.append(f"{key} costs {float(problem.costs[t]):.4g}, more than the {left:,.2f} left; "
                         f"{int(wanted[t])} untreated user(s) have a positive {gain} for it")
    if not (positive & idle[:, None]).any():
        notes.insert(0, f"every user with a positive {gain} is treated "
                        f"({int(positive.any(axis=1).sum())} of {len(net)}); the rest of the budget would buy nothing")
    if not treated and not notes:
        notes.append(f"the budget {problem.budget:,.2f} buys no treatment with a positive {gain}")
    if left > 0:
        notes.append(f"{left:,.2f} of the {problem.budget:,.2f} budget is left unspent")
    return tuple(notes)
