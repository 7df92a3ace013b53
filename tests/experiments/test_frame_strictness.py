"""`analyze_frame` refuses what the registry path refuses, and says so where it reads data differently (issue 21).

Each test is one defect the DataFrame API had: silent zeros for NaN and text, users counted once per row, a cost
per retained user of 0.0 with no cost given, a `cuped` column saying True where CUPED was skipped, a bare KeyError
for a weights typo, an integer control refused, a phantom arm `nan`, and a continuous `<metric>_pre` on a binary
metric skipped with a wrong reason.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import ExperimentReport, analyze_experiment
from experiments.errors import ExperimentError
from experiments.frame_analysis import analyze_frame
from tests.experiments.seeded_registry import ARMS, seed_registry

FIELDS = ("n_control", "n_treatment", "mean_control", "mean_treatment", "effect", "ci_low", "ci_high", "p_value")


def shop(n: int = 2_000, seed: int = 3) -> pd.DataFrame:
    """Two arms, a retention lift of about 6 points, a continuous spend and its pre-period twin."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.5, "control", "coupon")
    spend_pre = rng.gamma(2.0, 15.0, n)
    return pd.DataFrame({
        "user_id": [f"u{i:05d}" for i in range(n)], "arm": arm,
        "retained": (rng.random(n) < np.where(arm == "coupon", 0.36, 0.30)).astype(int),
        "spend": 0.5 * spend_pre + rng.gamma(2.0, 10.0, n) + np.where(arm == "coupon", 3.0, 0.0),
        "spend_pre": spend_pre, "cost": np.where(arm == "coupon", 2.0, 0.0)})


def assert_same_results(got: ExperimentReport, expected: ExperimentReport, arms: dict[str, str] | None = None) -> None:
    """Every comparison alike to 1e-9 (`arms` maps got's arm keys to expected's when they are named differently)."""
    want = {(r.arm_key, r.metric): r.comparison for r in expected.results}
    assert len(got.results) == len(want)
    for r in got.results:
        e = want[((arms or {}).get(r.arm_key, r.arm_key), r.metric)]
        for field in FIELDS:
            assert getattr(r.comparison, field) == pytest.approx(getattr(e, field), rel=1e-9, nan_ok=True), (
                r.arm_key, r.metric, field)
    assert got.srm_p_value == pytest.approx(expected.srm_p_value, rel=1e-9)


def test_a_user_on_several_rows_is_refused_naming_the_id_and_its_rows():
    frame = shop(20)
    frame.loc[[7, 11], "user_id"] = "u00003"  # u00003 now sits at index 3, 7 and 11
    with pytest.raises(ExperimentError, match=r"user 'u00003' appears 3 times in column 'user_id' \(index 3, 7, 11\)"):
        analyze_frame(frame, metrics={"retained": "binary"})
    with pytest.raises(ExperimentError, match="the frame has no unit id column 'account': name the column"):
        analyze_frame(frame, metrics={"retained": "binary"}, unit="account")
    frame.loc[4, "user_id"] = None
    with pytest.raises(ExperimentError, match=r"column 'user_id' \(the unit id\) is missing at index 4"):
        analyze_frame(frame, metrics={"retained": "binary"})


def test_missing_and_text_values_are_refused_naming_column_and_row():
    frame = shop(50)
    frame["spend"] = frame["spend"].astype(object)
    frame.loc[8, "spend"] = "n/a"
    with pytest.raises(ExperimentError, match=r"column 'spend' has text where a number belongs: 'n/a' at index 8"):
        analyze_frame(frame, metrics={"spend": "continuous"})
    frame.loc[8, "spend"] = np.nan
    frame.loc[[5, 9], "retained"] = np.nan
    with pytest.raises(ExperimentError, match=r"column 'retained' has 2 missing value\(s\) at index 5, 9; fill them"):
        analyze_frame(frame, metrics={"retained": "binary", "spend": "continuous"})
    frame.loc[[5, 9], "retained"] = 0
    frame.loc[12, "cost"] = None  # the cost column follows the same rule
    with pytest.raises(ExperimentError, match=r"column 'cost' has 1 missing value\(s\) at index 12"):
        analyze_frame(frame, metrics={"retained": "binary"}, cost="cost")
    with pytest.raises(ExperimentError, match="missing must be one of refuse, drop, zero, got 'skip'"):
        analyze_frame(frame, metrics={"retained": "binary"}, missing="skip")  # type: ignore[arg-type]


