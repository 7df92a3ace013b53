"""The Lagrangian prices of the allocation: the budget's (lambda) and each capacity's (mu_t), by bisection.

Spend and counts are monotone in the prices, so each price is the smallest one that keeps its constraint,
found by bisection, coordinate by coordinate, for a few rounds. `find_prices` only asks a
`usage(lam, mu) -> (spend, counts)` oracle: the in-memory allocator answers with numpy over all users
(uplift/allocation.py), Spark with one aggregate pass (uplift/spark_allocation.py), so both find the
same prices. Where a question is costly (a Spark job), `prefetch(pairs)` is told in advance which price
pairs the next steps can ask: the next `depth` levels of the bisection tree, so one pass answers
`depth` steps; the questions and so the answers are exactly those of the plain search.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from uplift.allocation import AllocationProblem

Usage = Callable[[float, np.ndarray], tuple[float, np.ndarray]]
Prefetch = Callable[[Sequence[tuple[float, np.ndarray]]], None]
LOOKAHEAD = 5  # bisection levels told to `prefetch` at once (2**5 - 1 = 31 price pairs)
CELLS_PER_PASS = 2e7  # user × treatment × price cells one pass may compute when the lookahead is chosen for it


def lookahead_for(cells: int) -> int:
    """Levels per pass for a table of `cells` user × treatment scores: deep where a pass is cheap (3 to 8)."""
    return int(min(8, max(3, np.floor(np.log2(CELLS_PER_PASS / max(cells, 1))))))


def bisection_tree(lo: float, hi: float, depth: int) -> list[float]:
    """Every midpoint the next `depth` steps of bisection on [lo, hi] can ask, computed as the steps compute them."""
    points, level = [], [(lo, hi)]
    for _ in range(depth):
        below = []
        for a, b in level:
            mid = 0.5 * (a + b)
            points.append(mid)
            below += [(a, mid), (mid, b)]
        level = below
    return points


def _bisect(feasible: Callable[[float], bool], guess: float, hi: float, rel: float = 1e-9,
            ask: Callable[[list[float]], None] | None = None, depth: int = LOOKAHEAD) -> float:
    """Smallest multiplier >= 0 for which feasible(multiplier) holds (feasibility is monotone), searched near guess.

    `ask(points)` (optional) hears which multipliers may be asked next, before they are.
    """
    if ask is not None:
        start = [guess * 0.95, guess * 1.05, guess * 1.05 * 2.0, guess * 0.95 * 0.5] if guess > 0 else []
        ask([0.0, *start, *bisection_tree(*((guess * 0.95, guess * 1.05) if guess > 0 else (0.0, hi)), depth)])
    if feasible(0.0):
        return 0.0
    lo = 0.0
    if guess > 0:
        lo, hi = guess * 0.95, guess * 1.05
        while not feasible(hi):
            lo, hi = hi, hi * 2.0
        while lo > 1e-12 and feasible(lo):
            hi, lo = lo, lo * 0.5
        lo = lo if lo > 1e-12 else 0.0
    step = 0
    while hi - lo > rel * max(hi, 1e-12):
        if ask is not None and step % depth == 0:
            ask(bisection_tree(lo, hi, depth))
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            hi = mid
        else:
            lo = mid
        step += 1
    return hi


def find_prices(problem: AllocationProblem, usage: Usage, lam: float, mu: np.ndarray, top_ratio: float, top_net: float,
                max_rounds: int, rel: float, prefetch: Prefetch | None = None, lookahead: int = LOOKAHEAD
                ) -> tuple[float, np.ndarray]:
    """Coordinate bisection over any `usage(lam, mu) -> (spend, counts)`: the budget price, then each capacity
    price, until all constraints hold and prices settle (or `max_rounds`). `prefetch`: see the module doc."""
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    lam_hi = max(top_ratio, 0.0) * 2 + 1.0
    mu_hi = float(max(top_net, 0.0)) * 2 + 1.0
    mu = mu.copy()

    def with_mu(t: int, x: float) -> np.ndarray:
        trial = mu.copy()
        trial[t] = x
        return trial

    for _ in range(max_rounds):
        previous = (lam, mu.copy())
        ask_lam = None if prefetch is None else (lambda xs: prefetch([(x, mu) for x in xs]))
        lam = _bisect(lambda x: usage(x, mu)[0] <= problem.budget, lam, lam_hi, rel, ask_lam, lookahead)
        for t in capped.tolist():
            def holds(x: float, t: int = t, lam: float = lam) -> bool:
                return usage(lam, with_mu(t, x))[1][t] <= problem.capacity[t]

            def ask_mu(xs: list[float], t: int = t, lam: float = lam) -> None:
                prefetch([(lam, with_mu(t, x)) for x in xs])  # type: ignore[misc]

            mu[t] = _bisect(holds, mu[t], mu_hi, rel, None if prefetch is None else ask_mu, lookahead)
        spend, counts = usage(lam, mu)
        steady = abs(lam - previous[0]) <= 1e-4 * max(lam, 1e-6) and np.allclose(mu, previous[1], rtol=1e-4, atol=1e-6)
        if spend <= problem.budget and (counts <= problem.capacity).all() and steady:
            break
    return lam, mu
