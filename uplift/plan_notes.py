"""Why a plan treats nobody or leaves budget unspent: plain sentences a marketer can act on.

The sentences are written from a few counts (`NoteFacts`), so a plan made in memory (`facts_of` over the
user × treatment array) and one made in Spark (the same counts summed over batches,
uplift/spark_margin.py) say the same thing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from uplift.allocation import AllocationProblem

UNSPENT_SHARE = 0.2  # a plan leaving more than this share of its budget unspent says why


@dataclass(frozen=True)
class NoteFacts:
    """What the notes are written from: users, counts per treatment, and the best value when nothing pays."""

    users: int
    counts: np.ndarray  # treated users per treatment
    wanted: np.ndarray  # untreated users with a positive gain per treatment
    positive_users: int  # users with a positive gain for some treatment
    top_gap: np.ndarray  # per treatment: the largest uplift × value − cost (value objective)
    top_worth: np.ndarray  # per treatment: the largest uplift × value


def facts_of(problem: AllocationProblem, choice: np.ndarray, net: np.ndarray | None = None) -> NoteFacts:
    """The facts of a choice vector over the problem's users (`net` may be passed when already computed)."""
    net = problem.net if net is None else net
    positive = net > 0
    idle = choice < 0
    counts = np.bincount(choice[choice >= 0], minlength=len(problem.treatments))
    worth = problem.uplift.astype(np.float64) * problem.value.astype(np.float64)[:, None]
    return NoteFacts(users=len(net), counts=counts, wanted=(positive & idle[:, None]).sum(axis=0),
                     positive_users=int(positive.any(axis=1).sum()),
                     top_gap=(worth - problem.costs.astype(np.float64)[None, :]).max(axis=0, initial=-np.inf),
                     top_worth=worth.max(axis=0, initial=-np.inf))


def explain(problem: AllocationProblem, choice: np.ndarray, total_cost: float) -> tuple[str, ...]:
    """Sentences explaining an empty plan or one that leaves more than a fifth of the budget unspent."""
    treated = int((choice >= 0).sum())
    if treated and (problem.budget <= 0 or problem.budget - total_cost <= UNSPENT_SHARE * problem.budget):
        return ()
    return explain_facts(problem, facts_of(problem, choice), total_cost)


def explain_facts(problem: AllocationProblem, facts: NoteFacts, total_cost: float) -> tuple[str, ...]:
    """`explain` from the facts alone (problem gives treatments, costs, capacities, budget and objective)."""
    treated = int(facts.counts.sum())
    left = problem.budget - total_cost
    if treated and (problem.budget <= 0 or left <= UNSPENT_SHARE * problem.budget):
        return ()
    gain = "predicted uplift" if problem.objective == "retained" else "expected value net of cost"
    notes: list[str] = []
    if facts.positive_users == 0:
        if problem.objective == "retained":
            notes.append("no user has a positive predicted uplift for any treatment, so there is nothing worth buying")
        else:
            t = int(np.argmax(facts.top_gap))
            notes.append(
                f"no user's expected value (uplift × value per retained user) exceeds a treatment's cost: the best "
                f"is {float(facts.top_worth[t]):.4g} against {problem.treatments[t]}'s cost {float(problem.costs[t]):.4g}; "
                "give a larger value per retained user, or none to maximize incremental retained users within budget"
            )
        return tuple(notes)
    for t, key in enumerate(problem.treatments):
        if facts.wanted[t] == 0:
            continue
        if facts.counts[t] >= problem.capacity[t]:
            notes.append(f"{key} is at its capacity of {int(problem.capacity[t]):,} users; {int(facts.wanted[t]):,} more "
                         f"untreated user(s) have a positive {gain} for it")
        elif problem.costs[t] > left:
            notes.append(f"{key} costs {float(problem.costs[t]):,.2f}, more than the {left:,.2f} left; "
                         f"{int(facts.wanted[t]):,} untreated user(s) have a positive {gain} for it")
    if not facts.wanted.any():
        notes.insert(0, f"every user with a positive {gain} is treated "
                        f"({facts.positive_users:,} of {facts.users:,}); the rest of the budget would buy nothing")
    if not treated and not notes:
        notes.append(f"the budget {problem.budget:,.2f} buys no treatment with a positive {gain}")
    if left > 0:
        notes.append(f"{left:,.2f} of the {problem.budget:,.2f} budget is left unspent")
    return tuple(notes)


def blanket_note(blankets: Sequence[Mapping], gains: Sequence[Mapping]) -> str | None:
    """What to say when a plan is not shown to beat the best treatment sent to random users (None when it is).

    `blankets` and `gains` are PolicyEstimate dicts (policy 'blanket KEY', value_per_user, ci_low, ci_high), as the
    fit computes them and the model store records them, in the same order."""
    if not blankets:
        return None
    best = max(range(len(blankets)), key=lambda i: blankets[i]["value_per_user"])
    gain, name = gains[best], str(blankets[best]["policy"]).removeprefix("blanket ")
    shown = f"{gain['value_per_user']:+.4f} [95% {gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}] per user"
    if gain["ci_high"] < 0:
        return (f"sending {name} to random users with the same budget does better than the chosen plan on this "
                f"experiment (the plan's gain over it: {shown}); targeting does not pay here, send {name} as a "
                f"blanket or collect a larger experiment")
    if gain["ci_low"] <= 0:
        return (f"the chosen plan is not shown to beat sending {name} to random users with the same budget "
                f"(its gain: {shown}); check it on held-out users with `winback uplift prove` before relying on it")
    return None


SPEC_TOLERANCE = 0.1  # budget per user, costs and seats may differ by this share before `allocate` says so


def chosen_on_note(chosen_on: Mapping, asked: Mapping) -> str | None:
    """A sentence when the plan asked for differs in budget, costs, seats or objective from the one the model was
    chosen on (both as `PlanSpec.per_user`), naming what differs; None when they agree or the model recorded none."""
    if not chosen_on:
        return None

    def differs(a: float, b: float) -> bool:
        return abs(a - b) > SPEC_TOLERANCE * max(abs(a), abs(b), 1e-12)

    changes = []
    was, now = float(chosen_on["budget_per_user"]), float(asked["budget_per_user"])
    if differs(was, now):
        changes.append(f"budget {now:,.2f} per user (chosen on {was:,.2f})")
    old_costs, new_costs = chosen_on.get("costs", {}), asked.get("costs", {})
    costs = [f"{k} {float(new_costs[k]):,.2f} (chosen on {float(old_costs[k]):,.2f})"
             for k in sorted(set(old_costs) & set(new_costs)) if differs(float(old_costs[k]), float(new_costs[k]))]
    if costs:
        changes.append("unit cost " + ", ".join(costs))
    old_caps, new_caps = chosen_on.get("capacity_share", {}), asked.get("capacity_share", {})
    seats = [k for k in sorted(set(old_caps) | set(new_caps))
             if differs(float(old_caps.get(k, 1.0)), float(new_caps.get(k, 1.0)))]
    if seats:
        changes.append(f"seats for {', '.join(seats)}")
    if (chosen_on.get("value") == "none") != (asked.get("value") == "none"):
        changes.append("objective " + ("incremental retained users" if asked.get("value") == "none" else "value")
                       + " (chosen on " + ("incremental retained users" if chosen_on.get("value") == "none"
                                           else "value") + ")")
    if not changes:
        return None
    return (f"this plan differs from the one the model was chosen and its forecast calibrated on: {'; '.join(changes)}. "
            f"The learner that is best, and the forecast, may differ at these settings: refit with `uplift fit` "
            f"given this budget, these costs and --population")
