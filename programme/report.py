"""The programme report: churn by value tier, programme against holdout, cycle by cycle and cumulatively, against
the plan's targets (`stats.programme_effect` does the statistics; `programme.population` supplies the counts)."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from experiments.db import open_registry
from experiments.programmes import Programme, get_programme, in_holdout
from programme.cycles import list_cycles
from programme.population import GROUPS, population_outcomes
from stats.programme_effect import GroupTotals, ProgrammeEffect, programme_effect
from warehouse.engine import Warehouse

TIERS = ("high", "regular")


@dataclass(frozen=True)
class ProgrammeReport:
    """Cumulative per-tier effects (`tiers`, `overall`), the same per cycle (`cycles`) and per tier × lifecycle stage
    (`stages`), holdout users some send list reached anyway (`holdout_sent`), and what is still pending."""

    programme: str
    tiers: list[dict[str, Any]]
    overall: dict[str, Any]
    cycles: list[dict[str, Any]]
    matured_users: int
    pending_users: int
    notes: tuple[str, ...] = ()
    stages: list[dict[str, Any]] = field(default_factory=list)
    holdout_sent: int = 0
    effect: ProgrammeEffect | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("effect")
        return out


def _totals(frame: pd.DataFrame, group: str) -> GroupTotals:
    part = frame[frame["group"] == group]
    return GroupTotals(int(len(part)), int(part["churned"].sum()), float(part["spend"].sum()),
                       float((part["spend"] ** 2).sum()))


def _spend(db: str | os.PathLike[str] | None, programme: Programme, users: pd.DataFrame) -> dict[str, float]:
    """What the cycles' send lists cost per tier (catalog unit costs of the treatments sent)."""
    database = open_registry(db)
    sent = pd.read_sql_query(
        "SELECT s.user_id, COALESCE(t.unit_cost, 0) AS cost FROM cycle_sends s LEFT JOIN treatments t "
        "ON t.key = s.treatment_key WHERE s.programme = ?", database.conn, params=(programme.name,),
        dtype={"user_id": str})
    tiers = users.set_index("user_id")["tier"]
    sent["tier"] = sent["user_id"].map(tiers).fillna("regular")
    return {tier: float(sent.loc[sent["tier"] == tier, "cost"].sum()) for tier in TIERS}


def cycle_spend(db: str | os.PathLike[str] | None, name: str) -> dict[int, float]:
    """What each cycle's send list cost (catalog unit costs), by cycle number: finance's spend against budget."""
    database = open_registry(db)
    return {int(n): float(c) for n, c in database.execute(
        "SELECT s.number, SUM(COALESCE(t.unit_cost, 0)) FROM cycle_sends s LEFT JOIN treatments t "
        "ON t.key = s.treatment_key WHERE s.programme = ? GROUP BY s.number", (name,))}


def holdout_sent(db: str | os.PathLike[str] | None, programme: Programme) -> int:
    """Holdout users that a send list reached anyway: a treatment arm of any experiment or plan (plans are recorded
    as experiments), or a delivery (assigned before the programme existed, or sent around the send gate). The comparison loses them."""
    database = open_registry(db)
    reached = [r[0] for r in database.execute(
        "SELECT a.user_id FROM assignments a JOIN arms r ON r.experiment_key = a.experiment_key "
        "AND r.arm_key = a.arm_key WHERE r.is_control = 0 "
        "UNION SELECT user_id FROM deliveries")]
    return int(in_holdout(programme, reached).sum())


def _stages(matured: pd.DataFrame, programme: Programme) -> list[dict[str, Any]]:
    """The effect per value tier × lifecycle stage at first flagging (no targets: the plan sets them per tier)."""
    rows: list[dict[str, Any]] = []
    for (tier, stage), part in matured.groupby(["tier", "stage"], sort=True):
        if set(GROUPS) <= set(part["group"]):
            one = programme_effect({f"{tier}/{stage}": (_totals(part, "programme"), _totals(part, "holdout"))},
                                   ltv_target=programme.ltv_target)
            rows.append({**one.tiers[0].to_dict(), "value_tier": tier, "stage": stage})
    return rows


