"""Sufficient statistics from the registry: SQL GROUP BY per arm × metric × segment, never per-user rows.

For each arm, metric and (optionally) segment the database returns n, sum, sum of squares and the
pre-period sums CUPED needs; `stats/` takes it from there. Conventions:
- n is the number of users assigned to the arm (in the segment); a user with no outcome row for a
  metric counts as 0 for it (assignments LEFT JOIN outcomes, done as sums over the outcome rows);
- a metric's kind comes from the `metrics` table (binary → no sum of squares); unknown metrics are
  treated as continuous;
- segments are the target cohort's `stage`, `tier` or `reason` (cohorts joined on the experiment's
  target_cohort, the cohort version it started with, and user_id); users without one fall in "(none)";
- cost per arm is SUM(deliveries.cost) of the arm's users; an arm without any delivery rows falls
  back to its treatment's unit_cost × n (0 for an arm without a treatment).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Literal

import sqlite_utils

from experiments.choices import SEGMENT_COLUMNS, SegmentBy
from experiments.db import RegistryLike, open_registry
from experiments.errors import ExperimentError
from experiments.fact_source import FactSource, open_facts
from stats import Moments
from stats.errors import StatsError

ALL = "all"
NO_SEGMENT = "(none)"
BY_DAY = "assigned_day"  # internal dimension: the UTC day each user was assigned (for cumulative effects)
# deliveries' costs, the treatment's unit cost × n, nothing spent; a DataFrame's cost column, or no cost given
CostSource = Literal["deliveries", "unit_cost", "none", "column", "unknown"]


@dataclass(frozen=True)
class ArmDesign:
    """One arm as registered: its treatment, planned weight and that treatment's unit cost."""

    arm_key: str
    treatment_key: str | None
    weight: float
    is_control: bool
    unit_cost: float


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric: binary or continuous, which direction is good, and whether it is registered."""

    key: str
    kind: Literal["binary", "continuous"]
    higher_is_better: bool
    registered: bool


@dataclass(frozen=True)
class ExperimentData:
    """Everything the analysis needs, reduced to sufficient statistics (keys: arm, metric, segment)."""

    key: str
    status: str
    primary_metric: str
    guardrail_metrics: tuple[str, ...]
    target_cohort: str | None
    value_per_retained: float | None
    arms: tuple[ArmDesign, ...]
    metrics: tuple[MetricInfo, ...]
    segment_by: SegmentBy | None
    segments: tuple[str, ...]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    costs: dict[tuple[str, str], float] = field(default_factory=dict)
    cost_sources: dict[str, CostSource] = field(default_factory=dict)
    moments: dict[tuple[str, str, str], Moments] = field(default_factory=dict)
    opted_out: dict[str, int] = field(default_factory=dict)  # assigned users who opted out later, per arm
    # Metrics with at least one imported outcome row of an assigned user; None when not known (a warehouse
    # engine or a DataFrame gave the sums). A metric outside it has no data, not a mean of 0.
    measured: frozenset[str] | None = None

    @property
    def control(self) -> ArmDesign:
        """The control arm."""
        return next(arm for arm in self.arms if arm.is_control)

    def count(self, arm: str, segment: str = ALL) -> int:
        """Users assigned to an arm (in one segment, or all)."""
        if segment != ALL:
            return self.counts.get((arm, segment), 0)
        return sum(n for (a, _), n in self.counts.items() if a == arm)

    def cost(self, arm: str, segment: str = ALL) -> float:
        """What the arm's users cost (in one segment, or all)."""
        if segment != ALL:
            return self.costs.get((arm, segment), 0.0)
        return float(sum(c for (a, _), c in self.costs.items() if a == arm))

    def moments_for(self, arm: str, metric: str, segment: str = ALL) -> Moments:
        """Moments of one arm × metric; segments pool with `+` into the total."""
        if segment != ALL:
            return self.moments[(arm, metric, segment)]
        parts = [self.moments[(arm, metric, s)] for s in self.segments]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total


