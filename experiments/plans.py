"""Targeting plans in the registry, and what an uplift model learns from an experiment.

A plan (who gets which treatment) is recorded as a running experiment so its effect can be analysed
like any other: users the plan treats are assigned to an arm named after their catalog treatment,
and a random share of them, drawn within each treatment, is kept untreated in the `holdout` arm,
the control. `plan_users` keeps, for every user, the treatment the plan chose (also for held-out
users), so the effect can be read per treatment against its own held-out users.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_experiment_key

if TYPE_CHECKING:
    from experiments.analysis import ExperimentReport

HOLDOUT_ARM = "holdout"


@dataclass(frozen=True)
class TrainingRows:
    """An experiment's users for uplift fitting: user_id, arm (treatment key, or the control arm), assigned_at, outcome."""

    key: str
    primary_metric: str
    control: str
    weights: dict[str, float]  # by treatment key (control by its arm key): the known assignment shares
    rows: pd.DataFrame = field(repr=False)


def experiment_training_rows(db: RegistryLike, key: str) -> TrainingRows:
    """Assignments joined with the primary metric's post-period outcome (missing counts as 0, as in the analysis)."""
    database = open_registry(db)
    found = database.execute("SELECT primary_metric FROM experiments WHERE key = ?", (key,)).fetchone()
    if found is None:
        known = [r[0] for r in database.execute("SELECT key FROM experiments ORDER BY key")]
        raise ExperimentError(f"unknown experiment '{key}'; known: {', '.join(known) or 'none'}")
    metric = found[0]
    arms = database.execute(
        "SELECT arm_key, treatment_key, weight, is_control FROM arms WHERE experiment_key = ? ORDER BY position", (key,)
    ).fetchall()
    control = next(a for a, _, _, c in arms if c)
    names = {a: (a if c else t) for a, t, _, c in arms}
    treated = [names[a] for a, _, _, c in arms if not c]
    if len(set(treated)) != len(treated):
        raise ExperimentError(f"experiment '{key}': two arms give the same treatment; uplift needs one arm per treatment")
    rows = pd.read_sql_query(
        "SELECT a.user_id, a.arm_key, a.assigned_at, COALESCE(o.value, 0.0) AS outcome FROM assignments a "
        "LEFT JOIN outcomes o ON o.experiment_key = a.experiment_key AND o.user_id = a.user_id "
        "AND o.metric = ? AND o.period = 'post' WHERE a.experiment_key = ? ORDER BY a.user_id",
        database.conn, params=(metric, key), dtype={"user_id": "str"})
    if rows.empty:
        raise ExperimentError(f"experiment '{key}' has no assigned users to learn from")
    observed = database.execute(
        "SELECT COUNT(*) FROM outcomes WHERE experiment_key = ? AND metric = ? AND period = 'post'", (key, metric)
    ).fetchone()[0]
    if observed == 0:
        raise ExperimentError(f"experiment '{key}' has no outcomes of its primary metric '{metric}'; import them first")
    rows["arm"] = rows["arm_key"].map(names)
    weights = {names[a]: float(w) for a, _, w, _ in arms}
    return TrainingRows(key, metric, control, weights, rows)


def excluded_treatments(db: RegistryLike, key: str, allow: Iterable[str] = ()) -> dict[str, list[str]]:
    """The treatments a plan from experiment `key` leaves out: those that failed a guardrail there, less `allow`."""
    allowed = set(allow)
    return {k: v for k, v in failed_guardrails(db, key).items() if k not in allowed}


def failed_guardrails(db: RegistryLike, key: str) -> dict[str, list[str]]:
    """Treatment key -> guardrail metrics on which its arm failed (interval wholly on the bad side) in `key`."""
    from experiments.analysis import analyze_experiment

    return guardrail_failures(analyze_experiment(key, open_registry(db)))


