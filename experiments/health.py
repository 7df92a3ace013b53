"""Health checks on an experiment, shown before any result: each is a count of users with what to do about it.

Every check is an SQL aggregate over the registry's facts (no per-user rows in Python), read by arm from the outcome
and delivery rows that carry their assignment (experiments/fact_source.py); a check that needs distinct users counts
them only where a cheaper aggregate cannot already tell the answer is 0:
- srm: arm sizes against the planned weights (chi-square, GrowthBook's p < 0.001 threshold);
- control_treated: control users who were sent a treatment (contamination of the baseline);
- cross_arm: treatment-arm users who were sent another arm's treatment;
- undelivered: users of a treatment arm with no delivery of their arm's treatment (per arm);
- no_outcome: assigned users with no outcome row at all, once outcomes exist;
- outside_cohort: users assigned although they are not in the target cohort;
- outcome_before_assignment: post-period outcomes observed before the user was assigned;
- opted_out: users who opted out after assignment (kept in their arm: intention to treat);
- programme_holdout: treatment-arm users who are in a programme's holdout (assigned before the programme existed, or
  by a path around the send gate): the programme's comparison loses them.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from experiments.bandit_weights import expected_shares
from experiments.db import RegistryLike, open_registry
from experiments.definitions import Experiment, get_experiment
from experiments.fact_source import FactSource, open_facts
from experiments.metrics import ALL, arm_counts, imported_sums
from experiments.programmes import holdout_ids
from stats.srm import SRM_THRESHOLD, srm

Status = Literal["ok", "warn", "fail", "not_checked"]
DELIVERY_RATE_WARNING = 0.9


@dataclass(frozen=True)
class HealthCheck:
    """One check: how many users it concerns, its status, what it means and what to do."""

    name: str
    title: str
    status: Status
    count: int
    message: str
    action: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HealthReport:
    """All checks of one experiment; `ok` when none warns or fails."""

    experiment_key: str
    checks: tuple[HealthCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.status in ("ok", "not_checked") for check in self.checks)

    @property
    def problems(self) -> tuple[HealthCheck, ...]:
        return tuple(check for check in self.checks if check.status in ("warn", "fail"))

    def check(self, name: str) -> HealthCheck:
        return next(check for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_key": self.experiment_key, "ok": self.ok, "checks": [c.to_dict() for c in self.checks]}


def health_checks(db: RegistryLike, key: str, *, facts: str | None = None) -> HealthReport:
    """Run every health check on experiment `key` (`facts`: where the SQL runs, experiments/fact_source.py)."""
    database = open_registry(db)
    experiment = get_experiment(key, database)
    with open_facts(database.conn, facts) as source:
        counts = _arm_counts(source, key)
        sent = _delivery_rows(source, key)
        off_arm = _off_arm(source, key, sent)
        post = _post_rows(source, key)
        checks = [_srm(counts, experiment, expected_shares(database, key)), _control_treated(off_arm),
                  _cross_arm(off_arm), _undelivered(source, key, experiment, counts, sent),
                  _no_outcome(source, key, counts, post), _outside_cohort(source, key, experiment.target_cohort),
                  _outcome_before_assignment(source, key, post), _opted_out(source, key),
                  _programme_holdout(database.conn, key)]
    return HealthReport(key, tuple(checks))


def _arm_counts(source: FactSource, key: str) -> dict[str, int]:
    return {arm: n for (arm, _), n in arm_counts(source, f"'{ALL}'", "", {"key": key}).items()}


def _post_rows(source: FactSource, key: str) -> dict[str, tuple[int, int]]:
    """Per metric: assigned users' post-period rows (one per user at most: the outcomes' key) and how many of them
    were observed before the assignment; the analysis's own query (experiments/metrics.py), so a command that checks
    and analyses reads the outcomes once."""
    out: dict[str, tuple[int, int]] = {}
    for (_, metric, _), sums in imported_sums(source, f"'{ALL}'", "", {"key": key}, False).items():
        n, early = out.get(metric, (0, 0))
        out[metric] = (n + int(sums[7]), early + int(sums[8]))
    return out


def _one(source: FactSource, sql: str, params: dict[str, object]) -> int:
    return int(source.rows(sql, params)[0][0] or 0)


def _srm(counts: dict[str, int], experiment: Experiment, bandit_shares: list[float] | None = None) -> HealthCheck:
    """Arm sizes against the weights (a bandit's: the shares its weight periods imply)."""
    observed = [counts.get(arm.key, 0) for arm in experiment.arms]
    total = sum(observed)
    title = "Sample ratio"
    if total == 0:
        return HealthCheck("srm", title, "not_checked", 0, "no users assigned yet",
                           "assign users with `winback experiment assign`")
    weights = bandit_shares or [arm.weight for arm in experiment.arms]
    p = srm(observed, weights)
    expected = [total * w / sum(weights) for w in weights]
    off = int(round(sum(abs(o - e) for o, e in zip(observed, expected)) / 2))
    detail = {"p_value": p, "observed": dict(zip([a.key for a in experiment.arms], observed)),
              "expected": dict(zip([a.key for a in experiment.arms], [round(e, 1) for e in expected]))}
    if p < SRM_THRESHOLD:
        return HealthCheck("srm", title, "fail", off,
                           f"sample ratio mismatch: p = {p:.2g}; about {off:,} users are not where the weights put them",
                           "find the assignment or logging fault before trusting any result", detail)
    return HealthCheck("srm", title, "ok", off, f"arm sizes fit the weights (p = {p:.3f})", "", detail)


def _delivery_rows(source: FactSource, key: str) -> dict[str, tuple[int, int]]:
    """Per arm, one pass over the deliveries: users sent the arm's own treatment (a user's first send of it counts,
    `repeat_send` in experiments/fact_copy.py, so users are counted without a DISTINCT over millions of user ids) and
    the rows of another treatment than the arm's."""
    return {arm: (int(own), int(off)) for arm, own, off in source.rows("""
        SELECT r.arm_key, TOTAL(CASE WHEN d.treatment_key = r.treatment_key AND d.repeat_send = 0 THEN 1 ELSE 0 END),
               TOTAL(CASE WHEN d.treatment_key IS DISTINCT FROM r.treatment_key THEN 1 ELSE 0 END)
        FROM arms r JOIN assigned_deliveries d ON d.experiment_key = r.experiment_key AND d.arm_key = r.arm_key
        WHERE r.experiment_key = :key GROUP BY r.arm_key""", {"key": key})}


def _off_arm(source: FactSource, key: str, sent: dict[str, tuple[int, int]]) -> dict[bool, int]:
    """Users of the control arm (True) and of the treatment arms (False) sent a treatment that is not their arm's
    (counted only when such rows exist)."""
    if not any(off for _, off in sent.values()):
        return {}
    rows = source.rows("""
        SELECT is_control, COUNT(*) FROM (
            SELECT DISTINCT r.is_control, d.user_id FROM assigned_deliveries d
            JOIN arms r ON r.experiment_key = d.experiment_key AND r.arm_key = d.arm_key
            WHERE d.experiment_key = :key AND d.treatment_key IS DISTINCT FROM r.treatment_key
        ) x GROUP BY is_control""", {"key": key})
    return {bool(control): int(n) for control, n in rows}


def _control_treated(off_arm: dict[bool, int]) -> HealthCheck:
    n = off_arm.get(True, 0)
    title = "Control users treated"
    if n:
        return HealthCheck("control_treated", title, "fail", n, f"{n:,} control users were sent a treatment",
                           "exclude them from the send list (export with `winback experiment assignments`); "
                           "the effect is underestimated")
    return HealthCheck("control_treated", title, "ok", 0, "no control user was sent a treatment")


def _cross_arm(off_arm: dict[bool, int]) -> HealthCheck:
    n = off_arm.get(False, 0)
    title = "Other arm's treatment"
    if n:
        return HealthCheck("cross_arm", title, "fail", n, f"{n:,} users were sent another arm's treatment",
                           "send each user only the treatment of their own arm (the assignments export has it)")
    return HealthCheck("cross_arm", title, "ok", 0, "every delivery matches the user's arm")


def _undelivered(source: FactSource, key: str, experiment: Experiment, counts: dict[str, int],
                 sent: dict[str, tuple[int, int]]) -> HealthCheck:
    delivered = {arm: own for arm, (own, _) in sent.items()}
    rows = [(arm.key, counts[arm.key], counts[arm.key] - int(delivered.get(arm.key, 0)))
            for arm in experiment.arms if not arm.is_control and counts.get(arm.key)]
    title = "Delivery rate"
    any_delivery = _one(source, "SELECT COUNT(*) FROM deliveries WHERE experiment_key = :key", {"key": key})
    if not any_delivery:
        return HealthCheck("undelivered", title, "not_checked", 0, "no deliveries imported yet",
                           "import what was sent with `winback import deliveries`")
    rates = {arm: (1 - undelivered / users if users else math.nan) for arm, users, undelivered in rows}
    missing = sum(int(undelivered) for _, _, undelivered in rows)
    text = ", ".join(f"{arm} {rate:.1%}" for arm, rate in rates.items())
    low = [arm for arm, rate in rates.items() if rate < DELIVERY_RATE_WARNING]
    if low:
        return HealthCheck("undelivered", title, "warn", missing,
                           f"{missing:,} treatment-arm users have no delivery of their treatment ({text})",
                           "check the send log; the analysis is intention-to-treat, so low delivery dilutes the effect",
                           {"delivery_rate": rates})
    return HealthCheck("undelivered", title, "ok", missing, f"delivery rate per arm: {text}", "",
                       {"delivery_rate": rates})


def _no_outcome(source: FactSource, key: str, counts: dict[str, int], post: dict[str, tuple[int, int]]) -> HealthCheck:
    title = "Users without outcomes"
    if not _one(source, "SELECT COUNT(*) FROM outcomes WHERE experiment_key = :key", {"key": key}):
        return HealthCheck("no_outcome", title, "not_checked", 0, "no outcomes imported yet",
                           "import them with `winback import outcomes`")
    if max((n for n, _ in post.values()), default=0) == sum(counts.values()):
        n = 0  # one metric alone has a post row for every assigned user
    else:
        n = _one(source, """
            SELECT COUNT(*) FROM assignments a WHERE a.experiment_key = :key AND a.user_id NOT IN (
                SELECT o.user_id FROM outcomes o WHERE o.experiment_key = :key AND o.period = 'post')""", {"key": key})
    if n:
        return HealthCheck("no_outcome", title, "warn", n, f"{n:,} assigned users have no outcome row for any metric",
                           "they count as 0 on every metric; import their outcomes if they are missing")
    return HealthCheck("no_outcome", title, "ok", 0, "every assigned user has an outcome row")


def _outside_cohort(source: FactSource, key: str, cohort: str | None) -> HealthCheck:
    title = "Outside the target cohort"
    if cohort is None:
        return HealthCheck("outside_cohort", title, "not_checked", 0, "the experiment has no target cohort")
    n = _one(source, """
        SELECT COUNT(*) FROM assignments a WHERE a.experiment_key = :key AND NOT EXISTS (
            SELECT 1 FROM cohorts c WHERE c.cohort_key = :cohort AND c.user_id = a.user_id AND c.version = COALESCE(
                (SELECT cohort_version FROM experiments WHERE key = :key),
                (SELECT MAX(version) FROM cohorts WHERE cohort_key = :cohort)))""", {"key": key, "cohort": cohort})
    if n:
        return HealthCheck("outside_cohort", title, "warn", n,
                           f"{n:,} assigned users are not in the target cohort '{cohort}'",
                           "they fall in segment '(none)'; assign from the cohort, or analyse without segments")
    return HealthCheck("outside_cohort", title, "ok", 0, f"every assigned user is in cohort '{cohort}'")


def _outcome_before_assignment(source: FactSource, key: str, post: dict[str, tuple[int, int]]) -> HealthCheck:
    n = 0
    if any(early for _, early in post.values()):
        n = _one(source, """
            SELECT COUNT(DISTINCT a.user_id) FROM assigned_outcomes a
            WHERE a.experiment_key = :key AND a.period = 'post' AND a.observed_at < a.assigned_at""", {"key": key})
    title = "Outcomes before assignment"
    if n:
        return HealthCheck("outcome_before_assignment", title, "fail", n,
                           f"{n:,} users have a post-period outcome observed before they were assigned",
                           "re-export outcomes measured after assignment (or mark them period 'pre')")
    return HealthCheck("outcome_before_assignment", title, "ok", 0, "every outcome was observed after assignment")


def _opted_out(source: FactSource, key: str) -> HealthCheck:
    rows = dict(source.rows("""
        SELECT a.arm_key, COUNT(*) FROM assignments a JOIN opt_outs o ON o.user_id = a.user_id
        WHERE a.experiment_key = :key GROUP BY a.arm_key""", {"key": key}))
    n = sum(rows.values())
    title = "Opted out after assignment"
    if n:
        return HealthCheck("opted_out", title, "warn", n,
                           f"{n:,} assigned users have since opted out ("
                           + ", ".join(f"{arm} {k}" for arm, k in rows.items()) + ")",
                           "they stay in their arm (intention to treat); send them nothing more", {"by_arm": rows})
    return HealthCheck("opted_out", title, "ok", 0, "no assigned user has opted out")


def _programme_holdout(conn: sqlite3.Connection, key: str) -> HealthCheck:
    """Treatment-arm users in any programme's holdout (hashed in numpy; the registry holds who is where)."""
    title = "Programme holdout"
    if not conn.execute("SELECT 1 FROM programmes LIMIT 1").fetchone():
        return HealthCheck("programme_holdout", title, "not_checked", 0, "no programme holds users out")
    treated = [r[0] for r in conn.execute(
        "SELECT a.user_id FROM assignments a JOIN arms r ON r.experiment_key = a.experiment_key "
        "AND r.arm_key = a.arm_key WHERE a.experiment_key = ? AND r.is_control = 0", (key,))]
    held = holdout_ids(conn, treated)
    if held:
        return HealthCheck("programme_holdout", title, "warn", len(held),
                           f"{len(held):,} treatment-arm users are in a programme's holdout",
                           "send them nothing (the send gate already leaves them out of new send lists); "
                           "the programme report counts them as contamination", {"users": sorted(held)[:20]})
    return HealthCheck("programme_holdout", title, "ok", 0, "no treatment-arm user is in a programme's holdout")
