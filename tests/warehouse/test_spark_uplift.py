"""Uplift scoring with mapInPandas on a real local Spark gives the local model's predictions.

Expected values: the same fitted model's `predict` on the same rows in this process (parity, 1e-9).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.errors import UpliftError
from uplift.learners import UpliftModel

pytestmark = pytest.mark.xdist_group("spark")


def test_uplift_scores_in_spark_match_local_predictions(spark):
    from uplift.spark_scoring import score_uplift_in_spark

    rng = np.random.default_rng(14)
    n = 1500
    frame = pd.DataFrame({"user_id": [f"u{i:04d}" for i in range(n)], "x": rng.random(n),
                          "region": rng.choice(["north", "south"], n), "arm": rng.choice(["control", "a", "b"], n)})
    p = 0.2 + 0.3 * (frame["arm"] == "a") * (frame["x"] > 0.5) + 0.1 * (frame["arm"] == "b")
    frame["y"] = (rng.random(n) < p).astype(int)
    features = ["x", "region"]
    model = UpliftModel("t", control_name="control", n_estimators=20).fit(frame[features], frame["y"], treatment=frame["arm"])
    local = model.predict(frame[features]).set_index(frame["user_id"])
    remote = (score_uplift_in_spark(model, features, spark.createDataFrame(frame[["user_id", *features]]),
                                    id_col="user_id").toPandas().set_index("user_id").loc[local.index])
    assert list(remote.columns) == ["a", "b"] and local["a"].std() > 0
    assert remote.to_numpy() == pytest.approx(local.to_numpy(), rel=1e-9, abs=1e-12)
    with pytest.raises(UpliftError) as error:
        score_uplift_in_spark(model, ["x", "tenure"], spark.createDataFrame(frame[["user_id", "x"]]), id_col="user_id")
    assert str(error.value) == "the Spark data lacks column(s) tenure the model needs"