def test_missing_drop_gives_the_report_of_the_frame_without_those_rows_and_says_so():
    frame = shop()
    holes = frame.copy()
    holes.loc[[5, 9], "spend"] = np.nan
    holes.loc[[9, 40], "retained"] = np.nan
    report = analyze_frame(holes, metrics={"retained": "binary", "spend": "continuous"}, missing="drop")
    # Expected numbers: the same frame with rows 5, 9 and 40 removed by hand.
    assert_same_results(report, analyze_frame(frame.drop(index=[5, 9, 40]),
                                              metrics={"retained": "binary", "spend": "continuous"}))
    assert report.notes[0] == ("missing='drop': 3 row(s) with a missing value left out "
                               "('retained' 2 (index 9, 40); 'spend' 2 (index 5, 9))")


def test_missing_zero_reads_a_hole_as_the_registry_reads_a_user_without_an_outcome_row(tmp_path):
    db = tmp_path / "r.db"
    users = seed_registry(db)  # retained 0 and revenue 0 have no outcome row in the registry
    frame = pd.DataFrame({"user_id": users.ids, "arm": [ARMS[a][0] for a in users.arm],
                          "retained": np.where(users.retained == 1, 1.0, np.nan),
                          "revenue": np.where(users.revenue > 0, users.revenue, np.nan),
                          "unsubscribed": users.unsubscribed})
    metrics = {"retained": "binary", "unsubscribed": "binary", "revenue": "continuous"}
    with pytest.raises(ExperimentError, match="column 'retained' has"):
        analyze_frame(frame, metrics=metrics)
    report = analyze_frame(frame, metrics=metrics, missing="zero", guardrails=["unsubscribed"],
                           lower_is_better=["unsubscribed"], weights={"control": 0.5, "coupon": 0.25, "email": 0.25})
    # Expected numbers: the registry path on the same users (experiments.metrics counts a missing row as 0).
    assert_same_results(report, analyze_experiment("exp1", db))
    assert report.notes[0].startswith(f"missing='zero': missing values read as 0 ('retained' "
                                      f"{int((users.retained == 0).sum())} (index ")


def test_without_a_cost_the_cost_per_retained_user_is_nan_with_a_reason_not_0():
    frame = shop()
    report = analyze_frame(frame, metrics={"retained": "binary"}, value_per_retained=50)
    money = report.economics[0].economics
    assert math.isnan(money.cost_per_retained) and math.isnan(money.roi) and math.isnan(money.total_cost)
    assert "no cost given: cost per retained user, margin, ROI and break-even need one" in money.reason
    assert {a.cost_source for a in report.arms} == {"unknown"}
    assert not math.isnan(money.incremental_retained)  # the uplift itself does not need a cost
    row = report.to_frame().iloc[0]
    assert math.isnan(row["cost_per_retained"]) and "no cost given" in row["reason"]
    # A cost column of zeros is a real 0 spent: then 0.0 per retained user is the answer (stats.money).
    free = analyze_frame(frame.assign(cost=0.0), metrics={"retained": "binary"}, cost="cost", value_per_retained=50)
    assert {a.cost_source for a in free.arms} == {"column"}
    assert free.economics[0].economics.total_cost == 0.0


def test_to_frames_cuped_column_says_false_where_cuped_was_skipped():
    frame = shop()
    report = analyze_frame(frame, metrics={"retained": "binary", "spend": "continuous"}, cuped=True)
    table = report.to_frame().set_index("metric")
    assert table.loc["spend", "cuped"] is True or table.loc["spend", "cuped"] == True  # noqa: E712
    assert not table.loc["retained", "cuped"]  # no retained_pre column: CUPED skipped
    assert "CUPED skipped for 'retained': no pre-period outcomes" in report.notes
    assert report.cuped  # the report still says what was asked for


def test_a_weights_typo_names_the_arm_and_the_known_arms():
    frame = shop(100)
    with pytest.raises(ExperimentError, match="weights name arm 'cupon', which the frame does not have; "
                                              "its arms: control, coupon"):
        analyze_frame(frame, metrics={"retained": "binary"}, weights={"control": 0.5, "cupon": 0.5})
    with pytest.raises(ExperimentError, match="weights give no weight for arm 'coupon'"):
        analyze_frame(frame, metrics={"retained": "binary"}, weights={"control": 1.0})
    with pytest.raises(ExperimentError, match="arm weights must sum to 1, got 1.4"):
        analyze_frame(frame, metrics={"retained": "binary"}, weights={"control": 0.5, "coupon": 0.9})


