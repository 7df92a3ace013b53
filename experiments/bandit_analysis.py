"""The analysis of a bandit: per weight period, then combined (stratified), with SRM per period and the money view.

Reading a bandit as a fixed-weight experiment is biased when weights move while the population drifts, so each
weight period is analysed on its own and the periods are combined with weights proportional to their sizes
(`stats.bandit`, as GrowthBook does). Every assigned user counts (no outcome row: 0, as `winback analyze`); SRM is
checked in each period against that period's own weights; the cost per incremental retained user, margin and ROI
(`stats.economics`) and the net value per user rest on the combined estimate. A winner is named only when its net
value per user is above 0 after Holm across the treatments and it has at least a 95% chance of being the best.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from experiments.bandit_weights import (
    PERIOD_SQL,
    BanditPeriod,
    BanditSettings,
    get_bandit,
    list_periods,
    unit_costs_by_arm,
)
from experiments.db import RegistryLike, open_registry
from experiments.definitions import get_experiment
from experiments.errors import ExperimentError
from stats import Comparison, Economics, Moments, economics, srm_flagged
from stats.bandit import combined_effects, net_values, period_srm, stratified_means, winner


@dataclass(frozen=True)
class PeriodRow:
    """One weight period: its weights, users per arm, SRM against its own weights and each arm's mean outcome."""

    period: int
    starts_at: str | None
    as_of: str | None
    rule: str
    weights: dict[str, float]
    users: dict[str, int]
    means: dict[str, float]
    share: float  # its weight in the combined estimate (0: left out, an arm had no user)
    srm_p_value: float
    srm_flagged: bool
    p_best: dict[str, float] = field(default_factory=dict)  # the posterior that set the weights (thompson periods)


@dataclass(frozen=True)
class BanditArmResult:
    """A treatment against control on the combined estimate: uplift, net value per user, money, chance to be best."""

    arm_key: str
    treatment_key: str | None
    users: int
    cost: float
    comparison: Comparison
    net_value: float
    net_ci_low: float
    net_ci_high: float
    p_holm: float
    p_best: float
    economics: Economics


