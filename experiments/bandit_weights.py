"""Bandit experiments in the registry: their settings, and weight periods set by cost-aware Thompson sampling.

A bandit is an experiment (its arms, control and hash seed as any other) plus a row in `bandits` (floor per
treatment, burn-in periods, posterior draws). Its arms' weights as defined are the burn-in weights, and the
control's weight is the control's share for good. Each `update_bandit_weights` (a programme cycle calls it before
assigning; `winback experiment bandit-update` does it by hand) opens a new weight period in `bandit_periods`,
append-only and audited with its posterior: during the burn-in the defined weights; after it
`stats.bandit.thompson_weights` on the outcomes imported so far. `experiments.targeting.assign_users` hashes new
users with the weights in force (`weights_in_force`), and users already assigned keep their arm (the send gate's
`already`), so a user keeps the arm of the cycle in which they were assigned. An assignment belongs to the period
whose start is the latest at or before its `assigned_at` (period 0: before the first period, the defined weights).

The posterior counts only users with an imported outcome of the primary metric (feedback arrives late: a user whose
outcome is not in yet is not a user who was not retained); the analysis (experiments.bandit_analysis) counts every
assigned user, as `winback analyze` does.
"""
from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.definitions import Experiment, create_experiment, get_experiment
from experiments.errors import ExperimentError
from stats import Moments
from stats.bandit import DEFAULT_DRAWS, thompson_weights

DEFAULT_FLOOR = 0.05
DEFAULT_BURN_IN = 1
PERIOD_SQL = ("COALESCE((SELECT MAX(p.period) FROM bandit_periods p WHERE p.experiment_key = a.experiment_key "
              "AND p.starts_at <= a.assigned_at), 0)")


@dataclass(frozen=True)
class BanditSettings:
    """A bandit's floor (each treatment's least share of all users), burn-in periods and posterior draws."""

    floor: float = DEFAULT_FLOOR
    burn_in: int = DEFAULT_BURN_IN
    draws: int = DEFAULT_DRAWS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BanditPeriod:
    """One weight period: from when, why (burn-in, thompson, no outcomes yet), the weights by arm, the posterior."""

    period: int
    starts_at: str
    as_of: str | None
    rule: str
    weights: dict[str, float]
    posterior: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stamp(now: datetime) -> str:
    """The registry's assignment timestamp format (experiments.targeting), so periods and assignments compare."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_bandit(experiment: Experiment, settings: BanditSettings, primary_kind: str | None) -> None:
    """Refuse a bandit that could not run: no value per retained user, a non-binary primary metric, fewer than two
    treatments, floors that do not fit beside the control's share."""
    key = experiment.key
    if experiment.value_per_retained is None:
        raise ExperimentError(f"bandit '{key}' needs --value-per-retained: it weighs arms by net value per user "
                              "(value x incremental retention - unit cost)")
    if primary_kind != "binary":
        raise ExperimentError(f"bandit '{key}': the primary metric '{experiment.primary_metric}' must be a binary "
                              f"(retained yes/no) metric, got {primary_kind or 'an unknown metric'}")
    treatments = [arm for arm in experiment.arms if not arm.is_control]
    if len(treatments) < 2:
        raise ExperimentError(f"bandit '{key}' needs at least two treatment arms to choose between, got {len(treatments)}")
    if not (math.isfinite(settings.floor) and 0 <= settings.floor < 1):
        raise ExperimentError(f"bandit '{key}': --floor must be in [0, 1), got {settings.floor}")
    share = 1 - experiment.control.weight
    if len(treatments) * settings.floor > share + 1e-9:
        raise ExperimentError(f"bandit '{key}': {len(treatments)} treatments x floor {settings.floor:g} = "
                              f"{len(treatments) * settings.floor:g} is more than the treatments' share {share:g} "
                              f"(1 - the control's weight); lower --floor")
    if settings.burn_in < 0 or settings.draws < 100:
        raise ExperimentError(f"bandit '{key}': --burn-in must be >= 0 and draws >= 100, got {settings.burn_in} and "
                              f"{settings.draws}")


