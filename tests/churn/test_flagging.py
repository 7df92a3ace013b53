"""Flagging rules on hand-made tables, and the defaults on generated shops judged against the simulator's truth.

The truth is the simulator's exact churn probability `p_churn` (simulator/shop.py): the mean `p_churn`
of the flagged users is the precision the cohort will have in expectation.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.flagging import FlagSpec, precision_count, select
from churn.ingest import load_events
from churn.pipeline import demo_as_of_dates, flag, train
from simulator.shop import generate_shop
from warehouse.engine import Warehouse


def table(risk: list[float], stage: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{k}" for k in range(len(risk))], "risk": risk, "stage": stage})


def test_precision_count_takes_the_riskiest_while_their_mean_reaches_the_target():
    risk = np.array([0.9, 0.8, 0.6, 0.5, 0.1])  # running means 0.9, 0.85, 0.767, 0.7, 0.58
    assert precision_count(risk, 0.7) == 4
    assert precision_count(risk, 0.95) == 0
    assert precision_count(risk, 0.5) == 5
    assert precision_count(np.array([]), 0.7) == 0


def test_select_filters_stages_caps_and_warns():
    scored = table([0.99, 0.9, 0.8, 0.6, 0.5, 0.1], ["churned", "at_risk", "mature", "at_risk", "new", "growing"])
    default = select(scored, FlagSpec(), model_precision=0.7, stage_cutoffs={})
    # 'churned' is left out by default; of 0.9, 0.8, 0.6, 0.5, 0.1 the first four average 0.7
    assert default.users["user_id"].tolist() == ["u1", "u2", "u3", "u4"]
    assert default.rule == "stages new, growing, mature, at_risk; expected precision >= 0.70, risk >= 0.500"
    assert default.expected_precision == pytest.approx(0.7) and default.n_candidates == 5
    assert default.warnings == [("4 of 6 scored users (67%) are flagged, more than half: set a capacity "
                                "(--max-users), a higher --target-precision or fewer --stage")]
    capped = select(scored, FlagSpec(max_users=2), model_precision=0.7, stage_cutoffs={})
    assert capped.users["user_id"].tolist() == ["u1", "u2"] and capped.warnings == []
    churned = select(scored, FlagSpec(stages=("churned",), target_precision=0.5), model_precision=0.7,
                     stage_cutoffs={})
    assert churned.users["user_id"].tolist() == ["u0"]
    per_stage = select(scored, FlagSpec(rule="stage-thresholds"), model_precision=0.7,
                       stage_cutoffs={"at_risk": 0.55, "mature": 0.85, "new": float("nan")})
    assert per_stage.users["user_id"].tolist() == ["u1", "u3"]  # no reliable cut-off for 'new': none flagged
    nobody = select(scored, FlagSpec(target_precision=0.95), model_precision=0.7, stage_cutoffs={})
    assert nobody.users.empty and nobody.warnings == [
        "nobody flagged among 5 candidates; lower the target precision or widen --stage"]


def test_tier_share_takes_the_riskiest_share_of_each_tier_and_splits_the_capacity():
    # Sorted riskiest first, as `select` receives them: 4 regular users above every high-value one.
    scored = table([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05], ["at_risk"] * 8).assign(
        tier=["regular"] * 4 + ["high_value"] * 4)
    half = select(scored, FlagSpec(rule="tier-share", tier_share=0.5), model_precision=0.7, stage_cutoffs={})
    # ceil(0.5 * 4) = 2 per tier: the two riskiest regular users and the two riskiest high-value ones.
    assert half.users["user_id"].tolist() == ["u0", "u1", "u4", "u5"]
    assert half.rule == "stages new, growing, mature, at_risk; the riskiest 50% of each value tier"
    one_third = select(scored, FlagSpec(rule="tier-share", tier_share=0.3), model_precision=0.7, stage_cutoffs={})
    assert one_third.users["user_id"].tolist() == ["u0", "u1", "u4", "u5"]  # ceil(0.3 * 4) = 2
    capped = select(scored, FlagSpec(rule="tier-share", tier_share=1.0, max_users=4), model_precision=0.7,
                    stage_cutoffs={})
    # 8 chosen, capacity 4: floor(4 * 4 / 8) = 2 per tier, each tier's riskiest.
    assert capped.users["user_id"].tolist() == ["u0", "u1", "u4", "u5"]
    assert capped.rule.endswith("capacity 4 split across the tiers")
    with pytest.raises(ChurnError, match=r"rule tier-share needs --tier-share in \(0, 1\], got None"):
        FlagSpec(rule="tier-share")
    with pytest.raises(ChurnError, match="--tier-share goes with --rule tier-share"):
        FlagSpec(tier_share=0.1)


def test_bad_specs_name_the_option():
    with pytest.raises(ChurnError, match="--max-users must be at least 1, got 0"):
        FlagSpec(max_users=0)
    with pytest.raises(ChurnError, match="--target-precision must be between 0 and 1, got 1.2"):
        FlagSpec(target_precision=1.2)
    with pytest.raises(ChurnError, match="unknown stage 'gone'; stages are new, growing, mature, at_risk, churned"):
        FlagSpec(stages=("gone",))


# Shops the defaults were not tuned on: sizes, seeds and horizons (the horizon sets the churn level:
# 30 days ~0.71 of users churn, 120 days ~0.55; docs/churn.md has the full table at larger sizes).
WORLDS = [(1_500, 31, 30), (2_500, 32, 60), (2_000, 33, 120)]


@pytest.mark.parametrize(("n_users", "seed", "horizon"), WORLDS)
def test_default_flagging_meets_its_precision_on_generated_shops(tmp_path: Path, n_users, seed, horizon):
    shop = generate_shop(n_users, seed=seed, horizon_days=horizon)
    wh = Warehouse(tmp_path / "wh.db")
    load_events(shop.events, wh, name="shop")
    dates = demo_as_of_dates(shop.as_of, horizon)
    db = tmp_path / "registry.db"
    train(wh, dates["train"], horizon, "m", db, validate_as_of=dates["validate"], model_dir=tmp_path / "models")
    result = flag("m", wh, dates["score"], db)
    truth = shop.users.set_index("user_id")["p_churn"]
    flagged = truth.reindex(result.users["user_id"])
    assert result.n_flagged > 0 and "churned" not in result.flagged_by_stage
    assert result.expected_precision == pytest.approx(0.7, abs=0.01)  # the model's default target precision
    assert flagged.mean() == pytest.approx(0.7, abs=0.07)  # precision against the truth
    assert bool(result.warnings) == (result.n_flagged > 0.5 * result.n_scored)
    capped = flag("m", wh, dates["score"], db, spec=FlagSpec(max_users=100, target_precision=0.8))
    assert capped.n_flagged == 100 and capped.warnings == []
    assert truth.reindex(capped.users["user_id"]).mean() > flagged.mean()  # the riskiest are likelier churners
