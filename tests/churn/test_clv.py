"""Customer value: BG/NBD and Gamma-Gamma reproduce the published CDNOW parameters; CLV holds on generated shops.

Sources of the expected numbers:
- BG/NBD on the 2,357-customer CDNOW sample, weeks 1-39 (to 1997-09-30): r = 0.243, alpha = 4.414,
  a = 0.793, b = 2.426 (Fader, Hardie and Lee 2005, "Counting your customers the easy way", section 5).
- Gamma-Gamma on the same calibration period, 946 customers with repeat purchases: p = 6.25, q = 3.74,
  gamma = 15.44 (Fader and Hardie 2013, "The Gamma-Gamma model of monetary value").
- The sample as shipped by `lifetimes` (CDNOW_sample.txt): 6,919 purchases by 2,357 customers, a tenth
  of the master file of ../shared/data/README.md (69,659 purchases by 23,570 customers).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.cdnow import HOLDOUT_WEEKS, cdnow_holdout, holdout_by_frequency, read_cdnow, read_cdnow_sample
from churn.clv import ClvModel, ClvSettings, customer_value, rfm_summary
from churn.errors import ChurnError
from simulator.shop import simulate

CDNOW = Path(__file__).parents[2].parent / "shared" / "data" / "cdnow_master.txt"


@pytest.fixture(scope="module")
def sample():
    return read_cdnow_sample()


@pytest.fixture(scope="module")
def holdout(sample):
    return cdnow_holdout(sample)


def test_the_sample_is_a_tenth_of_the_master_file(sample):
    assert len(sample) == 6_919 and sample["user_id"].nunique() == 2_357  # lifetimes' CDNOW_sample.txt
    if not CDNOW.exists():
        pytest.skip(f"CDNOW master file not found at {CDNOW}")
    master = read_cdnow(CDNOW)
    key = ["user_id", "ts", "amount"]
    assert len(sample.merge(master[key], on=key)) >= len(sample)  # every sample purchase is a master purchase


def test_bgnbd_reproduces_fader_hardie_lee_2005(holdout):
    p = holdout.parameters
    assert p.n_customers == 2_357
    assert (round(p.r, 2), round(p.alpha, 2), round(p.a, 2), round(p.b, 2)) == (
        round(0.243, 2), round(4.414, 2), round(0.793, 2), round(2.426, 2))
    assert (p.r, p.alpha, p.a, p.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), abs=6e-4)  # to the third decimal


def test_gamma_gamma_reproduces_fader_hardie_2013(holdout):
    p = holdout.parameters
    assert p.n_repeat_customers == 946  # FH 2013: 946 of the 2,357 made a repeat purchase in weeks 1-39
    assert (round(p.p, 2), round(p.q, 2), round(p.gamma, 2)) == (6.25, 3.74, 15.44)


def test_holdout_forecast_is_the_models_own(holdout, sample):
    """The 39-week forecast with the published parameters equals ours: the holdout gap is the model's, not the fit's.

    Measured (docs/churn.md): 1,882 repeat purchase days in weeks 40-78, 1,653 forecast (-12%); the
    issue's 5% bar is not met by BG/NBD on this sample.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter
    summary = rfm_summary(sample[["user_id", "ts", "amount"]], "1997-09-30")
    published = BetaGeoFitter()
    published.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    forecast = published.conditional_expected_number_of_purchases_up_to_time(
        HOLDOUT_WEEKS, summary["frequency"], summary["recency"], summary["T"]).sum()
    assert holdout.holdout_predicted == pytest.approx(forecast, rel=0.002)
    assert holdout.calibration_purchases == int(summary["frequency"].sum()) == 2_457
    days = pd.to_datetime(sample["ts"]).dt.normalize()
    later = sample[(days > "1997-09-30")].assign(day=days).drop_duplicates(["user_id", "day"])
    assert holdout.holdout_actual == len(later) == 1_882
    assert holdout.holdout_predicted_unconditional == pytest.approx(holdout.holdout_predicted, rel=0.02)
    assert -0.13 < holdout.holdout_error < -0.11


