"""Write tests/stats/gbstats_vectors.json: gbstats 0.8.0's answers on sufficient statistics Winback tests against.

gbstats pins numpy<2 and pandas<2, so it must never enter the project's venv. Run this in a throwaway one:

    python3 -m venv /tmp/gbvenv && /tmp/gbvenv/bin/pip install gbstats==0.8.0
    /tmp/gbvenv/bin/python scripts/gbstats_vectors.py > tests/stats/gbstats_vectors.json

Inputs are sums of simulated users (fixed seed), so the cases cover continuous, binary, CUPED
(continuous and binary) and ratio metrics under the t-test, sequential and Bayesian reads, relative
and absolute.
"""
from __future__ import annotations

import json
import sys
from importlib.metadata import version

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)


def arm_inputs(rng: np.random.Generator, kind: str, n: int, lift: float) -> dict:
    """Sufficient statistics of one simulated arm, in Winback's Moments / RatioMoments field names."""
    if kind == "ratio":
        den = rng.poisson(3.0, n) + 1.0
        num = den * rng.gamma(2.0, 10.0 * (1 + lift), n)
        return {"n": n, "numerator_sum": num.sum(), "numerator_sum_squares": (num**2).sum(),
                "denominator_sum": den.sum(), "denominator_sum_squares": (den**2).sum(),
                "cross_sum": (num * den).sum()}
    if kind.startswith("binary"):
        pre = (rng.random(n) < 0.4).astype(float)
        post = (rng.random(n) < np.where(pre == 1, 0.6, 0.2) * (1 + lift)).astype(float)
        out = {"n": n, "sum": post.sum(), "sum_squares": None}
        if kind == "binary_cuped":
            out.update(pre_sum=pre.sum(), pre_sum_squares=None, pre_post_sum=(pre * post).sum())
        return out
    pre = rng.gamma(2.0, 20.0, n)
    post = 0.7 * pre + rng.normal(10.0 * (1 + lift), 15.0, n)
    out = {"n": n, "sum": post.sum(), "sum_squares": (post**2).sum()}
    if kind == "continuous_cuped":
        out.update(pre_sum=pre.sum(), pre_sum_squares=(pre**2).sum(), pre_post_sum=(pre * post).sum())
    return out


def statistic(kind: str, arm: dict):
    """The gbstats statistic object for one arm's inputs."""
    if kind == "ratio":
        m = SampleMeanStatistic(n=arm["n"], sum=arm["numerator_sum"], sum_squares=arm["numerator_sum_squares"])
        d = SampleMeanStatistic(n=arm["n"], sum=arm["denominator_sum"], sum_squares=arm["denominator_sum_squares"])
        return RatioStatistic(n=arm["n"], m_statistic=m, d_statistic=d, m_d_sum_of_products=arm["cross_sum"])
    if kind.startswith("binary"):
        post = ProportionStatistic(n=arm["n"], sum=arm["sum"])
    else:
        post = SampleMeanStatistic(n=arm["n"], sum=arm["sum"], sum_squares=arm["sum_squares"])
    if not kind.endswith("cuped"):
        return post
    if kind.startswith("binary"):
        pre = ProportionStatistic(n=arm["n"], sum=arm["pre_sum"])
    else:
        pre = SampleMeanStatistic(n=arm["n"], sum=arm["pre_sum"], sum_squares=arm["pre_sum_squares"])
    return RegressionAdjustedStatistic(n=arm["n"], post_statistic=post, pre_statistic=pre,
                                       post_pre_sum_of_products=arm["pre_post_sum"], theta=0)


def run(kind: str, control: dict, treatment: dict, method: str, relative: bool, prior: dict | None) -> dict:
    """One gbstats result as a flat dict of the fields Winback compares."""
    a, b = statistic(kind, control), statistic(kind, treatment)
    difference = "relative" if relative else "absolute"
    if method == "ttest":
        result = TwoSidedTTest(a, b, FrequentistConfig(difference_type=difference)).compute_result()
    elif method == "sequential":
        result = SequentialTwoSidedTTest(
            a, b, SequentialConfig(difference_type=difference, sequential_tuning_parameter=5000)
        ).compute_result()
    else:
        gaussian = GaussianPrior(**prior, proper=True) if prior else GaussianPrior()
        config = EffectBayesianConfig(difference_type=difference, prior_effect=gaussian,
                                      prior_type="relative" if relative else "absolute")
        result = EffectBayesianABTest(a, b, config).compute_result()
    out = {"effect": result.expected, "ci_low": result.ci[0], "ci_high": result.ci[1]}
    if method == "bayesian":
        out.update(chance_to_win=result.chance_to_win, risk_control=result.risk[0], risk=result.risk[1])
    else:
        out.update(p_value=result.p_value)
    return {k: float(v) for k, v in out.items()}


def plain(arm: dict) -> dict:
    """JSON-ready inputs: n as an int, sums as floats, None kept."""
    return {k: None if v is None else int(v) if k == "n" else float(v) for k, v in arm.items()}


def main() -> None:
    rng = np.random.default_rng(20261125)
    cases = []
    for kind in ("continuous", "binary", "continuous_cuped", "binary_cuped", "ratio"):
        for n_c, n_t, lift in ((400, 420, 0.03), (5000, 4900, 0.0), (1500, 1600, 0.08)):
            control, treatment = arm_inputs(rng, kind, n_c, 0.0), arm_inputs(rng, kind, n_t, lift)
            for method in ("ttest", "sequential", "bayesian"):
                for relative in (True, False):
                    priors = [None, {"mean": 0.02, "variance": 0.01}] if method == "bayesian" else [None]
                    for prior in priors:
                        if prior and not relative:
                            prior = {"mean": 0.5, "variance": 4.0}
                        cases.append({
                            "kind": kind, "method": method, "relative": relative, "prior": prior,
                            "cuped": kind.endswith("cuped"),
                            "control": plain(control),
                            "treatment": plain(treatment),
                            "expected": run(kind, control, treatment, method, relative, prior),
                        })
    json.dump({"generator": "scripts/gbstats_vectors.py", "gbstats": version("gbstats"), "cases": cases},
              sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