@dataclass(frozen=True)
class BanditReport:
    """The whole bandit read: settings, weights over time, per-period checks, the combined results, the winner."""

    key: str
    status: str
    primary_metric: str
    value_per_retained: float
    control: str
    settings: BanditSettings
    periods: tuple[PeriodRow, ...]
    arms: tuple[BanditArmResult, ...]
    winner: str | None
    alpha: float
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyze_bandit(key: str, db: RegistryLike = None, *, alpha: float = 0.05) -> BanditReport:
    """Analyse bandit `key` per weight period and combined; refuses a fixed-weight experiment."""
    settings = get_bandit(db, key)
    if settings is None:
        raise ExperimentError(f"experiment '{key}' is not a bandit; analyse it with `winback analyze {key}`")
    experiment = get_experiment(key, db)
    arms = [arm.key for arm in experiment.arms]
    control = next(i for i, arm in enumerate(experiment.arms) if arm.is_control)
    periods = list_periods(db, key)
    cells, costs = _cells(db, key, arms, experiment.primary_metric, len(periods))
    notes: list[str] = []
    first = [p for p, row in enumerate(cells) if any(c.n for c in row)]
    start = 0 if first and first[0] == 0 else 1  # period 0 (before the first weight period) only when it has users
    used = cells[start:]
    defined = {arm.key: arm.weight for arm in experiment.arms}
    descriptions: list[BanditPeriod | None] = [None, *periods][start:]
    weights = [[(d.weights if d else defined)[arm] for arm in arms] for d in descriptions]
    srm_p = period_srm([[c.n for c in row] for row in used], weights) if used else ()
    strat = stratified_means(used) if used else None
    rows = []
    for i, (row, d) in enumerate(zip(used, descriptions, strict=True)):
        flagged = srm_flagged(srm_p[i])
        if flagged:
            notes.append(f"period {start + i}: sample ratio mismatch (p = {srm_p[i]:.2g}) against its own weights; "
                         "check assignment before trusting the combined estimate")
        p_best = d.posterior.get("p_best", {}) if d else {}
        rows.append(PeriodRow(start + i, d.starts_at if d else None, d.as_of if d else None,
                              d.rule if d else "before the first period", dict(zip(arms, weights[i], strict=True)),
                              {arm: c.n for arm, c in zip(arms, row, strict=True)},
                              {arm: c.mean for arm, c in zip(arms, row, strict=True)},
                              strat.shares[i] if strat else 0.0, srm_p[i], flagged, p_best))
    if strat and strat.dropped:
        notes.append(f"periods {', '.join(str(start + p) for p in strat.dropped)} left out of the combined estimate: "
                     "an arm had no user in them")
    value = float(experiment.value_per_retained) if experiment.value_per_retained is not None else math.nan
    results: list[BanditArmResult] = []
    won = None
    if strat is not None and any(strat.n):
        unit = unit_costs_by_arm(db, key, arms)
        effects = combined_effects(used, control, alpha)
        nets = net_values(used, value_per_retained=0.0 if math.isnan(value) else value, unit_costs=unit,
                          control=control, alpha=alpha)
        for effect, net in zip(effects, nets, strict=True):
            arm = experiment.arms[effect.arm]
            comparison = Comparison(
                method="ttest", relative=False, alpha=alpha, n_control=effect.n_control, n_treatment=effect.n_treatment,
                mean_control=effect.mean_control, mean_treatment=effect.mean_treatment, effect=effect.effect,
                std_error=effect.std_error, ci_low=effect.ci_low, ci_high=effect.ci_high, p_value=effect.p_value,
                chance_to_win=math.nan, risk=math.nan, risk_control=math.nan, cuped=False, theta=math.nan,
                reason=effect.reason or "period-stratified difference (normal interval)")
            users = sum(row[effect.arm].n for row in used)
            results.append(BanditArmResult(arm.key, arm.treatment, users, costs[effect.arm], comparison, net.net,
                                           net.ci_low, net.ci_high, net.p_holm, net.p_best,
                                           economics(comparison, costs[effect.arm],
                                                     value_per_retained=None if math.isnan(value) else value)))
        found = winner(nets, alpha) if not math.isnan(value) else None
        won = None if found is None else arms[found]
    else:
        notes.append("no users assigned yet")
    return BanditReport(key, experiment.status, experiment.primary_metric, value, arms[control], settings,
                        tuple(rows), tuple(results), won, alpha, tuple(dict.fromkeys(notes)))


def _cells(db: RegistryLike, key: str, arms: list[str], metric: str, periods: int) -> tuple[list[list[Moments]], list[float]]:
    """Per period (0..periods) × arm: every assigned user, the sum of their outcomes (none: 0); each arm's cost."""
    database = open_registry(db)
    rows = database.execute(
        f"SELECT {PERIOD_SQL} AS period, a.arm_key, COUNT(*), TOTAL(o.value) FROM assignments a "
        "LEFT JOIN outcomes o ON o.experiment_key = a.experiment_key AND o.user_id = a.user_id AND o.metric = ? "
        "AND o.period = 'post' WHERE a.experiment_key = ? GROUP BY 1, 2", (metric, key)).fetchall()
    found = {(int(p), arm): (int(n), float(s)) for p, arm, n, s in rows}
    for (_, arm), (n, s) in found.items():
        if not 0 <= s <= n:
            raise ExperimentError(f"bandit '{key}', arm '{arm}': the primary metric '{metric}' must be 0 or 1 per user")
    cells = [[Moments(*found.get((p, arm), (0, 0.0))) for arm in arms] for p in range(periods + 1)]
    delivered = dict(database.execute(
        "SELECT a.arm_key, TOTAL(d.cost) FROM deliveries d JOIN assignments a ON a.experiment_key = d.experiment_key "
        "AND a.user_id = d.user_id WHERE d.experiment_key = ? GROUP BY a.arm_key", (key,)).fetchall())
    unit = unit_costs_by_arm(db, key, arms)
    users = [sum(row[i].n for row in cells) for i in range(len(arms))]
    costs = [float(delivered[arm]) if arm in delivered else unit[i] * users[i] for i, arm in enumerate(arms)]
    return cells, costs


