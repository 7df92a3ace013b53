"""The fact SQL's TOTAL() on Spark (experiments.spark_facts.compensated_sum): a float sum accurate to about an ulp
whatever Spark's partition order, as SQLite's TOTAL and DuckDB's fsum are (issue 24: a plain SUM of 100M doubles
moved effects in their 12th digit)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.spark_facts import spark_sql


def _total(spark, values: list[float | None], partitions: int = 4) -> float:
    frame = spark.createDataFrame([(v,) for v in values], "x double").repartition(partitions)
    frame.createOrReplaceTempView("sums")
    return float(spark.sql(spark_sql("SELECT TOTAL(x) FROM sums")).collect()[0][0])


@pytest.mark.xdist_group("spark")
def test_total_is_exact_where_a_plain_sum_of_doubles_cancels(spark) -> None:
    # 1e16 + 1 - 1e16 a thousand times, shuffled: a plain double sum loses the ones (1e16 + 1 rounds to 1e16);
    # the true sum is 1000 (math.fsum agrees).
    values = [1e16, 1.0, -1e16] * 1000
    np.random.default_rng(0).shuffle(values)
    assert math.fsum(values) == 1000.0 and sum(values) != 1000.0
    assert _total(spark, values) == 1000.0


@pytest.mark.xdist_group("spark")
def test_total_of_ordinary_doubles_is_the_correctly_rounded_sum_to_an_ulp(spark) -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([np.round(rng.gamma(2.0, 20.0, 20_000), 2), rng.normal(0, 1e-3, 20_000),
                             rng.lognormal(3, 2, 20_000) ** 2]).tolist()
    exact = math.fsum(values)
    assert abs(_total(spark, values, 7) - exact) <= 2 * math.ulp(exact)


@pytest.mark.xdist_group("spark")
def test_total_over_no_rows_nulls_and_huge_values(spark) -> None:
    assert _total(spark, [None, None]) == 0.0  # SQLite's TOTAL: 0.0 over no (non-null) values
    assert _total(spark, [3e25, 1.5, None, -2.25]) == math.fsum([3e25, 1.5, -2.25])  # beyond DECIMAL's part: as a double
    assert math.isnan(_total(spark, [1.0, float("nan")]))
