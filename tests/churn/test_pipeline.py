"""Train, score and flag on a small demo shop, end to end on real SQLite files."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.errors import ChurnError
from churn.flagging import STAGES, FlagSpec
from churn.pipeline import demo_as_of_dates, flag, load_churn_model, score, train
from churn.segments import TierRule
from experiments.cohorts import read_cohort, write_cohort
from experiments.errors import ExperimentError
from experiments.models import load_model_record


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_shop, shop_warehouse):
    root = tmp_path_factory.mktemp("registry")
    db, models = root / "registry.db", root / "models"
    dates = demo_as_of_dates(small_shop.as_of, small_shop.horizon_days)
    result = train(shop_warehouse, dates["train"], small_shop.horizon_days, "shop", db,
                   validate_as_of=dates["validate"], model_dir=models)
    return result, db, dates


def test_train_validates_on_the_later_date_and_stores_the_model(trained):
    result, db, dates = trained
    v = result.validation
    assert v.source == "later_date" and v.as_of == str(dates["validate"].date())
    # issue 4's bar for the demo shop: ROC AUC >= 0.85 (0.896 at 20k users, docs/churn.md; 0.89 at 3k here)
    assert v.roc_auc >= 0.85
    assert 0 < v.brier < 0.25 and v.pr_auc > v.churn_rate
    assert v.top_decile_precision >= v.churn_rate
    assert sum(row["n"] for row in v.calibration) == v.n_users
    record = load_model_record("shop", db)
    assert record.kind == "churn" and record.metrics["validation"]["roc_auc"] == pytest.approx(v.roc_auc)
    model = load_churn_model("shop", db)
    for stage, cut in model.thresholds_.items():
        t = v.thresholds[stage]
        assert (math.isnan(cut) and t["note"]) or t["precision"] >= v.target_precision


def test_score_matches_the_true_churn_probability(trained, small_shop, shop_warehouse):
    _, db, dates = trained
    scored = score("shop", shop_warehouse, dates["score"], db)
    assert list(scored.columns) == ["user_id", "risk", "clv", "stage", "tier", "reason"]
    assert (scored["clv"] >= 0).all() and (scored.loc[scored["tier"] == "prospect", "clv"] == 0).all()
    buyers = scored[scored["tier"] != "prospect"]
    assert (buyers["tier"] == "high_value").mean() == pytest.approx(0.2, abs=0.01)  # TierRule: top 20% by clv
    assert scored["risk"].between(0, 1).all() and scored["risk"].is_monotonic_decreasing
    truth = scored.merge(small_shop.users, on="user_id")
    assert np.corrcoef(truth["risk"], truth["p_churn"])[0, 1] > 0.75
    assert roc_auc_score(truth["p_churn"] > 0.5, truth["risk"]) > 0.9


def test_flag_returns_the_cohort_and_writes_nothing(trained, shop_warehouse):
    _, db, dates = trained
    result = flag("shop", shop_warehouse, dates["score"], db)
    with pytest.raises(ExperimentError):  # issue 11 item 2: churn/ returns the cohort, the caller stores it
        read_cohort("at-risk", db)
    assert len(result.users) == result.n_flagged > 0 and "churned" not in result.flagged_by_stage
    assert set(result.users.columns) == {"user_id", "risk", "clv", "stage", "tier", "reason", "model", "scored_at",
                                         "as_of"}
    day = str(pd.Timestamp(dates["score"]).date())  # the cohort records the date it was scored for
    assert result.as_of == day and (result.users["as_of"] == day).all()
    assert result.users["risk"].is_monotonic_decreasing and (result.users["model"] == "shop").all()
    assert result.expected_precision == pytest.approx(result.users["risk"].mean())
    assert result.expected_precision >= 0.7  # the model's target precision (DEFAULT_TARGET_PRECISION)
    assert write_cohort(result.users, "at-risk", db) == result.n_flagged
    capped = flag("shop", shop_warehouse, dates["score"], db, spec=FlagSpec(max_users=50, min_risk=0.3))
    assert capped.n_flagged == 50 and capped.users["risk"].min() >= 0.3
    assert capped.rule == "stages new, growing, mature, at_risk; risk >= 0.3; capacity 50"
    by_stage = flag("shop", shop_warehouse, dates["score"], db, spec=FlagSpec(rule="stage-thresholds", stages=STAGES))
    cut = by_stage.users["stage"].map(load_churn_model("shop", db).thresholds_)
    assert (by_stage.users["risk"] >= cut).all()


def test_unknown_model_and_bad_options(trained, shop_warehouse):
    _, db, dates = trained
    with pytest.raises(ChurnError) as error:
        score("nope", shop_warehouse, dates["score"], db)
    assert str(error.value) == "no model named 'nope' in the registry; known models: shop"
    with pytest.raises(ChurnError) as error:
        flag("shop", shop_warehouse, dates["score"], db, spec=FlagSpec(min_risk=1.5))
    assert str(error.value) == "--min-risk must be between 0 and 1, got 1.5"


def test_holdout_validation_when_the_later_horizon_is_not_observed(tmp_path, small_shop, shop_warehouse):
    last = pd.Timestamp(small_shop.as_of) - pd.Timedelta(days=61)  # labels fit, the later date's do not
    result = train(shop_warehouse, last, 60, "holdout", tmp_path / "r.db", model_dir=tmp_path / "m")
    assert result.validation.source == "holdout" and result.validation.roc_auc > 0.8


def test_score_says_how_to_go_without_customer_value(tmp_path, tiny_warehouse, trained):
    _, db, _ = trained
    with pytest.raises(ChurnError) as error:  # two buyers cannot fit BG/NBD
        score("shop", tiny_warehouse, "2026-03-31", db)
    assert str(error.value) == ("customer value needs at least 20 customers and 10 with repeat purchases; the history "
                                "has 2 and 1 (to score without customer value: --no-clv --tiers spend)")
    scored = score("shop", tiny_warehouse, "2026-03-31", db, clv=None, tiers=TierRule(basis="spend"))
    # monthly spend (conftest): 007 180 over 90 days = 60.8 a month, 0100 20 in its first (minimum 30.4-day)
    # month = 20; the 0.8-quantile of (20, 60.8) is 52.64, so only 007 is high value; 0042 never ordered
    assert scored.set_index("user_id")["tier"].to_dict() == {"007": "high_value", "0100": "regular",
                                                              "0042": "prospect"}
    assert "clv" not in scored.columns