def collect(key: str, db: str | os.PathLike[str] | sqlite_utils.Database | None = None, *,
            segment_by: SegmentBy | None = None, pre_period: bool = True, sums_source=None,
            facts: str | None = None) -> ExperimentData:
    """Read an experiment's design and reduce its assignments, outcomes and deliveries to moments.

    `pre_period=False` skips the pre-period sums (no CUPED needed): one cheaper pass over post rows.
    `sums_source(conn, segment_sql, join_sql, params, pre_period)` computes the outcome sums elsewhere
    (a warehouse engine, experiments/warehouse_metrics.py) in the same layout as the registry's.
    `facts` picks where the fact SQL runs: 'mirror' (default) or 'registry' (experiments/fact_source.py).
    """
    if isinstance(db, sqlite_utils.Database):
        return _collect(db.conn, key, segment_by, pre_period, sums_source, facts)
    database = open_registry(db)
    try:
        return _collect(database.conn, key, segment_by, pre_period, sums_source, facts)
    finally:
        database.conn.close()


def _collect(conn, key: str, segment_by: SegmentBy | None, pre_period: bool, sums_source=None,
             facts: str | None = None) -> ExperimentData:
    """collect() on an open connection: the design from the registry, the sums from a fact source."""
    row = conn.execute(
        "SELECT status, primary_metric, guardrail_metrics, target_cohort, value_per_retained, metric_kinds, "
        "cohort_version "
        "FROM experiments WHERE key = ?", (key,)
    ).fetchone()
    if row is None:
        raise ExperimentError(f"no experiment '{key}' in the registry (see `winback experiment list`)")
    status, primary, guardrails_json, cohort, value_per_retained, frozen_kinds, cohort_version = row
    if segment_by is not None and segment_by not in (*SEGMENT_COLUMNS, BY_DAY):
        raise ExperimentError(f"segment must be one of {', '.join(SEGMENT_COLUMNS)}, got {segment_by!r}")
    if segment_by is not None and segment_by != BY_DAY and not cohort:
        raise ExperimentError(f"experiment '{key}' has no target cohort, so it has no {segment_by} segments; "
                              "analyse it without a segment")
    arms = _arms(conn, key)
    segment_sql, join_sql = _segment_sql(segment_by)
    params = {"key": key, "cohort": cohort, "cohort_version": cohort_version}
    guardrails = tuple(json.loads(guardrails_json or "[]"))
    with open_facts(conn, facts) as source:
        counts = arm_counts(source, segment_sql, join_sql, params)
        if sums_source is not None:
            sums = sums_source(conn, segment_sql, join_sql, params, pre_period)
        else:
            sums = imported_sums(source, segment_sql, join_sql, params, pre_period)
        costs, sources = _costs(source, arms, counts, segment_sql, join_sql, params)
        opted_out = dict(source.rows(
            "SELECT a.arm_key, COUNT(*) FROM assignments a JOIN opt_outs o ON o.user_id = a.user_id "
            "WHERE a.experiment_key = :key GROUP BY a.arm_key", params))
    segments = tuple(sorted({seg for _, seg in counts})) or (ALL,)
    costs = _fill_costs(arms, segments, counts, costs, sources)
    names = list(dict.fromkeys([primary, *guardrails, *sorted({metric for _, metric, _ in sums})]))
    metrics = _metric_info(conn, names, json.loads(frozen_kinds) if frozen_kinds else None)
    moments = _moments(key, arms, metrics, segments, counts, sums)
    return ExperimentData(key=key, status=status, primary_metric=primary, guardrail_metrics=guardrails,
                          target_cohort=cohort, value_per_retained=value_per_retained, arms=arms, metrics=tuple(metrics[m] for m in names),
                          segment_by=segment_by, segments=segments, counts=counts, costs=costs,
                          cost_sources=sources, moments=moments, opted_out=opted_out,
                          measured=None if sums_source is not None else frozenset(m for _, m, _ in sums))


def arm_unit_costs(db: RegistryLike, key: str) -> dict[str, float]:
    """Each treatment's unit cost in experiment `key`: frozen in its arms when it started (else the catalog's)."""
    return {a.treatment_key: a.unit_cost for a in _arms(open_registry(db), key) if a.treatment_key is not None}


