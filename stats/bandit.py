"""Cost-aware Thompson sampling across weight periods, and the stratified analysis that stays valid as weights move.

A bandit experiment runs in *weight periods*: the arms' weights are fixed within a period and change between
periods (one per programme cycle). Its data are sufficient statistics per period × arm (`stats.Moments`, a 0/1
retention metric or a continuous one), `cells[period][arm]`.

**Stratified means** (`stratified_means`). Pooling an arm's users across periods is biased when weights change
while the population drifts (Simpson's paradox: an arm that got most of its users in a period of easy users looks
good). As GrowthBook's bandit analysis does, each arm's mean is the average of its per-period means, each period
weighted by its share of all users (every arm's): mean_k = Σ_p s_p · mean_pk with s_p = N_p / N, and
Var(mean_k) = Σ_p s_p² · var_pk / n_pk. A period in which some arm has no user is left out (named in `dropped`).
With the same weights in every period, the stratified means are the plain means up to the chance imbalance in
the period shares, and exactly so when each arm's share of every period is the same (the tests check both).

**Posterior** (`posterior`). Each arm's rate gets a Gaussian prior N(`PRIOR_MEAN`, `PRIOR_VARIANCE`) — 0.5 with
variance 0.25, worth about one user — updated with the stratified mean as a Gaussian observation. A period's
binary variance uses the Laplace rate (s + 1) / (n + 2), so a period with no retained user still has a spread.

**Thompson sampling on net value** (`thompson_weights`). From `draws` joint posterior draws of every arm's rate
(control included), the net value per user of treatment k is V · (rate_k − rate_control) − unit_cost_k; `p_best`
is the share of draws in which k has the highest net value. The control keeps `control_share`; the treatments
share the rest as floor + (1 − control_share − K · floor) · p_best_k, so each keeps at least `floor` of all traffic
(GrowthBook floors at 1 % then renormalises; here the floor is exact). During the burn-in every treatment gets an
equal share (`burn_in_weights`).

**Combined effects** (`combined_effects`). Each treatment against control: the difference of stratified means with
its normal interval and p-value; the variance adds the two arms' (independent) stratified variances.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from stats.errors import StatsError
from stats.moments import Moments
from stats.srm import srm

PRIOR_MEAN = 0.5
PRIOR_VARIANCE = 0.25
DEFAULT_DRAWS = 20_000

Cells = Sequence[Sequence[Moments]]


@dataclass(frozen=True)
class StratifiedMeans:
    """Each arm's period-stratified mean and the variance of that mean; the period shares used and left out."""

    means: tuple[float, ...]
    variances: tuple[float, ...]
    shares: tuple[float, ...]  # per period (0 for a period left out)
    n: tuple[int, ...]  # users per arm over the periods used
    dropped: tuple[int, ...]  # periods left out: some arm had no user in them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BanditUpdate:
    """New weights (every arm, control included, in the order given) and the posterior they came from."""

    weights: tuple[float, ...]
    p_best: tuple[float, ...]  # chance of the highest net value per user (control: 0, it is not a choice)
    rate_mean: tuple[float, ...]  # posterior mean of each arm's rate
    rate_sd: tuple[float, ...]
    net_mean: tuple[float, ...]  # posterior mean of net value per user against control (control: 0)
    net_sd: tuple[float, ...]
    draws: int
    seed: int
    rule: str  # "thompson" or "burn-in"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StratifiedEffect:
    """One treatment against control on the stratified means: absolute difference, normal interval, p-value."""

    arm: int
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    effect: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counts_and_moments(cells: Cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, per-unit variance) arrays of shape (periods, arms); checks the table is rectangular."""
    if not cells or not cells[0]:
        raise StatsError("a bandit needs at least one period with at least two arms")
    arms = len(cells[0])
    if arms < 2 or any(len(row) != arms for row in cells):
        raise StatsError(f"every period needs the same arms (at least 2), got {[len(row) for row in cells]}")
    for row in cells:
        for cell in row:
            if not isinstance(cell, Moments):
                raise StatsError(f"cells must be stats.Moments, got {type(cell).__name__}")
    n = np.array([[c.n for c in row] for row in cells], dtype=float)
    mean = np.array([[c.mean if c.n else 0.0 for c in row] for row in cells], dtype=float)
    var = np.array([[c.variance if c.n else 0.0 for c in row] for row in cells], dtype=float)
    return n, mean, var


def stratified_means(cells: Cells) -> StratifiedMeans:
    """Per arm: Σ_p s_p · mean_pk and Σ_p s_p² · var_pk / n_pk, with s_p = N_p / N over periods where every arm has users."""
    n, mean, var = _counts_and_moments(cells)
    keep: np.ndarray = np.asarray((n > 0).all(axis=1))
    totals = np.where(keep, n.sum(axis=1), 0.0)
    if totals.sum() == 0:
        arms = n.shape[1]
        return StratifiedMeans((math.nan,) * arms, (math.nan,) * arms, (0.0,) * n.shape[0], (0,) * arms,
                               tuple(int(p) for p in np.flatnonzero(~keep)))
    shares = totals / totals.sum()
    safe_n = np.where(n > 0, n, 1.0)
    means = (shares[:, None] * mean).sum(axis=0)
    variances = (shares[:, None] ** 2 * var / safe_n).sum(axis=0)
    used = (n * keep[:, None]).sum(axis=0)
    return StratifiedMeans(tuple(float(x) for x in means), tuple(float(x) for x in variances),
                           tuple(float(x) for x in shares), tuple(int(x) for x in used),
                           tuple(int(p) for p in np.flatnonzero(~keep)))


def posterior(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """Each arm's posterior mean and sd of its rate: prior N(PRIOR_MEAN, PRIOR_VARIANCE), stratified data."""
    n, mean, var = _counts_and_moments(cells)
    binary = np.array([[c.is_binary for c in row] for row in cells], dtype=bool)
    laplace = (mean * n + 1) / (n + 2)
    var = np.where(binary, laplace * (1 - laplace), var)
    keep: np.ndarray = np.asarray((n > 0).all(axis=1))
    totals = np.where(keep, n.sum(axis=1), 0.0)
    arms = n.shape[1]
    prior_precision = np.full(arms, 1 / PRIOR_VARIANCE)
    if totals.sum() == 0:  # no period with users in every arm: fall back on each arm's own pooled data
        pooled_n = n.sum(axis=0)
        data_mean = np.divide((mean * n).sum(axis=0), pooled_n, out=np.zeros(arms), where=pooled_n > 0)
        pooled_var = np.divide((var * n).sum(axis=0), pooled_n, out=np.ones(arms), where=pooled_n > 0)
        precision = np.divide(pooled_n, np.maximum(pooled_var, 1e-12), out=np.zeros(arms), where=pooled_n > 0)
    else:
        shares = totals / totals.sum()
        data_mean = (shares[:, None] * mean).sum(axis=0)
        data_var = (shares[:, None] ** 2 * var / np.where(n > 0, n, 1.0)).sum(axis=0)
        precision = 1 / np.maximum(data_var, 1e-12)
    post_precision = prior_precision + precision
    post_mean = (prior_precision * PRIOR_MEAN + precision * data_mean) / post_precision
    return post_mean, np.sqrt(1 / post_precision)


