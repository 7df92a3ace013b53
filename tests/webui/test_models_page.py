"""The models page, its JSON twin and decile CSV for an uplift model fitted by `uplift.targeting.fit_targeting` on the
shop's experiment: uplift by decile and Qini curves carry the numbers the fit recorded; older records say what is missing."""
from __future__ import annotations

import csv
import io
import json
from statistics import NormalDist

import pandas as pd
import pytest
from markupsafe import escape
from webui_shop import COHORT, EXPERIMENT

from experiments.cohorts import read_cohort
from experiments.models import ModelRecord, save_model_record
from uplift.plan_inputs import PlanSpec
from uplift.store import save_uplift_model
from uplift.targeting import TargetingFit, fit_targeting

MODEL = "wb-q4-uplift"
Z95 = NormalDist().inv_cdf(0.975)  # the 95% interval the page draws: observed ± z × se


def _g(value: float) -> str:
    """How the charts print a number that is not a share (webui.charts._fmt with percent=False)."""
    return f"{value:,.4g}"


@pytest.fixture(scope="module")
def training(shop_template) -> pd.DataFrame:
    """The shop's retained outcome per user with the cohort's features (risk, stage, tier, reason)."""
    retained = shop_template.outcomes[shop_template.outcomes["metric"] == "retained"][["user_id", "arm", "value"]]
    features = read_cohort(COHORT, shop_template.db)[["user_id", "risk", "stage", "tier", "reason"]]
    return retained.merge(features, on="user_id")


@pytest.fixture(scope="module")
def fitted(training) -> TargetingFit:
    return fit_targeting(training, treatment_col="arm", outcome_col="value", control="control", id_col="user_id",
                         spec=PlanSpec({"coupon": 8.0, "reco": 0.5}, 2_000.0), candidates=("s", "t"), folds=2,
                         n_estimators=20, progress=False)


@pytest.fixture
def stored(shop, fitted, training, tmp_path) -> ModelRecord:
    return save_uplift_model(fitted, MODEL, data=training, experiment_key=EXPERIMENT, db=shop.db,
                             model_dir=tmp_path / "models")


def test_uplift_by_decile_shows_the_recorded_calibration_with_95_intervals(stored, fitted, as_user) -> None:
    page = as_user("gina").get("/models").text
    table = fitted.metrics()["calibration"]  # what fit_targeting recorded: per treatment × decile
    assert len(table) == 20  # coupon and reco, 10 deciles each
    for row in table:
        d, observed, se = row["decile"], row["observed"], row["se"]
        tip = f"decile {d} observed: {_g(observed)} [{_g(observed - Z95 * se)}, {_g(observed + Z95 * se)}] (n = {row['n']:,})"
        assert f"<title>{escape(tip)}</title>" in page, tip
        assert f"<title>decile {d} predicted: {_g(row['predicted'])}</title>" in page
        gate = " (gated to 0: not significantly positive)" if row["gated"] else ""
        assert f"<title>decile {d} calibrated: {_g(row['calibrated'])}{gate}</title>" in page
    assert page.count("uplift by decile: observed on held-out users") == 2
    assert "not recorded for this model" not in page


def test_qini_curves_of_every_candidate_end_at_the_arms_incremental_outcome(stored, fitted, shop, as_user) -> None:
    page = as_user("gina").get("/models").text
    retained = shop.outcomes[shop.outcomes["metric"] == "retained"]
    for treatment in ("coupon", "reco"):
        # The Qini curve at 100%: treated outcomes minus control outcomes scaled to the treated count (Radcliffe 2007),
        # from the imported outcomes themselves.
        y_t = retained.loc[retained["arm"] == treatment, "value"]
        y_c = retained.loc[retained["arm"] == "control", "value"]
        end = y_t.sum() - y_c.sum() * len(y_t) / len(y_c)
        for candidate in fitted.candidates:
            [curve] = [c for c in candidate.qini_curves if c["treatment"] == treatment]
            assert len(curve["share"]) == 51 and curve["share"][0] == 0.0 and curve["share"][-1] == 1.0
            assert curve["gain"][-1] == pytest.approx(end)
            name = candidate.learner + (" (chosen)" if candidate.learner == fitted.learner else "")
            assert f"<title>{escape(name)} 1.0: {_g(curve['gain'][-1])}</title>" in page
            share, gain = curve["share"][25], curve["gain"][25]  # about half way
            assert f"<title>{escape(name)} {share}: {_g(gain)}</title>" in page
        assert f"<title>random 1.0: {_g(end)}</title>" in page
    assert page.count("Qini curve (out of fold)") == 2