def test_holdout_gap_by_calibration_frequency(holdout, sample):
    """Where the 12 % falls short: BTYD's frequency-vs-conditional-expectation view of the same data.

    The bins' sizes are the data's (1,411 customers without a repeat purchase in weeks 1-39, ..., 64 with
    seven or more: BTYD's cdnowSummary bins); they add up to the holdout totals of `cdnow_holdout`.
    """
    bins = holdout_by_frequency(sample)
    assert bins["customers"].tolist() == [1_411, 439, 214, 100, 62, 38, 29, 64]
    assert bins["actual_total"].sum() == pytest.approx(holdout.holdout_actual)
    assert bins["forecast_total"].sum() == pytest.approx(holdout.holdout_predicted)
    assert bins.loc[0, "actual_mean"] == pytest.approx(334 / 1_411)  # 334 purchase days by the 1,411 one-time buyers
    gap = bins["forecast_total"] - bins["actual_total"]
    assert (gap.iloc[1:3] < 0).all() and gap.iloc[1:3].sum() < 0.5 * gap.sum()  # 1-2 repeat buyers: over half the gap


@pytest.mark.parametrize(("n_users", "seed", "months"), [(3_000, 11, 2), (2_000, 12, 3)])
def test_clv_predicts_the_spend_that_follows_on_generated_shops(n_users, seed, months):
    """Predicted spend over the next months against what the simulated shop then spent (whole shop, top users)."""
    as_of = pd.Timestamp("2026-06-30")
    users, coded = simulate(n_users, seed=seed, as_of=str(as_of.date()), horizon_days=60, extra_days=months * 31)
    events = coded.to_frame(users["user_id"].to_numpy())
    orders = events[events["event_type"] == "order"][["user_id", "ts", "amount"]]
    history = orders[orders["ts"] < as_of]
    value = customer_value(history, as_of - pd.Timedelta(days=1), pd.Index(users["user_id"]),
                           ClvSettings(horizon_months=months, discount_rate=0.0))
    future = orders[(orders["ts"] >= as_of) & (orders["ts"] < as_of + pd.Timedelta(days=months * 30.4375))]
    spent = future.groupby("user_id")["amount"].sum().reindex(value.users.index).fillna(0.0)
    predicted = value.users["clv"]
    assert predicted.sum() == pytest.approx(spent.sum(), rel=0.15)  # measured -1% and +5% in docs/churn.md
    top = predicted.rank(ascending=False, method="first") <= 0.2 * len(predicted)
    assert spent[top].sum() > 0.5 * spent.sum()  # the top fifth by CLV spends most of what follows
    never = ~pd.Index(users["user_id"]).isin(history["user_id"])
    assert (value.users.loc[never, "clv"] == 0).all() and value.users.loc[never, "expected_order_value"].isna().all()


def test_bad_settings_and_too_little_history():
    with pytest.raises(ChurnError, match=r"--margin must be in \(0, 1\], got 1.5"):
        ClvSettings(margin=1.5)
    orders = pd.DataFrame({"user_id": ["a", "a", "b"], "ts": ["2026-01-01", "2026-02-01", "2026-01-05"],
                           "amount": [10.0, 12.0, 5.0]})
    with pytest.raises(ChurnError) as error:
        ClvModel().fit(rfm_summary(orders, "2026-03-01"))
    assert str(error.value) == ("customer value needs at least 20 customers and 10 with repeat purchases; "
                                "the history has 2 and 1")
    with pytest.raises(ChurnError, match="no orders on or before 2025-01-01"):
        rfm_summary(orders, "2025-01-01")
    summary = rfm_summary(orders, "2026-03-01")
    assert summary.loc["a"].tolist() == pytest.approx([1, 31 / 7, 59 / 7, 12.0])  # one repeat day, weeks
    assert np.isclose(summary.loc["b", "T"], 55 / 7)