def _arms(conn, key: str) -> tuple[ArmDesign, ...]:
    rows = conn.execute(
        "SELECT a.arm_key, a.treatment_key, a.weight, a.is_control, COALESCE(a.unit_cost, t.unit_cost, 0) "
        "FROM arms a LEFT JOIN treatments t ON t.key = a.treatment_key "
        "WHERE a.experiment_key = ? ORDER BY a.position", (key,)).fetchall()
    arms = tuple(ArmDesign(r[0], r[1], float(r[2]), bool(r[3]), float(r[4])) for r in rows)
    if len(arms) < 2 or sum(arm.is_control for arm in arms) != 1:
        raise ExperimentError(f"experiment '{key}' needs at least two arms and exactly one control to be analysed")
    return arms


def _segment_sql(segment_by: SegmentBy | None) -> tuple[str, str]:
    """The segment expression and the cohort join (column names come from a closed list, never user text)."""
    if segment_by is None:
        return f"'{ALL}'", ""
    if segment_by == BY_DAY:
        return "a.assigned_day", ""  # substr(assigned_at, 1, 10), kept with the rows (experiments/fact_copy.py)
    return (f"COALESCE(c.{segment_by}, '{NO_SEGMENT}')",
            "LEFT JOIN cohorts c ON c.cohort_key = :cohort AND c.user_id = a.user_id AND c.version = "
            "COALESCE(:cohort_version, (SELECT MAX(version) FROM cohorts WHERE cohort_key = :cohort))")


def arm_counts(source: FactSource, segment_sql: str, join_sql: str, params: dict[str, object]) -> dict[tuple[str, str], int]:
    """Users assigned per arm × segment (the health checks read the same query, so a command runs it once)."""
    return {(arm, seg): int(n) for arm, seg, n in source.rows(
        f"SELECT a.arm_key, {segment_sql} AS segment, COUNT(*) FROM assignment_rows a {join_sql} "
        "WHERE a.experiment_key = :key GROUP BY a.arm_key, segment", params)}


def imported_sums(source: FactSource, segment_sql: str, join_sql: str, params: dict,
                  pre_period: bool) -> dict[tuple[str, str, str], tuple]:
    """The imported outcomes' sums per arm × metric × segment on a fact source (any engine that runs the fact SQL)."""
    return (_outcome_sums if pre_period else _post_sums)(source, segment_sql, join_sql, params)


def _outcome_sums(source: FactSource, segment_sql: str, join_sql: str, params: dict) -> dict[tuple[str, str, str], tuple]:
    """Per arm × metric × segment: post and pre sums, squares, cross sum, pre rows, non-0/1 values.

    The outcome rows of assigned users carry their assignment (experiments/fact_source.py); they are named `a` here
    because the segment SQL reads the assignment's columns."""
    sql = f"""
        SELECT u.arm_key, u.metric, u.segment,
               TOTAL(u.post), TOTAL(u.post * u.post), TOTAL(u.pre), TOTAL(u.pre * u.pre),
               TOTAL(u.post * u.pre), TOTAL(u.has_pre), TOTAL(u.post NOT IN (0.0, 1.0) OR u.pre NOT IN (0.0, 1.0))
        FROM (
            SELECT a.user_id, a.metric, a.arm_key, {segment_sql} AS segment,
                   TOTAL(CASE WHEN a.period = 'post' THEN a.value END) AS post,
                   TOTAL(CASE WHEN a.period = 'pre' THEN a.value END) AS pre,
                   MAX(a.period = 'pre') AS has_pre
            FROM assigned_outcomes a
            {join_sql}
            WHERE a.experiment_key = :key
            GROUP BY a.user_id, a.metric, a.arm_key, segment
        ) u
        GROUP BY u.arm_key, u.metric, u.segment"""
    return {(r[0], r[1], r[2]): r[3:] for r in source.rows(sql, params)}


def _post_sums(source: FactSource, segment_sql: str, join_sql: str, params: dict) -> dict[tuple[str, str, str], tuple]:
    """Post-period sums only, in the same layout as _outcome_sums (pre fields 0, no pre rows): one pass, no join.

    Two more fields follow for the health checks (experiments/health.py), which read this same query: the post rows
    (one per user at most, the outcomes' key) and how many of them were observed before the user's assignment."""
    sql = f"""
        SELECT a.arm_key, a.metric, {segment_sql} AS segment,
               TOTAL(a.value), TOTAL(a.value * a.value), 0.0, 0.0, 0.0, 0.0, TOTAL(a.value NOT IN (0.0, 1.0)),
               COUNT(*), TOTAL(a.observed_early)
        FROM assigned_outcomes a
        {join_sql}
        WHERE a.experiment_key = :key AND a.period = 'post'
        GROUP BY a.arm_key, a.metric, segment"""
    return {(r[0], r[1], r[2]): r[3:] for r in source.rows(sql, params)}