def check_bandit_draft(db: RegistryLike, key: str) -> None:
    """Re-check a bandit draft before it starts (an edit may have changed its arms, metric or value); nothing for a
    fixed-weight experiment."""
    settings = get_bandit(db, key)
    if settings is None:
        return
    experiment = get_experiment(key, db)
    kind = open_registry(db).execute("SELECT kind FROM metrics WHERE key = ?", (experiment.primary_metric,)).fetchone()
    check_bandit(experiment, settings, kind[0] if kind else None)


def create_bandit_experiment(experiment: Experiment, db: RegistryLike = None, settings: BanditSettings | None = None,
                             actor: str | None = None) -> Experiment:
    """Create a draft experiment that is a bandit (its weights as defined are the burn-in's; audited)."""
    settings = settings or BanditSettings()
    database = open_registry(db)
    kind = database.execute("SELECT kind FROM metrics WHERE key = ?", (experiment.primary_metric,)).fetchone()
    check_bandit(experiment, settings, kind[0] if kind else None)
    created = create_experiment(experiment, database, actor=actor)
    with transaction(database) as conn:
        conn.execute("INSERT INTO bandits (experiment_key, floor, burn_in, draws, created_at) VALUES (?, ?, ?, ?, ?)",
                     (experiment.key, settings.floor, settings.burn_in, settings.draws, utc_now()))
        audit(conn, "bandit", "experiment", experiment.key, json.dumps(settings.to_dict()), actor)
    return created


def get_bandit(db: RegistryLike, key: str) -> BanditSettings | None:
    """The bandit settings of experiment `key`, or None when it is a fixed-weight experiment."""
    row = open_registry(db).execute("SELECT floor, burn_in, draws FROM bandits WHERE experiment_key = ?",
                                    (key,)).fetchone()
    return None if row is None else BanditSettings(float(row[0]), int(row[1]), int(row[2]))