def _check_shares(arms: int, control: int, control_share: float, floor: float) -> None:
    if not 0 <= control < arms:
        raise StatsError(f"control must index one of the {arms} arms, got {control}")
    if not 0 < control_share < 1:
        raise StatsError(f"control_share must be in (0, 1), got {control_share!r}")
    if not 0 <= floor or (arms - 1) * floor > 1 - control_share + 1e-12:
        raise StatsError(f"floor must be >= 0 and the {arms - 1} treatments' floors ({(arms - 1) * floor:g}) must fit "
                         f"in the treatments' share ({1 - control_share:g}), got floor={floor!r}")


def burn_in_weights(arms: int, control: int, control_share: float) -> tuple[float, ...]:
    """The control's share, and the rest split equally between the treatments."""
    _check_shares(arms, control, control_share, 0.0)
    each = (1 - control_share) / (arms - 1)
    return tuple(control_share if k == control else each for k in range(arms))


def floored_weights(p_best: Sequence[float] | np.ndarray, control: int, control_share: float, floor: float) -> tuple[float, ...]:
    """Control keeps its share; treatment k gets floor + (1 - control_share - K·floor) · p_best_k."""
    arms = len(p_best)
    _check_shares(arms, control, control_share, floor)
    p = np.asarray(p_best, dtype=float).copy()
    p[control] = 0.0
    total = p.sum()
    p = p / total if total > 0 else np.where(np.arange(arms) == control, 0.0, 1.0 / (arms - 1))
    free = 1 - control_share - (arms - 1) * floor
    weights = np.where(np.arange(arms) == control, control_share, floor + free * p)
    return tuple(float(w) for w in weights)