def guardrail_failures(report: ExperimentReport) -> dict[str, list[str]]:
    """Treatment key -> guardrail metrics its arm failed, from an analysis already made (`ExperimentReport`)."""
    by_arm = {a.arm_key: a.treatment_key for a in report.arms}
    out: dict[str, list[str]] = {}
    for result in report.results:
        treatment = by_arm.get(result.arm_key)
        if result.guardrail == "fail" and treatment:
            out.setdefault(treatment, []).append(result.metric)
    return out


@dataclass(frozen=True)
class PlanRecord:
    """A recorded plan: its experiment key, where it came from and how many users each arm holds."""

    key: str
    source_experiment: str | None
    model: str | None
    objective: str
    budget: float
    holdout: float
    seed: int
    arms: dict[str, int]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_plans(db: RegistryLike) -> list[PlanRecord]:
    """Every recorded budget plan, newest first, with its users per arm."""
    database = open_registry(db)
    counts: dict[str, dict[str, int]] = {}
    for key, arm, n in database.execute("SELECT plan_key, arm_key, COUNT(*) FROM plan_users GROUP BY 1, 2"):
        counts.setdefault(key, {})[arm] = n
    rows = database.execute("SELECT key, source_experiment, model, objective, budget, holdout, seed, summary "
                            "FROM plans ORDER BY created_at DESC, key").fetchall()
    return [PlanRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], counts.get(r[0], {}), json.loads(r[7] or "{}"))
            for r in rows]


def holdout_draw(plan: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """True for treated users kept untreated: a random `fraction` within each treatment (exact counts, rounded)."""
    if not 0 <= fraction < 1:
        raise ExperimentError(f"--holdout must be at least 0 and below 1, got {fraction}")
    rng = np.random.default_rng(seed)
    held = np.zeros(len(plan), dtype=bool)
    treated = plan["treatment_key"].to_numpy(dtype=object)
    for key in pd.unique(treated[pd.notna(treated)]):
        rows = np.flatnonzero(treated == key)
        held[rng.permutation(rows)[: round(fraction * len(rows))]] = True
    return held


def check_plan_key(db: RegistryLike, key: str) -> None:
    """Refuse a plan key that an experiment or plan already uses: checked before a plan is made and written, so a
    taken key costs nothing (and leaves no send list behind that the registry does not know)."""
    database = open_registry(db)
    if database.execute("SELECT 1 FROM experiments WHERE key = ?", (key,)).fetchone():
        raise ExperimentError(f"an experiment or plan named '{key}' already exists; choose another key")


def record_plan(
    db: RegistryLike,
    key: str,
    plan: pd.DataFrame,
    *,
    primary_metric: str,
    objective: str,
    budget: float,
    holdout: float,
    seed: int,
    source_experiment: str | None = None,
    model: str | None = None,
    summary: dict[str, Any] | None = None,
    actor: str | None = None,
) -> PlanRecord:
    """Store a plan (user_id, treatment_key or None, arm, expected_uplift, cost) as a running experiment, atomically."""
    database = open_registry(db)
    check_experiment_key(key, "plan key")
    chosen = plan[plan["treatment_key"].notna()]
    if chosen.empty:
        raise ExperimentError(f"plan '{key}' treats nobody; there is nothing to record")
    check_plan_key(database, key)
    catalog = {r[0] for r in database.execute("SELECT key FROM treatments")}
    unknown = sorted(set(chosen["treatment_key"]) - catalog)
    if unknown:
        raise ExperimentError(f"plan '{key}' gives treatment(s) {', '.join(unknown)} that are not in the catalog; "
                              "add them with `winback treatment add` first")
    counts = chosen["arm"].value_counts().to_dict()
    arms = [(HOLDOUT_ARM, None, 1)] + [(t, t, 0) for t in sorted(set(chosen["treatment_key"]))]
    now = utc_now()
    with transaction(database) as conn:
        conn.execute(
            "INSERT INTO experiments (key, name, hypothesis, primary_metric, layer, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, 'draft', ?)",
            (key, f"plan {key}", f"targeting plan from model {model or '-'}", primary_metric, f"plan:{key}", now))
        for position, (arm, treatment, is_control) in enumerate(arms):
            weight = max(int(counts.get(arm, 0)), 1) / len(chosen)
            conn.execute("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (key, arm, position, treatment, weight, is_control))
        conn.execute("UPDATE arms SET unit_cost = (SELECT unit_cost FROM treatments t WHERE t.key = arms.treatment_key) "
                     "WHERE experiment_key = ?", (key,))
        conn.execute("UPDATE experiments SET status = 'running', started_at = ? WHERE key = ?", (now, key))
        conn.executemany("INSERT INTO assignments (experiment_key, user_id, arm_key, assigned_at) VALUES (?, ?, ?, ?)",
                         ((key, str(u), a, now) for u, a in zip(chosen["user_id"], chosen["arm"])))
        conn.execute("INSERT INTO plans (key, source_experiment, model, objective, budget, holdout, seed, summary, "
                     "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (key, source_experiment, model, objective, budget, holdout, seed,
                      json.dumps(summary or {}, default=float), now))
        conn.executemany("INSERT INTO plan_users (plan_key, user_id, arm_key, treatment_key, expected_uplift, cost) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         ((key, str(u), a, t, float(e), float(c)) for u, a, t, e, c in zip(
                             chosen["user_id"], chosen["arm"], chosen["treatment_key"], chosen["expected_uplift"],
                             chosen["cost"])))
        audit(conn, "record_plan", "experiment", key,
              json.dumps({"source_experiment": source_experiment, "model": model, "arms": counts, "holdout": holdout}),
              actor)
    return PlanRecord(key, source_experiment, model, objective, budget, holdout, seed,
                      {str(k): int(v) for k, v in counts.items()}, summary or {})


