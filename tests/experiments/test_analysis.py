"""experiments.analysis: the report on a seeded registry, checked against stats/ called on numpy sums."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from seeded_registry import seed_registry

from experiments.analysis import analyze_experiment
from experiments.db import open_registry
from experiments.errors import ExperimentError
from stats import Moments, adjust_p_values, compare


@pytest.fixture
def registry(tmp_path: Path):
    path = tmp_path / "r.db"
    return path, seed_registry(path, n=6000, lift=0.08)


def test_report_matches_stats_on_raw_sums(registry) -> None:
    path, users = registry
    report = analyze_experiment("exp1", path)
    control, coupon = users.arm == 0, users.arm == 1
    # expected: stats.compare on sums taken by numpy from the same users
    expected = compare(Moments(control.sum(), users.retained[control].sum()),
                       Moments(coupon.sum(), users.retained[coupon].sum()))
    got = report.result("coupon", "retained").comparison
    assert got.effect == pytest.approx(expected.effect) and got.p_value == pytest.approx(expected.p_value)
    assert [a.n for a in report.arms] == [int((users.arm == i).sum()) for i in range(3)]
    # Holm / BH over all 2 arms x 3 metrics, in report order
    p = [r.comparison.p_value for r in report.results]
    assert [r.p_holm for r in report.results] == pytest.approx(adjust_p_values(p, "holm"))
    assert [r.p_bh for r in report.results] == pytest.approx(adjust_p_values(p, "bh"))
    assert report.result("coupon", "retained").role == "primary"
    assert report.result("coupon", "unsubscribed").guardrail in {"fail", "warn"}  # doubled unsubscribe rate
    assert report.result("coupon", "revenue").guardrail is None
    assert not report.srm_flagged and report.srm_p_value > 0.001


def test_cost_per_retained_user_and_roi(registry) -> None:
    path, users = registry
    report = analyze_experiment("exp1", path, value_per_retained=80.0)
    money = {m.arm_key: m.economics for m in report.economics}["coupon"]
    control, coupon = users.arm == 0, users.arm == 1
    uplift = users.retained[coupon].mean() - users.retained[control].mean()
    cost = 2.0 * users.delivered.sum()
    # definitions in stats/money.py: cost / (n_t x uplift); ROI = (value x n_t x uplift - cost) / cost
    assert money.cost_per_retained == pytest.approx(cost / (coupon.sum() * uplift))
    assert money.roi == pytest.approx((80.0 * coupon.sum() * uplift - cost) / cost)
    assert money.cost_per_retained_ci_low < money.cost_per_retained < money.cost_per_retained_ci_high


def test_value_per_retained_from_environment(registry, monkeypatch) -> None:
    path, _ = registry
    monkeypatch.setenv("WINBACK_VALUE_PER_RETAINED", "80")
    assert analyze_experiment("exp1", path).value_per_retained == 80.0
    monkeypatch.setenv("WINBACK_VALUE_PER_RETAINED", "lots")
    with pytest.raises(ExperimentError, match="WINBACK_VALUE_PER_RETAINED must be a number"):
        analyze_experiment("exp1", path)


def test_without_value_margin_is_nan_with_reason(registry) -> None:
    path, _ = registry
    money = analyze_experiment("exp1", path).economics[0].economics
    assert math.isnan(money.roi) and "no value per retained user given" in money.reason


def test_segments_cuped_and_methods(registry) -> None:
    path, users = registry
    report = analyze_experiment("exp1", path, segment_by="stage", cuped=True, method="bayesian")
    seg = {(s.segment, s.arm_key): s for s in report.segments}
    mask_c, mask_t = (users.arm == 0) & (users.stage == "new"), (users.arm == 2) & (users.stage == "new")
    expected = compare(Moments(mask_c.sum(), users.retained[mask_c].sum()),
                       Moments(mask_t.sum(), users.retained[mask_t].sum()), method="bayesian")
    assert seg[("new", "email")].comparison.chance_to_win == pytest.approx(expected.chance_to_win)
    assert seg[("new", "email")].economics is not None
    assert report.result("coupon", "revenue").comparison.cuped  # revenue has pre-period rows
    assert "CUPED skipped for 'retained': no pre-period outcomes" in report.notes
    assert all(math.isnan(r.p_holm) for r in report.results)  # Bayesian reads have no p-values to adjust
    json.dumps(report.to_dict())


def test_sample_ratio_mismatch_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    seed_registry(path, n=3000)
    # drop half of one arm's assignments, as a logging bug would
    open_registry(path).conn.execute("DELETE FROM assignments WHERE arm_key = 'email' AND user_id > 'u01500'")
    report = analyze_experiment("exp1", path)
    assert report.srm_flagged and report.srm_p_value < 0.001
    assert any("sample ratio mismatch" in n for n in report.notes)