def test_an_integer_control_works_and_gives_the_report_of_the_same_arms_as_text():
    frame = shop()
    numbered = frame.assign(arm=(frame["arm"] == "coupon").astype(int))
    report = analyze_frame(numbered, metrics={"retained": "binary"}, control=0, weights={0: 0.5, 1: 0.5})
    assert [a.arm_key for a in report.arms] == ["0", "1"] and report.arms[0].is_control
    # Expected numbers: the same users with the arms named by text.
    assert_same_results(report, analyze_frame(frame, metrics={"retained": "binary"}), {"0": "control", "1": "coupon"})
    mixed = numbered.assign(arm=numbered["arm"].astype(object))
    mixed.loc[0, "arm"] = str(mixed.loc[0, "arm"])
    with pytest.raises(ExperimentError, match="mixes labels that read the same as text"):
        analyze_frame(mixed, metrics={"retained": "binary"}, control=0)


def test_a_missing_arm_label_is_refused_not_a_phantom_arm():
    frame = shop(100)
    frame.loc[[2, 6], "arm"] = np.nan
    with pytest.raises(ExperimentError, match=r"column 'arm' has no arm at index 2, 6; every user needs"):
        analyze_frame(frame, metrics={"retained": "binary"})


def test_a_continuous_pre_period_on_a_binary_metric_is_used_by_cuped():
    rng = np.random.default_rng(8)
    frame = shop(4_000)
    frame["retained_pre"] = frame["spend_pre"]  # continuous, and predictive of retention below
    frame["retained"] = (rng.random(len(frame)) < 0.1 + 0.01 * frame["spend_pre"].clip(upper=40)
                         + np.where(frame["arm"] == "coupon", 0.05, 0.0)).astype(int)
    report = analyze_frame(frame, metrics={"retained": "binary"}, cuped=True, relative=False)
    comparison = report.result("coupon", "retained").comparison
    assert comparison.cuped and not any("CUPED" in note for note in report.notes)
    assert "CUPED not applied" not in comparison.reason
    # Expected numbers: regression adjustment by hand (Deng et al. 2013): theta = Cov(y, x) / Var(x) over both
    # arms pooled; the effect is the difference of the means of y - theta * x.
    y, x = frame["retained"].to_numpy(float), frame["retained_pre"].to_numpy(float)
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted = pd.Series(y - theta * x).groupby(frame["arm"].to_numpy()).mean()
    assert comparison.theta == pytest.approx(theta, rel=1e-9)
    assert comparison.effect == pytest.approx(adjusted["coupon"] - adjusted["control"], rel=1e-9)


def test_roles_must_name_metrics_of_the_frame():
    with pytest.raises(ExperimentError, match="guardrails names metric 'unsub', which is not in metrics: retained"):
        analyze_frame(shop(50), metrics={"retained": "binary"}, guardrails=["unsub"])


def test_a_user_without_a_segment_falls_in_none_as_in_the_registry(tmp_path):
    db = tmp_path / "r.db"
    users = seed_registry(db)  # about 10 % of users have no cohort row, so no stage
    frame = pd.DataFrame({"user_id": users.ids, "arm": [ARMS[a][0] for a in users.arm], "retained": users.retained,
                          "stage": np.where(users.stage == "(none)", None, users.stage)})
    report = analyze_frame(frame, metrics={"retained": "binary"}, segment="stage",
                           weights={"control": 0.5, "coupon": 0.25, "email": 0.25})
    # Expected numbers: the registry path by the cohort's stage (experiments.metrics, NO_SEGMENT for no cohort row).
    registry = analyze_experiment("exp1", db, segment_by="stage")
    want = {(s.segment, s.arm_key): s.comparison for s in registry.segments}
    assert {(s.segment, s.arm_key) for s in report.segments} == set(want) and ("(none)", "coupon") in want
    for s in report.segments:
        for field in FIELDS:
            assert getattr(s.comparison, field) == pytest.approx(getattr(want[(s.segment, s.arm_key)], field),
                                                                 rel=1e-9, nan_ok=True), (s.segment, field)
