"""A CRM plan from scores held in Spark: what `plan_users` does, without a holdout, written by the executors.

As `plan_users` (uplift/planning.py) it leaves out opted-out users (the registry's list, joined in Spark)
and treatments that failed a guardrail, allocates (uplift/spark_margin.py: the same plan as `allocate`),
writes the plan's columns (`PLAN_COLUMNS`) as Parquet, and forecasts the treated users' incremental
retained users, with the calibration interval when the scores carry `se:<t>` columns (their sums per
treatment are all `plan_interval` needs). It keeps no holdout (an exact random share of each
treatment's users needs them in one place) and records nothing in the registry (that writes every
planned user to SQLite); `winback allocate --engine spark` refuses both options.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from uplift.calibration import plan_interval
from uplift.errors import UpliftError
from uplift.inputs import check_scores
from uplift.plan_inputs import PlanSpec
from uplift.planning import PLAN_COLUMNS, SE_PREFIX, UNTREATED_ARM, drop_excluded, split_scores
from uplift.spark_margin import SparkAllocation, allocate_in_spark, final_choices

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py
NUMERIC_TYPES = ("double", "float", "int", "bigint", "smallint", "tinyint")


@dataclass(frozen=True)
class SparkScores:
    """Scores read by Spark: the lazy frame (ids as text), where they came from, and an empty pandas table with
    the same columns (numbers as float) for the checks and option parsing the in-memory path runs."""

    frame: DataFrame
    source: str
    header: pd.DataFrame


def read_scores(path: str | os.PathLike[str], id_col: str, master: str | None = None) -> SparkScores:
    """A Parquet file or folder of scores in a Spark session on `master` (default: $WINBACK_SPARK_MASTER)."""
    from warehouse.spark_engine import _first_line, spark_session

    session = spark_session(master)
    try:
        frame = session.read.parquet(str(path))
    except Exception as error:  # Spark's reader fails as JVM errors of many types (a CSV, a damaged file)
        raise UpliftError(f"{path}: cannot be read as Parquet by Spark ({_first_line(error)})") from error
    kinds = dict(frame.dtypes)
    numeric = {c for c, kind in kinds.items() if kind in NUMERIC_TYPES or kind.startswith("decimal")}
    header = pd.DataFrame({c: pd.Series(dtype=float if c in numeric else object) for c in kinds})
    split_scores(header, id_col)  # the id column is there, and at least one uplift column
    check_scores(header, str(path), id_col)
    return SparkScores(frame.withColumn(id_col, frame[id_col].cast("string")), str(path), header)


@dataclass(frozen=True)
class SparkPlanResult:
    """The plan written to `out`, the allocation behind it and its forecast, as PlanResult has them."""

    allocation: SparkAllocation = field(repr=False)
    out: str
    users: int
    cost: float
    predicted: float
    predicted_value: float
    ci_low: float
    ci_high: float
    left_out: int  # opted-out users among the scores
    excluded: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    held_out: int = 0

    @property
    def treated(self) -> int:
        return sum(self.allocation.counts.values())

    def counts(self) -> dict[str, int]:
        """Users per arm (treatment keys, then untreated), the most first."""
        arms = {**self.allocation.counts, UNTREATED_ARM: self.users - self.treated}
        return dict(sorted(((k, v) for k, v in arms.items() if v), key=lambda kv: -kv[1]))


def _plan_rows(id_col: str):
    """mapInPandas body: final choices → the plan's columns (no holdout: arm is the treatment or untreated)."""
    def rows(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            chosen = batch["treatment"].notna().to_numpy()
            key = batch["treatment"].fillna("").to_numpy(dtype=object)
            yield pd.DataFrame({"user_id": batch[id_col].to_numpy(dtype=object),
                                "arm": np.where(chosen, key, UNTREATED_ARM), "treatment_key": key,
                                "planned_treatment": key, "expected_uplift": batch["expected_uplift"].to_numpy(),
                                "cost": batch["cost"].to_numpy()})
    return rows


def plan_in_spark(scores: SparkScores, spec: PlanSpec, out: str | os.PathLike[str], *, id_col: str = "user_id",
                  exclude: Mapping[str, Iterable[str]] | None = None, opted_out: Iterable[str] = (),
                  **allocate_options: Any) -> SparkPlanResult:
    """Allocate spec's budget over the scores in Spark and write the plan as Parquet to `out` (see module doc)."""
    value_column = spec.value_source if spec.value_source not in ("none", "number") else None
    _, uplift, se = split_scores(scores.header, id_col, value_column)
    kept, costs, capacity, excluded, notes = drop_excluded(list(uplift.columns), spec, exclude)
    frame, left_out = scores.frame, 0
    ids = sorted(set(map(str, opted_out)))
    if ids:  # opt-outs win: a plan never offers them a treatment
        spark = frame.sparkSession
        listed = spark.createDataFrame(pd.DataFrame({id_col: ids}), f"`{id_col}` string")
        left_out = int(frame.join(listed, on=id_col, how="left_semi").count())
        frame = frame.join(listed, on=id_col, how="left_anti")
    value: float | str | None = spec.value_source  # a column of the scores, read in Spark
    if spec.value_source in ("none", "number"):
        value = None if spec.value is None else float(np.asarray(spec.value))
    with_se = se is not None and all(t in se.columns for t in kept)
    allocation = allocate_in_spark(frame, id_col, costs, spec.budget, value, capacity, treatments=kept,
                                   sum_columns={t: SE_PREFIX + t for t in kept} if with_se else None,
                                   **allocate_options)
    schema = ", ".join(f"{c} {'double' if c in ('expected_uplift', 'cost') else 'string'}" for c in PLAN_COLUMNS)
    final_choices(frame, id_col, allocation).mapInPandas(_plan_rows(id_col), schema).write.mode("overwrite").parquet(
        str(out))
    sums = np.array([allocation.uplift_sums[t] for t in kept])
    if with_se:
        predicted, low, high = plan_interval(sums, np.array([allocation.column_sums[t] for t in kept]), np.array(kept))
    else:
        predicted, low, high = float(sums.sum()), math.nan, math.nan
    return SparkPlanResult(allocation, str(out), allocation.users, allocation.total_cost, predicted,
                           allocation.expected_value, low, high, left_out, excluded, (*notes, *allocation.notes))