def test_models_json_and_decile_csv_carry_the_same_numbers(stored, fitted, as_user) -> None:
    client = as_user("finn")
    response = client.get("/api/v1/models")
    data = json.loads(response.data)  # strict JSON: no NaN or Infinity
    [record] = data["models"]
    evidence = data["evidence"][MODEL]
    assert record["name"] == MODEL and evidence["treatments"] == ["coupon", "reco"]
    recorded = {(r["treatment"], r["decile"]): r for r in fitted.metrics()["calibration"]}
    for row in evidence["deciles"]:
        source = recorded[(row["treatment"], row["decile"])]
        assert row["observed"] == pytest.approx(source["observed"])
        assert row["ci_high"] == pytest.approx(source["observed"] + Z95 * source["se"])
    chosen = [c for c in evidence["curves"] if c["chosen"]]
    assert {c["learner"] for c in chosen} == {fitted.learner} and len(evidence["curves"]) == 2 * len(fitted.candidates)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/models/{MODEL}/deciles.csv").text)))
    assert list(rows[0]) == ["treatment", "decile", "n", "predicted", "observed", "se", "ci_low", "ci_high",
                             "calibrated", "gated"]
    assert len(rows) == 20
    for row in rows:
        source = recorded[(row["treatment"], int(row["decile"]))]
        assert float(row["calibrated"]) == pytest.approx(source["calibrated"])
        assert int(row["n"]) == source["n"]


def test_older_records_say_what_was_not_recorded(shop, fitted, as_user) -> None:
    metrics = fitted.metrics()
    no_curves = {**metrics, "candidates": [{k: v for k, v in c.items() if k != "qini_curves"}
                                           for c in metrics["candidates"]]}
    save_model_record(ModelRecord("before-curves", "uplift", fitted.learner, fitted.features, "0" * 64, no_curves),
                      shop.db)
    # A record of the held-out learner choice (uplift.fitting.UpliftFit) has neither calibration nor curves.
    save_model_record(ModelRecord("holdout-choice", "uplift", "t", ["risk"], "1" * 64,
                                  {"chosen": "t", "learners": {"t": {"mean_qini": 0.1, "per_treatment": []}}}), shop.db)
    client = as_user("gina")
    page = client.get("/models")
    assert page.status_code == 200
    assert page.text.count("Qini curves not recorded for this model") == 2
    assert page.text.count("uplift by decile not recorded for this model") == 1
    assert page.text.count("uplift by decile: observed on held-out users") == 2  # before-curves still has its deciles
    response = client.get("/models/holdout-choice/deciles.csv")
    assert response.status_code == 404 and "uplift by decile not recorded" in response.text
    evidence = client.get("/api/v1/models").json["evidence"]
    assert evidence["holdout-choice"]["deciles"] == [] and evidence["before-curves"]["curves"] == []
    assert evidence["before-curves"]["curves_note"].startswith("Qini curves not recorded")


def test_churn_validation_shares_read_as_percentages_like_the_training_line(shop, as_user) -> None:
    # The training line showed "churn rate 60.6 %" and the validation row "0.6056" for the same kind of figure.
    metrics = {"trained_as_of": "2026-04-30", "n_train": 5000, "train_churn_rate": 0.6056, "horizon_days": 60,
               "validation": {"as_of": "2026-06-29", "source": "later_date", "n_users": 4800, "churn_rate": 0.5912,
                              "roc_auc": 0.8961, "top_decile_precision": 0.95, "top_decile_recall": 0.1604}}
    save_model_record(ModelRecord("churn-shares", "churn", "lightgbm", ["recency_days"], "2" * 64, metrics), shop.db)
    page = as_user("gina").get("/models").text
    assert "churn rate 60.6%" in page
    assert "<th>Validation: churn rate</th><td>59.1%</td>" in page
    assert "<th>Validation: recall in the top risk decile</th><td>16.0%</td>" in page
    assert "<th>Validation: users</th><td>4,800</td>" in page
    assert "<th>Validation: ROC AUC</th><td>0.8961</td>" in page
    assert "<th>Validation: source</th><td>a later as-of date (the labels of the horizon after it)</td>" in page
    assert "(5,000 users, churn rate 60.6%" in page