def thompson_weights(cells: Cells, *, control: int, unit_costs: Sequence[float] | np.ndarray, value_per_retained: float,
                     control_share: float, floor: float, draws: int = DEFAULT_DRAWS, seed: int = 0) -> BanditUpdate:
    """Weights by Thompson sampling on the posterior of net value per user: V · (rate_k − rate_control) − cost_k."""
    arms = len(cells[0]) if cells else 0
    _check_shares(arms, control, control_share, floor)
    costs = np.asarray(unit_costs, dtype=float)
    if costs.shape != (arms,) or not np.isfinite(costs).all() or (costs < 0).any():
        raise StatsError(f"unit_costs needs one finite cost >= 0 per arm ({arms}), got {list(unit_costs)}")
    if not (math.isfinite(value_per_retained) and value_per_retained >= 0):
        raise StatsError(f"value_per_retained must be a finite amount >= 0, got {value_per_retained!r}")
    if draws < 100:
        raise StatsError(f"draws must be at least 100, got {draws}")
    mean, sd = posterior(cells)
    rng = np.random.default_rng(seed)
    rates = mean + sd * rng.standard_normal((draws, arms))
    net = value_per_retained * (rates - rates[:, [control]]) - (costs - costs[control])
    net[:, control] = -np.inf
    best = np.bincount(net.argmax(axis=1), minlength=arms) / draws
    finite = np.where(np.isfinite(net), net, 0.0)
    net_mean, net_sd = finite.mean(axis=0), finite.std(axis=0)
    return BanditUpdate(floored_weights(best, control, control_share, floor), tuple(float(x) for x in best),
                        tuple(float(x) for x in mean), tuple(float(x) for x in sd),
                        tuple(float(x) for x in net_mean), tuple(float(x) for x in net_sd), draws, seed, "thompson")


def combined_effects(cells: Cells, control: int, alpha: float = 0.05) -> tuple[StratifiedEffect, ...]:
    """Every treatment against control on the stratified means (absolute difference), normal interval and p-value."""
    if not 0 < alpha < 1:
        raise StatsError(f"alpha must be between 0 and 1, got {alpha!r}")
    strat = stratified_means(cells)
    arms = len(strat.means)
    if not 0 <= control < arms:
        raise StatsError(f"control must index one of the {arms} arms, got {control}")
    z = float(sps.norm.ppf(1 - alpha / 2))
    out = []
    for k in range(arms):
        if k == control:
            continue
        effect = strat.means[k] - strat.means[control]
        variance = strat.variances[k] + strat.variances[control]
        reason = ""
        if math.isnan(effect):
            reason = "undefined: no period has users in every arm"
        elif not variance > 0:
            reason = "undefined: the outcome does not vary within the periods"
        if reason:
            out.append(StratifiedEffect(k, strat.n[control], strat.n[k], strat.means[control], strat.means[k],
                                        math.nan, math.nan, math.nan, math.nan, math.nan, reason))
            continue
        se = math.sqrt(variance)
        p_value = float(2 * sps.norm.sf(abs(effect) / se))
        out.append(StratifiedEffect(k, strat.n[control], strat.n[k], strat.means[control], strat.means[k],
                                    effect, se, effect - z * se, effect + z * se, p_value))
    return tuple(out)


