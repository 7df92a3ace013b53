"""`ChurnModel` is a real scikit-learn estimator: parameters, clone, Pipeline and GridSearchCV (issue 21)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churn.errors import ChurnError
from churn.features import compute_features, compute_labels, model_columns
from churn.model import ChurnModel

AS_OF = "2026-04-01"  # 90 days before the small shop's as-of, so the 60-day labels are observed
FAST = dict(n_estimators=20, min_child_samples=20)


@pytest.fixture(scope="module")
def training(shop_warehouse) -> tuple[pd.DataFrame, pd.Series]:
    features = compute_features(shop_warehouse, AS_OF)
    labels = compute_labels(shop_warehouse, AS_OF, 60).reindex(features.index)
    return features[model_columns(features)], labels


def test_parameters_round_trip_and_clone_gives_an_unfitted_copy(training):
    model = ChurnModel(calibration="isotonic", num_leaves=5, random_state=3)
    assert is_classifier(model)
    params = model.get_params()
    assert params == {"calibration": "isotonic", "cv": 3, "n_estimators": 150, "learning_rate": 0.03,
                      "num_leaves": 5, "min_child_samples": 100, "random_state": 3, "n_jobs": 1}
    assert model.set_params(num_leaves=9) is model and model.num_leaves == 9
    fitted = ChurnModel(**FAST).fit(*training)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "estimator_")
    assert sorted(a for a in vars(fitted) if a.endswith("_")) == [
        "classes_", "estimator_", "feature_names_in_", "features_", "n_features_in_"]
    assert not [a for a in vars(copy) if a.endswith("_")]  # __init__ stores parameters only


def test_fitted_predictions_agree_with_predict_risk(training):
    features, labels = training
    model = ChurnModel(**FAST).fit(features, labels)
    risk = model.predict_risk(features)
    proba = model.predict_proba(features)
    assert proba.shape == (len(features), 2) and np.allclose(proba[:, 1], risk) and np.allclose(proba.sum(axis=1), 1)
    assert set(np.unique(model.predict(features))) <= {0, 1}
    np.testing.assert_array_equal(model.predict(features), (risk > 0.5).astype(int))
    # Same parameters, same data, same seed: a clone refits to the same scores.
    assert np.allclose(clone(model).fit(features, labels).predict_risk(features), risk)


def test_usable_in_a_pipeline_whose_steps_keep_column_names(training):
    features, labels = training
    clip = FunctionTransformer(lambda frame: frame.clip(lower=0), feature_names_out="one-to-one")
    pipeline = Pipeline([("clip", clip.set_output(transform="pandas")), ("model", ChurnModel(**FAST))])
    pipeline.fit(features, labels)
    risk = pipeline.predict_proba(features)[:, 1]
    assert roc_auc_score(labels, risk) > 0.6  # the shop's churn is predictable from its history
    numpy_step = Pipeline([("clip", FunctionTransformer(np.asarray)), ("model", ChurnModel(**FAST))])
    with pytest.raises(ChurnError, match="needs a DataFrame with named feature columns for fit, got ndarray; "
                                         "in a Pipeline, keep names with set_output"):
        numpy_step.fit(features, labels)


def test_grid_search_tunes_it_by_cross_validated_auc(training):
    features, labels = training
    search = GridSearchCV(ChurnModel(**FAST), {"num_leaves": [3, 7]}, scoring="roc_auc", cv=2)
    search.fit(features, labels)
    assert search.best_params_["num_leaves"] in (3, 7)
    assert len(search.cv_results_["mean_test_score"]) == 2 and np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert isinstance(search.best_estimator_, ChurnModel) and search.best_estimator_.num_leaves in (3, 7)


def test_bad_labels_and_columns_are_refused(training):
    features, labels = training
    with pytest.raises(ChurnError, match="churn labels must be one 0 .retained. or 1 .churned. per user"):
        ChurnModel(**FAST).fit(features, labels.replace({1: 2}))
    with pytest.raises(ChurnError, match="the churn model's RFM base needs the columns recency_days"):
        ChurnModel(**FAST).fit(features.drop(columns=["recency_days"]), labels)
    with pytest.raises(ChurnError, match="calibration must be 'sigmoid' or 'isotonic', got 'platt'"):
        ChurnModel(calibration="platt").fit(features, labels)  # type: ignore[arg-type]
