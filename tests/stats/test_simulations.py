"""Simulated experiments (numpy, vectorised over experiments): error rates and coverage of the intervals."""
from __future__ import annotations

import numpy as np
import pytest

from stats import Moments, compare

N_EXPERIMENTS = 2000


def arm_sums(rng: np.random.Generator, n: int, mean: float, sd: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and sum of squares of n normal users, for `size` experiments at once (exact sampling distributions).

    sum ~ N(n mean, n sd^2); the centred sum of squares ~ sd^2 chi2(n - 1), independent of the sum.
    """
    total = rng.normal(n * mean, np.sqrt(n) * sd, size)
    squares = sd**2 * rng.chisquare(n - 1, size) + total**2 / n
    return total, squares


def test_aa_false_positive_rate_is_nominal() -> None:
    # 2,000 A/A experiments at alpha 0.05: the rejection rate must sit in [4%, 6%] (issue 3, Done when)
    rng = np.random.default_rng(11)
    c, t = arm_sums(rng, 500, 5.0, 2.0, N_EXPERIMENTS), arm_sums(rng, 500, 5.0, 2.0, N_EXPERIMENTS)
    p = np.array([compare(Moments(500, c[0][i], c[1][i]), Moments(500, t[0][i], t[1][i])).p_value
                  for i in range(N_EXPERIMENTS)])
    assert 0.04 <= (p < 0.05).mean() <= 0.06


def test_binary_aa_false_positive_rate_is_nominal() -> None:
    # same for a retention rate of 30% (binary metric, variance p(1-p))
    rng = np.random.default_rng(12)
    c, t = rng.binomial(1000, 0.3, N_EXPERIMENTS), rng.binomial(1000, 0.3, N_EXPERIMENTS)
    p = np.array([compare(Moments(1000, c[i]), Moments(1000, t[i])).p_value for i in range(N_EXPERIMENTS)])
    assert 0.04 <= (p < 0.05).mean() <= 0.06


def test_sequential_survives_30_daily_looks() -> None:
    # A/A, 30 daily looks, 200 users per arm per day: stopping at the first look whose confidence
    # sequence excludes 0 must keep the false-positive rate <= 5% (Waudby-Smith et al. guarantee)
    rng = np.random.default_rng(13)
    days, daily = 30, 200
    daily_c = rng.binomial(daily, 0.3, (N_EXPERIMENTS, days)).cumsum(axis=1)
    daily_t = rng.binomial(daily, 0.3, (N_EXPERIMENTS, days)).cumsum(axis=1)
    rejected = np.zeros(N_EXPERIMENTS, dtype=bool)
    naive = np.zeros(N_EXPERIMENTS, dtype=bool)
    for day in range(days):
        n = daily * (day + 1)
        for i in np.flatnonzero(~rejected):
            seq = compare(Moments(n, daily_c[i, day]), Moments(n, daily_t[i, day]), method="sequential")
            rejected[i] = seq.significant
    for i in range(0, N_EXPERIMENTS, 4):  # peeking with a fixed-horizon t-test inflates the error (contrast)
        naive[i] = any(compare(Moments(daily * (d + 1), daily_c[i, d]), Moments(daily * (d + 1), daily_t[i, d])).p_value < 0.05
                       for d in range(days))
    assert rejected.mean() <= 0.05
    assert naive[::4].mean() > 0.10


@pytest.mark.parametrize("relative", [True, False])
def test_95_percent_intervals_cover_the_true_lift(relative: bool) -> None:
    # 2,000 experiments with a true lift of 10% on mean 5: the 95% CI covers it 94-96% of the time
    rng = np.random.default_rng(14 + relative)
    c, t = arm_sums(rng, 2000, 5.0, 2.0, N_EXPERIMENTS), arm_sums(rng, 2000, 5.5, 2.5, N_EXPERIMENTS)
    truth = 0.1 if relative else 0.5
    covered = 0
    for i in range(N_EXPERIMENTS):
        r = compare(Moments(2000, c[0][i], c[1][i]), Moments(2000, t[0][i], t[1][i]), relative=relative)
        covered += r.ci_low <= truth <= r.ci_high
    assert 0.94 <= covered / N_EXPERIMENTS <= 0.96


def test_cuped_narrows_intervals_and_keeps_coverage() -> None:
    # pre/post correlation 0.8: CUPED intervals are narrower in every experiment and still cover ~95%
    rng = np.random.default_rng(15)
    n, runs = 1000, 1000
    widths, covered = [], 0
    for _ in range(runs):
        arms = []
        for lift in (0.0, 0.3):
            pre = rng.normal(10, 3, n)
            post = 0.8 * pre + rng.normal(2 + lift, 1.8, n)
            arms.append(Moments(n, post.sum(), (post**2).sum(), pre.sum(), (pre**2).sum(), (pre * post).sum()))
        plain, cuped = compare(*arms, relative=False), compare(*arms, relative=False, cuped=True)
        widths.append((cuped.ci_high - cuped.ci_low) / (plain.ci_high - plain.ci_low))
        covered += cuped.ci_low <= 0.3 <= cuped.ci_high
    assert max(widths) < 0.75
    assert 0.93 <= covered / runs <= 0.97