def list_periods(db: RegistryLike, key: str) -> list[BanditPeriod]:
    """Every weight period of a bandit, oldest first."""
    rows = open_registry(db).execute(
        "SELECT period, starts_at, as_of, rule, weights, posterior FROM bandit_periods WHERE experiment_key = ? "
        "ORDER BY period", (key,)).fetchall()
    return [BanditPeriod(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows]


def weights_in_force(db: RegistryLike, key: str) -> list[float] | None:
    """The newest period's weights in arm order, or None (not a bandit, or no period opened yet)."""
    database = open_registry(db)
    row = database.execute("SELECT weights FROM bandit_periods WHERE experiment_key = ? ORDER BY period DESC LIMIT 1",
                           (key,)).fetchone()
    if row is None:
        return None
    weights = json.loads(row[0])
    arms = [r[0] for r in database.execute("SELECT arm_key FROM arms WHERE experiment_key = ? ORDER BY position", (key,))]
    return [float(weights[arm]) for arm in arms]


def expected_shares(db: RegistryLike, key: str) -> list[float] | None:
    """The arm shares a bandit's assignments should show overall: Σ_p N_p · w_p / N over its weight periods (as
    GrowthBook's bandit SRM expects), in arm order; None for a fixed-weight experiment or before any assignment."""
    if get_bandit(db, key) is None:
        return None
    database = open_registry(db)
    arms = [(r[0], float(r[1])) for r in database.execute(
        "SELECT arm_key, weight FROM arms WHERE experiment_key = ? ORDER BY position", (key,))]
    sizes = dict(database.execute(f"SELECT {PERIOD_SQL} AS period, COUNT(*) FROM assignments a "
                                  "WHERE a.experiment_key = ? GROUP BY 1", (key,)).fetchall())
    if not sizes:
        return None
    weights = {0: {arm: w for arm, w in arms}} | {p.period: p.weights for p in list_periods(database, key)}
    total = sum(sizes.values())
    return [sum(n * weights[int(p)][arm] for p, n in sizes.items()) / total for arm, _ in arms]


def observed_cells(db: RegistryLike, key: str, arms: list[str], metric: str, periods: int) -> list[list[Moments]]:
    """Per period (0..periods) × arm: users with an imported outcome of `metric` and the sum of their outcomes."""
    rows = open_registry(db).execute(
        f"SELECT {PERIOD_SQL} AS period, a.arm_key, COUNT(*), TOTAL(o.value) FROM assignments a "
        "JOIN outcomes o ON o.experiment_key = a.experiment_key AND o.user_id = a.user_id AND o.metric = ? "
        "AND o.period = 'post' WHERE a.experiment_key = ? GROUP BY 1, 2", (metric, key)).fetchall()
    found = {(int(p), arm): (int(n), float(s)) for p, arm, n, s in rows}
    return [[Moments(*found.get((p, arm), (0, 0.0))) for arm in arms] for p in range(periods + 1)]


def update_bandit_weights(db: RegistryLike, key: str, *, now: datetime | None = None, as_of: str | None = None,
                          actor: str | None = None) -> BanditPeriod | None:
    """Open the next weight period of bandit `key` (None for a fixed-weight experiment); idempotent for one `now`.

    The burn-in's periods keep the defined weights; after it Thompson sampling on net value per user sets them,
    from the outcomes imported so far (none yet: the weights in force are kept, rule 'no outcomes yet')."""
    settings = get_bandit(db, key)
    if settings is None:
        return None
    experiment = get_experiment(key, db)
    if experiment.status != "running":
        raise ExperimentError(f"bandit '{key}' is {experiment.status}; its weights change only while it runs")
    stamp = _stamp(now or datetime.now(UTC))
    periods = list_periods(db, key)
    again = [p for p in periods if p.starts_at == stamp]
    if again:
        return again[0]
    if periods and stamp <= periods[-1].starts_at:
        raise ExperimentError(f"bandit '{key}': a weight period starting {stamp} comes before or on the last one's "
                              f"start {periods[-1].starts_at}; periods move forward in time")
    arm_keys = [arm.key for arm in experiment.arms]
    control = next(i for i, arm in enumerate(experiment.arms) if arm.is_control)
    number = len(periods) + 1
    posterior: dict[str, Any] = {}
    if number <= settings.burn_in:
        rule, weights = "burn-in", list(experiment.weights)
    else:
        cells = observed_cells(db, key, arm_keys, experiment.primary_metric, len(periods))
        costs = unit_costs_by_arm(db, key, arm_keys)
        if not any(cell.n for row in cells for cell in row):
            rule = "no outcomes yet"
            weights = weights_in_force(db, key) or list(experiment.weights)
        else:
            update = thompson_weights(cells, control=control, unit_costs=costs,
                                      value_per_retained=float(experiment.value_per_retained or 0.0),
                                      control_share=experiment.control.weight, floor=settings.floor,
                                      draws=settings.draws, seed=zlib.crc32(f"{key}:{number}".encode()))
            rule, weights = "thompson", list(update.weights)
            posterior = {"users_with_outcome": {arm: sum(row[i].n for row in cells) for i, arm in enumerate(arm_keys)},
                         "unit_cost": dict(zip(arm_keys, costs, strict=True)),
                         "value_per_retained": experiment.value_per_retained,
                         **{name: dict(zip(arm_keys, values, strict=True)) for name, values in
                            (("p_best", update.p_best), ("rate_mean", update.rate_mean), ("rate_sd", update.rate_sd),
                             ("net_mean", update.net_mean), ("net_sd", update.net_sd))},
                         "draws": update.draws, "seed": update.seed}
    by_arm = {arm: round(float(w), 6) for arm, w in zip(arm_keys, weights, strict=True)}
    database = open_registry(db)
    with transaction(database) as conn:
        conn.execute("INSERT INTO bandit_periods (experiment_key, period, starts_at, as_of, rule, weights, posterior, "
                     "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (key, number, stamp, as_of, rule, json.dumps(by_arm), json.dumps(posterior), utc_now()))
        audit(conn, "bandit_weights", "experiment", key,
              json.dumps({"period": number, "starts_at": stamp, "as_of": as_of, "rule": rule, "weights": by_arm,
                          "posterior": posterior}), actor)
    return BanditPeriod(number, stamp, as_of, rule, by_arm, posterior)


def unit_costs_by_arm(db: RegistryLike, key: str, arm_keys: list[str]) -> list[float]:
    """Each arm's unit cost: frozen in the arm when the experiment started, else the catalog's (control: 0)."""
    rows = dict(open_registry(db).execute(
        "SELECT a.arm_key, CASE WHEN a.treatment_key IS NULL THEN 0 ELSE COALESCE(a.unit_cost, t.unit_cost, 0) END "
        "FROM arms a LEFT JOIN treatments t ON t.key = a.treatment_key WHERE a.experiment_key = ?", (key,)).fetchall())
    return [float(rows[arm]) for arm in arm_keys]