def period_srm(counts: Sequence[Sequence[int]], weights: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The sample ratio mismatch p-value of each period (its arm counts against its own weights); nan when empty."""
    if len(counts) != len(weights):
        raise StatsError(f"one weight vector per period: {len(counts)} periods, {len(weights)} weight vectors")
    return tuple(srm(c, w) for c, w in zip(counts, weights, strict=True))


def best_arm_probability(means: Sequence[float], variances: Sequence[float], values: Sequence[float],
                         offsets: Sequence[float], control: int, draws: int = DEFAULT_DRAWS,
                         seed: int = 0) -> tuple[float, ...]:
    """Chance each treatment has the highest net value V_k · (mean_k − mean_control) − offset_k, from independent
    normal means (the combined estimate's); control gets 0."""
    m, v = np.asarray(means, dtype=float), np.asarray(variances, dtype=float)
    if not (np.isfinite(m).all() and np.isfinite(v).all()):
        return tuple(math.nan for _ in means)
    rng = np.random.default_rng(seed)
    rates = m + np.sqrt(np.maximum(v, 0.0)) * rng.standard_normal((draws, m.size))
    net = np.asarray(values, dtype=float) * (rates - rates[:, [control]]) - np.asarray(offsets, dtype=float)
    net[:, control] = -np.inf
    return tuple(float(x) for x in np.bincount(net.argmax(axis=1), minlength=m.size) / draws)


@dataclass(frozen=True)
class NetValue:
    """One treatment's net value per user on the combined estimate: V · uplift − unit cost, interval, Holm p-value."""

    arm: int
    net: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    p_best: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


WINNER_P_BEST = 0.95


def net_values(cells: Cells, *, value_per_retained: float, unit_costs: Sequence[float] | np.ndarray, control: int,
               alpha: float = 0.05, draws: int = DEFAULT_DRAWS, seed: int = 0) -> tuple[NetValue, ...]:
    """Each treatment's net value per user on the combined estimate (V · effect − (cost_k − cost_control)) with its
    interval, Holm-adjusted p-value across the treatments, and chance of being the best treatment (normal draws
    of the stratified means: the control's draw is common to every treatment, so it cancels between them)."""
    from stats.multiple import adjust_p_values

    effects = combined_effects(cells, control, alpha)
    strat = stratified_means(cells)
    costs = np.asarray(unit_costs, dtype=float)
    if costs.shape != (len(strat.means),):
        raise StatsError(f"unit_costs needs one cost per arm ({len(strat.means)}), got {list(unit_costs)}")
    z = float(sps.norm.ppf(1 - alpha / 2))
    v = float(value_per_retained)
    offsets = costs - costs[control]
    rows = []
    for e in effects:
        net = v * e.effect - float(offsets[e.arm])
        se = v * e.std_error
        p = float(2 * sps.norm.sf(abs(net) / se)) if se > 0 else math.nan
        rows.append((e.arm, net, net - z * se, net + z * se, p))
    holm = adjust_p_values([r[4] for r in rows], "holm")
    best = best_arm_probability(strat.means, strat.variances, [v] * len(costs), offsets, control, draws, seed)
    return tuple(NetValue(arm, net, low, high, p, ph, best[arm])
                 for (arm, net, low, high, p), ph in zip(rows, holm, strict=True))


def winner(nets: Sequence[NetValue], alpha: float = 0.05, p_best: float = WINNER_P_BEST) -> int | None:
    """The winning treatment: net value per user significantly above 0 after Holm across the treatments, and at
    least `p_best` chance of being the best treatment; None when no arm is both."""
    for item in sorted(nets, key=lambda n: -n.net):
        if item.p_holm < alpha and item.net > 0 and item.p_best >= p_best:
            return item.arm
    return None
