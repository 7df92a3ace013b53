"""The allocation's prices found inside Spark by aggregate passes over the scores (issue 14).

Each price is a bisection (uplift/allocation.py `find_prices`); here every step is one pass over the
scores held in Spark that returns only a count per treatment, so no per-user row reaches the driver. The
passes compute exactly what the in-memory allocator computes (the same numpy `_choose` on each batch), so
the prices equal `allocate`'s. The users' priced choices stay in Spark (`priced_choices`) to be written as
Parquet; the in-memory allocator's last greedy step (spending the few units of budget the prices leave)
is not done here.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from uplift.allocation import _choose, find_prices, make_problem

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py


@dataclass(frozen=True)
class SparkPrices:
    """The budget and capacity prices, what the priced choice spends and treats, and how many passes it took."""

    budget_multiplier: float
    capacity_multipliers: dict[str, float]
    spend: float
    counts: dict[str, int]
    passes: int

    def to_dict(self) -> dict:
        return asdict(self)


def _net(batch: pd.DataFrame, treatments: list[str], value: float, costs: np.ndarray) -> np.ndarray:
    """uplift × value − cost, computed as AllocationProblem.net does."""
    uplift = batch[treatments].to_numpy(dtype=np.float64)
    return uplift * np.float64(value) - costs[None, :]


def prices_in_spark(scores: DataFrame, treatments: list[str], costs: Mapping[str, float], budget: float,
                    value_per_retained: float = 1.0, capacity: Mapping[str, int] | None = None, *,
                    max_rounds: int = 5, rel: float = 1e-7) -> SparkPrices:
    """Budget and capacity prices for scores in Spark (one uplift column per treatment), by aggregate passes."""
    problem = make_problem(pd.DataFrame({t: np.zeros(0) for t in treatments}), costs, budget,
                           float(value_per_retained), capacity)
    cost = problem.costs.astype(np.float64)
    frame = scores.select(*treatments).cache()
    passes = 0

    def bounds(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        positive = cost > 0
        for batch in batches:
            net = _net(batch, treatments, value_per_retained, cost)
            ratio = float(np.max(net[:, positive] / cost[positive], initial=0.0)) if positive.any() else 0.0
            yield pd.DataFrame({"ratio": [ratio], "top": [float(net.max(initial=0.0))]})

    found = frame.mapInPandas(bounds, "ratio double, top double").toPandas()
    top_ratio = float(found["ratio"].max()) if len(found) else 0.0
    top_net = float(found["top"].max()) if len(found) else 0.0

    def usage(lam: float, mu: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal passes
        passes += 1
        lam_now, mu_now = float(lam), np.array(mu, dtype=np.float64)

        def count(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                choice = _choose(_net(batch, treatments, value_per_retained, cost), cost, lam_now, mu_now)
                counts = np.bincount(choice[choice >= 0], minlength=len(treatments))
                yield pd.DataFrame({"t": np.arange(len(treatments)), "n": counts.astype(np.int64)})

        rows = frame.mapInPandas(count, "t long, n long").toPandas()  # a row per batch and treatment, no shuffle
        totals = rows.groupby("t")["n"].sum()
        counts = np.zeros(len(treatments), dtype=np.int64)
        counts[totals.index.to_numpy(dtype=int)] = totals.to_numpy(dtype=np.int64)
        return float(counts @ cost), counts

    try:
        lam, mu = find_prices(problem, usage, 0.0, np.zeros(len(treatments)), top_ratio, top_net, max_rounds, rel)
        spend, counts = usage(lam, mu)
    finally:
        frame.unpersist()
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    return SparkPrices(budget_multiplier=float(lam),
                       capacity_multipliers={treatments[t]: float(mu[t]) for t in capped},
                       spend=spend, counts={t: int(c) for t, c in zip(treatments, counts)}, passes=passes)


def priced_choices(scores: DataFrame, id_col: str, treatments: list[str], costs: Mapping[str, float],
                   prices: SparkPrices, value_per_retained: float = 1.0) -> DataFrame:
    """A lazy Spark DataFrame: each user's treatment under the prices (null = control), to write as Parquet."""
    cost = np.array([float(costs[t]) for t in treatments])
    lam = prices.budget_multiplier
    mu = np.array([prices.capacity_multipliers.get(t, 0.0) for t in treatments])
    names = np.array(treatments, dtype=object)

    def choose(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            choice = _choose(_net(batch, treatments, value_per_retained, cost), cost, lam, mu)
            picked = np.where(choice >= 0, names[np.maximum(choice, 0)], None)
            yield pd.DataFrame({id_col: batch[id_col].astype(str).to_numpy(dtype=object), "treatment": picked})

    return scores.select(id_col, *treatments).mapInPandas(choose, f"`{id_col}` string, treatment string")
