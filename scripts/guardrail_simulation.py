"""How often a guardrail fails, by simulation: the relative read, the absolute read and the stricter of the two.

    .venv/bin/python scripts/guardrail_simulation.py     # the figures in docs/statistics.md (a few seconds)

Unsubscribes at a 1 % base rate (lower is better), 2,000 users an arm, 4,000 simulated experiments each:
an A/A test (a 95 % interval wholly on the bad side: about 2.5 % expected) and a tripling to 3 %.
"""
from __future__ import annotations

import numpy as np

from stats import Moments, compare, guardrail_verdict, stricter_verdict


def fail_rates(p_control: float, p_treatment: float, n: int, reps: int, seed: int) -> dict[str, float]:
    """Share of experiments whose guardrail fails on the relative read, the absolute read and the stricter one."""
    rng = np.random.default_rng(seed)
    fails = {"relative": 0, "absolute": 0, "stricter": 0}
    for _ in range(reps):
        a, b = Moments(n, float(rng.binomial(n, p_control))), Moments(n, float(rng.binomial(n, p_treatment)))
        relative, absolute = compare(a, b), compare(a, b, relative=False)
        fails["relative"] += guardrail_verdict(relative, higher_is_better=False) == "fail"
        fails["absolute"] += guardrail_verdict(absolute, higher_is_better=False) == "fail"
        fails["stricter"] += stricter_verdict(relative, absolute, higher_is_better=False)[0] == "fail"
    return {k: v / reps for k, v in fails.items()}


def main() -> None:
    for label, p_treatment in (("A/A", 0.01), ("tripling", 0.03)):
        rates = fail_rates(0.01, p_treatment, n=2000, reps=4000, seed=0)
        print(f"{label:<9} " + "  ".join(f"{k} {v:.2%}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