@dataclass(frozen=True)
class PlanEffect:
    """One planned treatment: its treated users against the users held out from the same treatment."""

    treatment_key: str
    metric: str
    n_treated: int
    n_holdout: int
    mean_treated: float
    mean_holdout: float
    effect: float  # absolute difference, treated minus held out
    ci_low: float
    ci_high: float
    p_value: float
    expected_uplift: float  # what the plan predicted per treated user (mean calibrated uplift)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_effects(db: RegistryLike, key: str, metric: str | None = None) -> list[PlanEffect]:
    """Per planned treatment, the measured effect against its own holdout (sufficient statistics by SQL GROUP BY)."""
    from stats import Moments, compare

    database = open_registry(db)
    found = database.execute("SELECT primary_metric FROM experiments e JOIN plans p ON p.key = e.key WHERE e.key = ?",
                             (key,)).fetchone()
    if found is None:
        raise ExperimentError(f"no recorded plan '{key}'")
    metric = metric or found[0]
    rows = database.execute(
        "SELECT u.treatment_key, u.arm_key = ? AS held, COUNT(*), SUM(COALESCE(o.value, 0)), "
        "SUM(COALESCE(o.value, 0) * COALESCE(o.value, 0)), AVG(u.expected_uplift) FROM plan_users u "
        "LEFT JOIN outcomes o ON o.experiment_key = u.plan_key AND o.user_id = u.user_id AND o.metric = ? "
        "AND o.period = 'post' WHERE u.plan_key = ? GROUP BY u.treatment_key, held ORDER BY u.treatment_key",
        (HOLDOUT_ARM, metric, key)).fetchall()
    cells = {(t, bool(h)): (n, s, ss, e) for t, h, n, s, ss, e in rows}
    out = []
    for treatment in sorted({t for t, _ in cells}):
        if (treatment, True) not in cells or (treatment, False) not in cells:
            continue
        (n_h, s_h, ss_h, _), (n_t, s_t, ss_t, e_t) = cells[(treatment, True)], cells[(treatment, False)]
        c = compare(Moments(n_h, s_h, ss_h), Moments(n_t, s_t, ss_t), relative=False)
        out.append(PlanEffect(treatment, metric, n_t, n_h, c.mean_treatment, c.mean_control, c.effect, c.ci_low,
                              c.ci_high, c.p_value, float(e_t)))
    return out