def _effect(frame: pd.DataFrame, programme: Programme, spend: dict[str, float] | None) -> ProgrammeEffect:
    groups = {tier: (_totals(frame[frame["tier"] == tier], "programme"), _totals(frame[frame["tier"] == tier],
                                                                                  "holdout")) for tier in TIERS}
    return programme_effect(groups, targets={t: v for t, v in programme.targets.items() if t in TIERS},
                            ltv_target=programme.ltv_target, spend=spend,
                            value_per_retained=programme.value_per_retained or None)


def programme_report(db: str | os.PathLike[str] | None, name: str,
                     warehouse: str | os.PathLike[str] | Warehouse | None = None) -> ProgrammeReport:
    """The report of programme `name` over its finished cycles whose churn horizon has passed."""
    programme = get_programme(db, name)
    outcomes = population_outcomes(db, programme, warehouse)
    matured = outcomes[outcomes["matured"]] if len(outcomes) else outcomes
    notes: list[str] = []
    pending = int(len(outcomes) - len(matured))
    if pending:
        notes.append(f"{pending:,} flagged users are within their {programme.horizon_days}-day horizon: they count "
                     "once the events after it are loaded")
    if matured.empty or not set(GROUPS) <= set(matured["group"]):
        notes.append("no matured users in both the programme and its holdout yet: nothing to compare")
        return ProgrammeReport(name, [], {}, [], int(len(matured)), pending, tuple(notes))
    contaminated = holdout_sent(db, programme)
    if contaminated:
        notes.append(f"{contaminated:,} holdout users were reached by a send list anyway (assigned before the "
                     "programme existed, or sent around the send gate): the comparison understates the effect")
    effect = _effect(matured, programme, _spend(db, programme, outcomes))
    for tier in effect.tiers:
        if tier.target == tier.target and tier.detectable_reduction > tier.target:
            notes.append(f"tier {tier.tier}: at 80% power {tier.users_programme:,} programme and {tier.users_holdout:,} "
                         f"holdout users show reductions of {tier.detectable_reduction:.0%} or more, so the "
                         f"−{tier.target:.0%} target cannot be shown yet: a larger holdout share or more cycles would")
    cycles = []
    info = {c["number"]: c for c in list_cycles(db, name)}
    spent = cycle_spend(db, name)
    for number in sorted(int(n) for n in matured["cycle"].unique()):
        part = matured[matured["cycle"] == number]
        if set(GROUPS) <= set(part["group"]):
            one = _effect(part, programme, None)
            cycles.append({"number": number, "as_of": info.get(number, {}).get("as_of"),
                           "sent": info.get(number, {}).get("sent", 0), "spend": spent.get(number, 0.0),
                           "budget": programme.budget_per_cycle or None,
                           "tiers": [t.to_dict() for t in one.tiers], "overall": one.overall.to_dict()})
    return ProgrammeReport(name, [t.to_dict() for t in effect.tiers], effect.overall.to_dict(), cycles,
                           int(len(matured)), pending, tuple(notes), _stages(matured, programme), contaminated, effect)


REPORT_COLUMNS = ("scope", "cycle", "as_of", "tier", "value_tier", "stage", "users_programme", "users_holdout", "churn_programme",
                  "churn_holdout", "reduction", "ci_low", "ci_high", "target", "verdict", "ltv_change", "ltv_ci_low",
                  "ltv_ci_high", "ltv_target", "ltv_verdict", "incremental_retained", "spend", "cost_per_retained",
                  "reason")


def report_frame(report: ProgrammeReport) -> pd.DataFrame:
    """One flat row per scope (cumulative, or a cycle) × tier: what finance opens in a spreadsheet."""
    rows = [{"scope": "cumulative", "cycle": None, "as_of": None, **t} for t in [*report.tiers, report.overall] if t]
    for cycle in report.cycles:
        rows += [{"scope": "cycle", "cycle": cycle["number"], "as_of": cycle["as_of"], **t}
                 for t in [*cycle["tiers"], cycle["overall"]]]
    rows += [{"scope": "stage", "cycle": None, "as_of": None, **t} for t in report.stages]
    return pd.DataFrame(rows).reindex(columns=list(REPORT_COLUMNS))
