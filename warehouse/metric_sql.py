"""Sufficient statistics computed inside the warehouse engine, in SQL written once for DuckDB and Spark.

Two sources per arm × metric × segment, in the registry's layout (experiments/metrics.py):
(post sum, post sum of squares, pre sum, pre sum of squares, post × pre sum, users with a pre value,
users with a value other than 0 or 1).
- event metrics: a value per assigned user from the behaviour events in the window after assignment
  ('any' → 1 if such an event, 'count' → how many, 'amount' → their summed amount); the pre-period value
  is the same over the window before assignment;
- imported outcomes exported to the warehouse, reduced exactly as the registry reduces them.
The experiment's assignments (user, arm, segment, assigned_at) are exported beside the events first.
"""
from __future__ import annotations

from warehouse.dialect import Dialect

ASSIGNMENTS = "winback_assignments"  # user_id, arm_key, segment, assigned_at (TIMESTAMP)
OUTCOMES = "winback_outcomes"  # user_id, metric, period ('pre' / 'post'), value
DEFINITIONS = "winback_metric_events"  # metric, event_type, value_kind ('any' / 'count' / 'amount'), window_days


def _stats(pre_period: bool) -> str:
    """The GROUP BY columns over per-user `post` / `pre` values (pre fields 0 without a pre period)."""
    zero = "CAST(0 AS DOUBLE)"
    pre = ("SUM(pre) AS pre, SUM(pre * pre) AS pre2, SUM(post * pre) AS cross_sum, SUM(has_pre) AS has_pre"
           if pre_period else f"{zero} AS pre, {zero} AS pre2, {zero} AS cross_sum, {zero} AS has_pre")
    return (f"SUM(post) AS post, SUM(post * post) AS post2, {pre}, "
            "SUM(CASE WHEN post NOT IN (0, 1) OR pre NOT IN (0, 1) THEN 1 ELSE 0 END) AS non_binary")


def outcome_sums_sql(pre_period: bool) -> str:
    """Imported outcomes → sums per arm × metric × segment (a user without a row counts as 0)."""
    periods = "" if pre_period else "WHERE period = 'post'"
    return f"""
WITH u AS (
  SELECT user_id, metric,
    SUM(CASE WHEN period = 'post' THEN value ELSE 0 END) AS post,
    SUM(CASE WHEN period = 'pre' THEN value ELSE 0 END) AS pre,
    MAX(CASE WHEN period = 'pre' THEN 1 ELSE 0 END) AS has_pre
  FROM {OUTCOMES} {periods}
  GROUP BY user_id, metric
)
SELECT a.arm_key, u.metric, a.segment, {_stats(pre_period)}
FROM u JOIN {ASSIGNMENTS} a ON a.user_id = u.user_id
GROUP BY a.arm_key, u.metric, a.segment
"""


def event_sums_sql(dialect: Dialect, pre_period: bool) -> str:
    """Event metrics → sums per arm × metric × segment over every assigned user (0 without events)."""
    offset = dialect.days_between("a.assigned_at", "e.ts")  # days from assignment to the event
    one, zero = "CAST(1 AS DOUBLE)", "CAST(0 AS DOUBLE)"
    lower = "-d.window_days" if pre_period else "0"

    def value(side: str) -> str:
        return (f"CASE d.value_kind WHEN 'any' THEN CASE WHEN COUNT(CASE WHEN {side} THEN 1 END) > 0 THEN {one} "
                f"ELSE {zero} END WHEN 'count' THEN CAST(COUNT(CASE WHEN {side} THEN 1 END) AS DOUBLE) "
                f"ELSE COALESCE(SUM(CASE WHEN {side} THEN e.amount END), {zero}) END")

    return f"""
WITH u AS (
  SELECT a.arm_key, a.segment, d.metric,
    {value("e.ts >= a.assigned_at")} AS post,
    {value("e.ts < a.assigned_at")} AS pre,
    {1 if pre_period else 0} AS has_pre
  FROM {ASSIGNMENTS} a CROSS JOIN {DEFINITIONS} d
  LEFT JOIN events e ON e.user_id = a.user_id AND e.event_type = d.event_type
    AND {offset} >= {lower} AND {offset} < d.window_days
  GROUP BY a.user_id, a.arm_key, a.segment, d.metric, d.value_kind
)
SELECT arm_key, metric, segment, {_stats(pre_period)}
FROM u GROUP BY arm_key, metric, segment
"""
