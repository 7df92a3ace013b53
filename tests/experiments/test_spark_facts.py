"""experiments.spark_facts.spark_sql: SQLite's TOTAL() spelled for Spark, nested parentheses kept whole."""
from __future__ import annotations

from experiments.spark_facts import compensated_sum, spark_sql


def test_total_becomes_a_compensated_float_sum_with_zero_over_no_rows() -> None:
    sql = "SELECT TOTAL(u.post NOT IN (0.0, 1.0) OR u.pre NOT IN (0.0, 1.0)), TOTAL(TOTAL(x) * 2), subtotal(y) FROM t"
    inner = compensated_sum("x")
    assert spark_sql(sql) == (
        f"SELECT {compensated_sum('u.post NOT IN (0.0, 1.0) OR u.pre NOT IN (0.0, 1.0)')}, "
        f"{compensated_sum(f'{inner} * 2')}, subtotal(y) FROM t")
    assert inner.startswith("(COALESCE(CAST(SUM(CASE WHEN ABS(CAST((x) AS DOUBLE)) < 1e20 THEN CAST(CAST((x) AS "
                            "DOUBLE) AS DECIMAL(38, 6)) END) AS DOUBLE), CAST(0 AS DOUBLE)) + COALESCE(SUM(")
