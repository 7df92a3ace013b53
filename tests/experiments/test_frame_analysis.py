"""A plain DataFrame of per-user outcomes gives the same report as the registry holding the same users."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import analyze_experiment
from experiments.errors import ExperimentError
from experiments.frame_analysis import analyze_frame
from tests.experiments.seeded_registry import ARMS, seed_registry


def users_frame(users) -> pd.DataFrame:
    return pd.DataFrame({"user_id": users.ids, "arm": np.asarray([ARMS[a][0] for a in users.arm]), "retained": users.retained,
                         "unsubscribed": users.unsubscribed, "revenue": users.revenue,
                         "revenue_pre": users.revenue_pre, "stage": users.stage,
                         "cost": np.where(users.delivered, 2.0, 0.0)})


@pytest.mark.parametrize("method", ["ttest", "sequential", "bayesian"])
def test_frame_and_registry_agree(tmp_path, method):
    db = tmp_path / "r.db"
    users = seed_registry(db)
    registry = analyze_experiment("exp1", db, method=method, cuped=True, value_per_retained=30)
    frame = analyze_frame(users_frame(users), metrics={"retained": "binary", "unsubscribed": "binary",
                                                       "revenue": "continuous"},
                          guardrails=["unsubscribed"], lower_is_better=["unsubscribed"], cost="cost",
                          weights={"control": 0.5, "coupon": 0.25, "email": 0.25}, method=method, cuped=True,
                          value_per_retained=30)
    for r in registry.results:
        f = frame.result(r.arm_key, r.metric)
        for field in ("effect", "ci_low", "ci_high", "p_value", "chance_to_win"):
            assert getattr(f.comparison, field) == pytest.approx(getattr(r.comparison, field), rel=1e-9, nan_ok=True)
        assert f.p_holm == pytest.approx(r.p_holm, rel=1e-9, nan_ok=True) and f.guardrail == r.guardrail
    assert frame.srm_p_value == pytest.approx(registry.srm_p_value)
    coupon = next(e for e in frame.economics if e.arm_key == "coupon").economics
    assert coupon.cost_per_retained == pytest.approx(
        next(e for e in registry.economics if e.arm_key == "coupon").economics.cost_per_retained)
    table = frame.to_frame()
    assert len(table) == 6 and set(table["metric"]) == {"retained", "unsubscribed", "revenue"}


def test_segments_and_bad_frames(tmp_path):
    users = seed_registry(tmp_path / "r.db")
    frame = users_frame(users)
    report = analyze_frame(frame, metrics={"retained": "binary"}, segment="stage")
    assert {s.segment for s in report.segments} == set(np.unique(users.stage))
    with pytest.raises(ExperimentError, match="no control arm 'ctrl' in column 'arm'"):
        analyze_frame(frame, metrics={"retained": "binary"}, control="ctrl")
    with pytest.raises(ExperimentError, match="metric 'revenue' is binary but has values other than 0 and 1"):
        analyze_frame(frame, metrics={"revenue": "binary"})
    with pytest.raises(ExperimentError, match="the frame has no column"):
        analyze_frame(frame, metrics={"orders": "continuous"})


def test_the_recommendation_reads_a_bayesian_report_by_its_chance_to_win():
    """A Bayesian read has no p-values; its winner is the arm whose chance to beat control is at least 95 %."""
    from experiments.decisions import recommend_winner

    rng = np.random.default_rng(5)
    arms = np.repeat(["control", "coupon", "email"], 4_000)
    lift = {"control": 0.30, "coupon": 0.36, "email": 0.30}  # coupon: +6 points, email: none
    frame = pd.DataFrame({"user_id": np.arange(arms.size), "arm": arms, "retained": (rng.random(arms.size) < np.vectorize(lift.get)(arms)).astype(int),
                          "cost": np.where(arms == "control", 0.0, 1.0)})
    for method, evidence in (("ttest", "Holm p = "), ("bayesian", "chance to win ")):
        report = analyze_frame(frame, metrics={"retained": "binary"}, cost="cost", value_per_retained=50,
                               method=method)
        advice = recommend_winner(report)
        assert advice.winner_arm == "coupon" and evidence in advice.rationale, (method, advice)
        assert "email no significant lift" in advice.blocked
        if method == "bayesian":
            coupon = report.result("coupon", "retained").comparison
            assert coupon.chance_to_win >= 0.95 and f"chance to win {coupon.chance_to_win:.1%}" in advice.rationale
