"""The figures of docs/warehouse.md "Budget allocation in Spark": Spark's allocation against `allocate` at scale.

    SPARK_LOCAL_IP=127.0.0.1 python scripts/spark_allocation_parity.py [--users 200000]

Random scores for three treatments (seed 3), written as Parquet and read by Spark `local[2]`; each line
gives both engines' time, Spark's passes and the rows its margin brought to the driver, the share of users
given the same treatment, and the plans' cost and net value.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from uplift.allocation import allocate
from uplift.spark_margin import allocate_in_spark, final_choices
from warehouse.spark_engine import spark_session

COSTS = {"coupon": 5.0, "vip": 20.0, "call": 8.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    n = parser.parse_args().users
    rng = np.random.default_rng(3)
    scores = pd.DataFrame({"user_id": [f"u{i:07d}" for i in range(n)], "coupon": rng.normal(0.04, 0.05, n),
                           "vip": rng.normal(0.08, 0.08, n), "call": rng.normal(0.06, 0.06, n)})
    spark = spark_session("local[2]", shuffle_partitions=2)
    budget = 1.5 * n
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scores.parquet"
        scores.to_parquet(path, index=False)
        frame = spark.read.parquet(str(path))
        for label, cap in [("budget binding", None), ("budget and call capacity binding", {"call": n // 20})]:
            start = time.time()
            local = allocate(scores[list(COSTS)], COSTS, budget, 150.0, cap)
            local_s = time.time() - start
            start = time.time()
            remote = allocate_in_spark(frame, "user_id", COSTS, budget, 150.0, cap)
            spark_s = time.time() - start
            plan = final_choices(frame, "user_id", remote).toPandas().set_index("user_id").loc[scores["user_id"]]
            same = (plan["treatment"].fillna("control").to_numpy() == local.labels()).mean()
            print(f"| {n:,} | {label} | {local_s:.2f} s | {spark_s:.1f} s | {remote.passes} | {remote.margin_rows} | "
                  f"{same:.2%} | {local.total_cost:,.0f} / {remote.total_cost:,.0f} | "
                  f"{local.net_value:,.2f} / {remote.net_value:,.2f} |")


if __name__ == "__main__":
    main()
