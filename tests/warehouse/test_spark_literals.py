"""Text bound into Spark SQL stays one literal: Spark reads a backslash in a string as an escape, so `x\\' OR 1=1 --`
used to end the literal early and run `OR 1=1` as SQL, and `back\\slash` lost its backslash."""
from __future__ import annotations

import pytest

from warehouse.dialect import Dialect

pytestmark = pytest.mark.xdist_group("spark")


def test_spark_reads_a_bound_backslash_and_quote_back_unchanged(spark):
    for text in ("x\\' OR 1=1 --", "back\\slash", "it's", "\\\\"):
        rows = spark.sql(Dialect("spark").bind("SELECT :v AS v, 1 AS one", {"v": text})).collect()
        assert [tuple(r) for r in rows] == [(text, 1)]