def test_a_churn_model_validated_on_a_holdout_counts_the_users_it_was_fitted_on(shop, as_user) -> None:
    # churn.pipeline.train with no later date: n_train counts every user with history, the validation holds out some
    metrics = {"trained_as_of": "2026-03-31", "n_train": 4998, "train_churn_rate": 0.5, "horizon_days": 90,
               "validation": {"as_of": "2026-03-31", "source": "holdout", "n_users": 1249, "churn_rate": 0.5}}
    save_model_record(ModelRecord("churn-holdout", "churn", "lightgbm", ["recency_days"], "4" * 64, metrics), shop.db)
    page = as_user("gina").get("/models").text
    assert "2026-03-31 (3,749 users, 1,249 more held out to validate, churn rate 50.0%" in page
    assert "users held out of training (the events end too soon to check a later date)" in page


def test_the_chosen_plan_is_shown_against_each_blanket_with_the_fits_numbers(stored, fitted, as_user) -> None:
    page = as_user("gina").get("/models").text
    assert "Each treatment sent to random users with the same budget and seats" in page
    for blanket, gain in zip(fitted.blankets, fitted.gains):
        key = blanket.policy.removeprefix("blanket ")
        assert (f"<td>{key} to random users</td><td class=\"num\">{blanket.value_per_user:.4g}</td>") in page
        assert f"<td class=\"num\">{gain.value_per_user:.4g}</td>" in page
    evidence = as_user("gina").get("/api/v1/models").json["evidence"][MODEL]
    assert [b["treatment"] for b in evidence["blankets"]] == ["coupon", "reco"]
    assert evidence["blanket_note"] == fitted.blanket_note()


def test_a_plan_that_loses_to_a_blanket_says_so_on_the_models_page(shop, as_user) -> None:
    def estimate(policy, value, low, high):
        return {"policy": policy, "estimator": "dr", "value_per_user": value, "ci_low": low, "ci_high": high, "n": 900}

    metrics = {"chosen": "s", "objective": "retained", "candidates": [],
               "blankets": [estimate("blanket coupon", 0.05, 0.03, 0.07), estimate("blanket reco", 0.01, 0.0, 0.02)],
               "gains_over_blankets": [estimate("plan - blanket coupon", -0.03, -0.05, -0.01),
                                       estimate("plan - blanket reco", 0.01, -0.01, 0.03)]}
    save_model_record(ModelRecord("loses", "uplift", "s", ["risk"], "3" * 64, metrics), shop.db)
    page = as_user("gina").get("/models").text
    # uplift.plan_notes.blanket_note, on the best blanket (coupon), whose gain interval lies below 0
    assert ("Sending coupon to random users with the same budget does better than the chosen plan on this experiment "
            "(the plan&#39;s gain over it: -0.0300 [95% -0.0500, -0.0100] per user)") in page


def test_the_forecast_its_precision_and_the_tied_candidates_are_shown_with_the_fits_numbers(stored, fitted,
                                                                                           as_user) -> None:
    from uplift.choice_notes import forecast_precision, precision_note, tie_note

    page = as_user("gina").get("/models").text
    f = fitted.forecast_value  # the nested forecast the fit recorded
    precision = forecast_precision(f.to_dict())
    assert precision is not None
    assert (f"Forecast of the chosen plan (made on users the choice did not see): <strong>{f.value_per_user:.4g}"
            f"</strong> incremental retained users per user") in page  # the fit counted retained users (no value)
    assert f"±{precision.relative_half_width:.1%}" in page
    evidence = as_user("gina").get("/api/v1/models").json["evidence"][MODEL]
    assert evidence["forecast"]["users_factor"] == pytest.approx(precision.users_factor)
    assert evidence["forecast_note"] == precision_note(precision)
    assert evidence["tied"] == fitted.tied
    assert evidence["tie_note"] == tie_note(fitted.learner, fitted.tied, len(fitted.candidates))
    assert page.count('<span class="badge" title="the 95% interval of its plan') == len(fitted.tied)
    # This small shop's fit (2 folds, 20 trees) cannot tell its six candidates apart, nor its plan from doing nothing.
    assert evidence["tie_note"].startswith(f"the experiment cannot tell {fitted.learner}'s plan from every other candidate")
    assert evidence["forecast_note"].startswith("the forecast's 95% interval includes 0")
    assert str(escape(evidence["forecast_note"][1:])) in page and str(escape(evidence["tie_note"][1:])) in page
