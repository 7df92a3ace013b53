"""The power plan before launch: users per arm for a minimum detectable effect, the effect the cohort can detect,
and the days it takes, from a metric's baseline (given, or read from past experiments' control arms)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from experiments.db import RegistryLike, open_registry
from experiments.errors import ExperimentError
from experiments.lookup import check_known
from stats import minimum_detectable_effect, sample_size


@dataclass(frozen=True)
class ExperimentPlan:
    """What an experiment needs and what it can detect; nan where an input is missing (`notes` say which)."""

    metric: str
    binary: bool
    baseline: float
    baseline_source: str
    variance: float
    weights: tuple[float, ...]
    alpha: float
    power: float
    mde_relative: float
    n_per_control: int
    n_per_smallest_arm: int
    n_total: int
    cohort_size: int | None
    detectable_relative: float
    daily_traffic: float
    days: float
    notes: tuple[str, ...]
    reason: str = ""  # why a field is nan: which input was not given (JSON shows it beside each null)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def observed_baseline(db: RegistryLike, metric: str) -> tuple[float, float, int]:
    """Mean, variance and count of `metric` over the control users of every experiment that measured it."""
    database = open_registry(db)
    row = database.execute("""
        WITH measured AS (SELECT DISTINCT experiment_key FROM outcomes WHERE metric = :m AND period = 'post'),
        control_users AS (
            SELECT a.experiment_key, a.user_id FROM assignments a
            JOIN arms r ON r.experiment_key = a.experiment_key AND r.arm_key = a.arm_key AND r.is_control = 1
            WHERE a.experiment_key IN (SELECT experiment_key FROM measured))
        SELECT COUNT(*), TOTAL(o.value), TOTAL(o.value * o.value) FROM control_users c
        LEFT JOIN outcomes o ON o.experiment_key = c.experiment_key AND o.user_id = c.user_id
             AND o.metric = :m AND o.period = 'post'""", {"m": metric}).fetchone()
    n, total, squares = int(row[0]), float(row[1]), float(row[2])
    if n < 2:
        return math.nan, math.nan, n
    mean = total / n
    return mean, max(squares - n * mean * mean, 0.0) / (n - 1), n


def plan_experiment(db: RegistryLike, metric: str, weights: tuple[float, ...] | list[float], *,
                    mde_relative: float = 0.1, baseline: float | None = None, variance: float | None = None,
                    cohort: str | None = None, daily_traffic: float | None = None, alpha: float = 0.05,
                    power: float = 0.8) -> ExperimentPlan:
    """Plan for arms with `weights` (control first): users for `mde_relative`, detectable effect, days."""
    database = open_registry(db)
    kinds = dict(database.execute("SELECT key, kind FROM metrics").fetchall())
    check_known("metric", metric, kinds, "declare it first with `winback metric add`")
    weights = tuple(float(w) for w in weights)
    if len(weights) < 2 or any(not (w > 0 and math.isfinite(w)) for w in weights):
        raise ExperimentError(f"weights need a control and at least one treatment arm, all > 0, got {list(weights)}")
    if not mde_relative > 0:
        raise ExperimentError(f"the minimum detectable effect must be > 0 (relative, e.g. 0.1), got {mde_relative}")
    if daily_traffic is not None and not (daily_traffic > 0 and math.isfinite(daily_traffic)):
        raise ExperimentError(f"eligible users per day must be a number > 0, got {daily_traffic}")
    binary = kinds[metric] == "binary"
    notes: list[str] = []
    source = "given"
    if baseline is None:
        baseline, observed_variance, n = observed_baseline(database, metric)
        source = f"control arms of past experiments, {n:,} users"
        if math.isnan(baseline):
            needed = "--baseline" if binary or variance is not None else "--baseline and --variance"
            raise ExperimentError(f"no past outcomes of '{metric}' to estimate a baseline from; give {needed}")
        variance = variance if variance is not None else observed_variance
    if binary:
        variance = None
    elif variance is None or not variance > 0:
        raise ExperimentError(f"'{metric}' is continuous: give its variance (--variance) or run an experiment first")
    total_weight = sum(weights)
    share_control, share_smallest = weights[0] / total_weight, min(weights[1:]) / total_weight
    ratio = share_smallest / share_control
    need = sample_size(baseline, mde_relative, variance=variance, alpha=alpha, power=power, ratio=ratio)
    n_total = int(math.ceil(max(need.n_control / share_control, need.n_treatment / share_smallest)))
    cohort_size = None
    detectable = math.nan
    if cohort is not None:
        cohort_size = int(database.execute(  # its newest version: the one an experiment would start with
            "SELECT COUNT(*) FROM cohorts WHERE cohort_key = ? AND version = "
            "(SELECT MAX(version) FROM cohorts WHERE cohort_key = ?)", (cohort, cohort)).fetchone()[0])
        if cohort_size == 0:
            check_known("cohort", cohort, [r[0] for r in database.execute("SELECT DISTINCT cohort_key FROM cohorts")])
        n_control = cohort_size * share_control
        if n_control >= 2:
            detectable = minimum_detectable_effect(baseline, n_control, variance=variance, alpha=alpha, power=power,
                                                   ratio=ratio).mde_relative
        if cohort_size < n_total:
            notes.append(f"the cohort has {cohort_size:,} users, fewer than the {n_total:,} needed for a "
                         f"{mde_relative:.0%} effect; it can detect about {detectable:.1%}")
    if abs(total_weight - 1.0) > 0.01:  # the tolerance `experiment create` allows
        shares = ", ".join(f"{w / total_weight:.3g}" for w in weights)
        notes.append(f"the weights sum to {total_weight:g}: planned as the shares {shares}; `winback experiment "
                     "create` needs weights that sum to 1")
    if len(weights) > 2:
        notes.append(f"{len(weights) - 1} treatment arms: Holm's correction makes each comparison a little stricter "
                     "than this per-comparison plan")
    days = math.nan if daily_traffic is None else float(math.ceil(n_total / daily_traffic))
    missing = [why for why, absent in (
        ("no cohort given: no detectable effect", cohort is None),
        (f"cohort '{cohort}' is too small to detect any effect", cohort is not None and math.isnan(detectable)),
        ("no daily traffic given: no duration", daily_traffic is None)) if absent]
    return ExperimentPlan(
        metric=metric, binary=binary, baseline=float(baseline), baseline_source=source,
        variance=float(need.variance), weights=weights, alpha=alpha, power=power, mde_relative=mde_relative,
        n_per_control=int(math.ceil(n_total * share_control)), n_per_smallest_arm=int(math.ceil(n_total * share_smallest)),
        n_total=n_total, cohort_size=cohort_size, detectable_relative=detectable,
        daily_traffic=math.nan if daily_traffic is None else float(daily_traffic), days=days, notes=tuple(notes),
        reason="; ".join(missing))