def _metric_info(conn, names: list[str], frozen: dict | None) -> dict[str, MetricInfo]:
    """Each metric's kind and direction: as frozen when the experiment started, else as declared now."""
    known = {r[0]: r for r in conn.execute("SELECT key, kind, higher_is_better FROM metrics")}
    if frozen is not None:
        known |= {name: (name, info["kind"], info["higher_is_better"]) for name, info in frozen.items()}
    return {name: MetricInfo(name, known[name][1], bool(known[name][2]), True) if name in known
            else MetricInfo(name, "continuous", True, False) for name in names}


def _moments(key: str, arms: tuple[ArmDesign, ...], metrics: dict[str, MetricInfo], segments: tuple[str, ...],
             counts: dict[tuple[str, str], int], sums: dict[tuple[str, str, str], tuple]) -> dict:
    has_pre = {metric for (_, metric, _), s in sums.items() if s[5] > 0}
    out: dict[tuple[str, str, str], Moments] = {}
    for name, info in metrics.items():
        binary = info.kind == "binary"
        bad = sum(s[6] for (_, m, _), s in sums.items() if m == name)
        if binary and bad:
            raise ExperimentError(f"experiment '{key}', metric '{name}' is registered as binary but {int(bad)} "
                                  "users have outcome values other than 0 or 1; fix the outcomes or the metric kind")
        for arm in arms:
            for seg in segments:
                post, post2, pre, pre2, cross = sums.get((arm.arm_key, name, seg), (0.0,) * 7)[:5]
                pre_fields = {}
                if name in has_pre:
                    pre_fields = dict(pre_sum=pre, pre_sum_squares=None if binary else pre2, pre_post_sum=cross)
                try:
                    out[(arm.arm_key, name, seg)] = Moments(
                        counts.get((arm.arm_key, seg), 0), post, None if binary else post2, **pre_fields)
                except StatsError as error:  # e.g. values near 1e200, whose squares overflow to inf
                    where = f" segment '{seg}'," if seg != ALL else ""
                    raise ExperimentError(
                        f"experiment '{key}', metric '{name}', arm '{arm.arm_key}',{where} cannot be summarized: "
                        f"{error} (an outcome value is too large for its square to be summed)") from error
    return out


def _costs(source: FactSource, arms: tuple[ArmDesign, ...], counts: dict[tuple[str, str], int], segment_sql: str,
           join_sql: str, params: dict) -> tuple[dict[tuple[str, str], float], dict[str, CostSource]]:
    """Delivered cost per arm × segment, and where each arm's cost comes from."""
    delivered = {(r[0], r[1]): float(r[2]) for r in source.rows(
        f"SELECT a.arm_key, {segment_sql} AS segment, TOTAL(a.cost) FROM assigned_deliveries a "
        f"{join_sql} WHERE a.experiment_key = :key GROUP BY a.arm_key, segment", params)}
    sources: dict[str, CostSource] = {}
    for arm in arms:
        if any(a == arm.arm_key for a, _ in delivered):
            sources[arm.arm_key] = "deliveries"
        elif arm.treatment_key is not None and not arm.is_control:
            sources[arm.arm_key] = "unit_cost"
        else:
            sources[arm.arm_key] = "none"
    return delivered, sources


def _fill_costs(arms: tuple[ArmDesign, ...], segments: tuple[str, ...], counts: dict[tuple[str, str], int],
                delivered: dict[tuple[str, str], float], sources: dict[str, CostSource]) -> dict[tuple[str, str], float]:
    """Every arm × segment's cost: delivered, else the unit cost × users, else 0."""
    costs: dict[tuple[str, str], float] = {}
    for arm in arms:
        for s in segments:
            if sources[arm.arm_key] == "deliveries":
                costs[(arm.arm_key, s)] = delivered.get((arm.arm_key, s), 0.0)
            elif sources[arm.arm_key] == "unit_cost":
                costs[(arm.arm_key, s)] = arm.unit_cost * counts.get((arm.arm_key, s), 0)
            else:
                costs[(arm.arm_key, s)] = 0.0
    return costs
