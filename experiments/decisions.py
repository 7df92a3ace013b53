"""Choosing and defending a winner: which arm the evidence favours, and what blocks declaring an arm the winner."""
from __future__ import annotations

import math
from dataclasses import dataclass

from experiments.analysis import ExperimentReport, MetricResult


@dataclass(frozen=True)
class Recommendation:
    """The arm the evidence favours and why; `blocked` says what stopped each other arm."""

    winner_arm: str
    rationale: str
    blocked: tuple[str, ...]


@dataclass(frozen=True)
class WinnerAdvice:
    """What a strategy page shows beside an analysis: the recommended winner and why, what stopped the other arms,
    and per arm what would make declaring it the winner need an override (an empty list: nothing)."""

    winner_arm: str
    rationale: str
    blocked: tuple[str, ...]
    blockers: dict[str, list[str]]

    @property
    def winner_blockers(self) -> list[str]:
        """What blocks the recommended arm itself (under a sample ratio mismatch even control needs an override)."""
        return self.blockers.get(self.winner_arm, [])


def advise(report: ExperimentReport) -> WinnerAdvice:
    """`recommend_winner` and `decision_blockers` of every arm, in one result."""
    recommendation = recommend_winner(report)
    return WinnerAdvice(recommendation.winner_arm, recommendation.rationale, recommendation.blocked,
                        {arm.arm_key: decision_blockers(report, arm.arm_key) for arm in report.arms})


def decision_blockers(report: ExperimentReport, winner_arm: str) -> list[str]:
    """Why declaring `winner_arm` the winner needs an override: a sample ratio mismatch (every arm's numbers are
    suspect) or a guardrail the arm fails. Empty when nothing blocks it."""
    blockers = []
    if report.srm_flagged:
        blockers.append(f"sample ratio mismatch (p = {report.srm_p_value:.2g}): arm sizes do not fit the planned "
                        "weights, so no result can be trusted")
    failed = [r.metric for r in report.results if r.arm_key == winner_arm and r.guardrail == "fail"]
    if failed:
        blockers.append(f"arm '{winner_arm}' fails guardrail(s) {', '.join(failed)}")
    return blockers


def _lifts(report: ExperimentReport, primary: MetricResult) -> bool:
    """Significant by the report's own method: Holm-adjusted p below alpha, or (Bayesian) chance to win ≥ 1 − alpha."""
    if report.method == "bayesian":
        return primary.comparison.chance_to_win >= 1.0 - report.alpha
    return primary.p_holm < report.alpha


def recommend_winner(report: ExperimentReport) -> Recommendation:
    """The arm with the best ROI among those that lift the primary metric significantly (Holm), fail no guardrail
    and pay (ROI > 0); control when none does, saying what stopped each arm.

    A Bayesian read has no p-value: there an arm lifts when its chance to beat control is at least 1 − alpha
    (95 % by default, GrowthBook's threshold for a winner).
    """
    candidates, blocked = [], []
    for money in report.economics:
        primary = report.result(money.arm_key, report.primary_metric)
        failed = [r.metric for r in report.results if r.arm_key == money.arm_key and r.guardrail == "fail"]
        roi = money.economics.roi
        if not (_lifts(report, primary) and primary.comparison.effect > 0):
            blocked.append(f"{money.arm_key} no significant lift")
        elif failed:
            blocked.append(f"{money.arm_key} worsens {', '.join(failed)}")
        elif not roi > 0:
            blocked.append(f"{money.arm_key} ROI " + ("undefined (no value per retained user)" if math.isnan(roi)
                                                      else f"{roi:+.0%}"))
        else:
            candidates.append((roi, money.arm_key, money.economics, primary))
    if not candidates:
        control = next(a.arm_key for a in report.arms if a.is_control)
        return Recommendation(control, "keep control: no treatment both pays and is safe ("
                              + ("; ".join(blocked) or "no treatment arm has a money view") + ")", tuple(blocked))
    roi, arm, economics, primary = max(candidates, key=lambda c: (c[0], c[1]))
    evidence = (f"chance to win {primary.comparison.chance_to_win:.1%}" if report.method == "bayesian"
                else f"Holm p = {primary.p_holm:.2g}")
    return Recommendation(arm, f"retention {primary.comparison.effect:+.1%} relative ({evidence}), "
                          f"{economics.cost_per_retained:,.2f} per incremental retained user, ROI {roi:+.0%}",
                          tuple(blocked))
