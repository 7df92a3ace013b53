"""The allocation's prices found inside Spark by aggregate passes over the scores (issue 14).

Each price is a bisection (uplift/prices.py `find_prices`); here each pass over the scores held in Spark
answers the next few steps of it (a count per treatment at each price the steps can ask), so no per-user
row reaches the driver. The
passes compute exactly what the in-memory allocator computes (the same numpy `_choose` on each batch, on
the same net gains: uplift × value − cost, or the uplift itself when no value per retained user is
given), so the prices equal `allocate`'s below its warm-start size. The users' priced choices stay in
Spark (`priced_choices`); the repair and the greedy fill that spend the last units of budget are in
uplift/spark_margin.py.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from uplift.allocation import AllocationProblem, Objective, _choose, make_problem
from uplift.errors import UpliftError
from uplift.prices import find_prices, lookahead_for

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py


@dataclass(frozen=True)
class NetGains:
    """How a batch of score rows becomes the n × T net gains, as `AllocationProblem.net` computes them.

    The value per retained user is one number, or a column of the scores (`value_column`) read per row;
    with objective "retained" the net gain is the uplift itself and costs only enter through the budget.
    """

    treatments: list[str]
    costs: np.ndarray
    objective: Objective
    value: float = 1.0
    value_column: str | None = None

    @property
    def columns(self) -> list[str]:
        """The score columns a pass reads."""
        return [*self.treatments, *([self.value_column] if self.value_column else [])]

    def uplift(self, batch: pd.DataFrame) -> np.ndarray:
        return batch[self.treatments].to_numpy(dtype=np.float64)

    def values(self, batch: pd.DataFrame) -> np.ndarray:
        """The value per retained user of each row (1 under the "retained" objective, as make_problem sets it)."""
        if self.value_column is not None:
            return batch[self.value_column].to_numpy(dtype=np.float64)
        return np.full(len(batch), self.value if self.objective == "value" else 1.0)

    def net(self, batch: pd.DataFrame) -> np.ndarray:
        uplift = self.uplift(batch)
        if self.objective == "retained":
            return uplift
        return uplift * self.values(batch)[:, None] - self.costs[None, :]


def net_gains(treatments: list[str], costs: Mapping[str, float], budget: float,
              value_per_retained: float | str | None, capacity: Mapping[str, int] | None
              ) -> tuple[AllocationProblem, NetGains]:
    """Checked inputs (make_problem's checks and messages, on no users) and the gains they define.

    `value_per_retained` is a number, the name of a scores column, or None (maximize retained users).
    """
    column = value_per_retained if isinstance(value_per_retained, str) else None
    value = None if value_per_retained is None else 1.0 if column else float(value_per_retained)
    problem = make_problem(pd.DataFrame({t: np.zeros(0) for t in treatments}), costs, budget, value, capacity)
    gains = NetGains(list(problem.treatments), problem.costs.astype(np.float64), problem.objective,
                     1.0 if value is None else value, column)
    return problem, gains


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

    def mu(self, treatments: list[str]) -> np.ndarray:
        return np.array([self.capacity_multipliers.get(t, 0.0) for t in treatments], dtype=np.float64)


def _bounds(frame: DataFrame, gains: NetGains) -> tuple[float, float, int]:
    """One pass: the bisection's brackets (largest net gain per cost, largest net gain), the number of rows,
    and a check of every cell (make_problem's messages)."""
    cost = gains.costs
    positive = cost > 0
    names = [*gains.treatments, *([gains.value_column] if gains.value_column else [])]

    def bounds(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            uplift = gains.uplift(batch)
            bad = [int((~np.isfinite(uplift[:, t])).sum()) for t in range(len(gains.treatments))]
            if gains.value_column:
                value = gains.values(batch)
                bad.append(int((~np.isfinite(value) | (value < 0)).sum()))
            net = np.nan_to_num(gains.net(batch), nan=0.0, posinf=0.0, neginf=0.0)
            ratio = float(np.max(net[:, positive] / cost[positive], initial=0.0)) if positive.any() else 0.0
            yield pd.DataFrame({"ratio": [ratio], "top": [float(net.max(initial=0.0))], "rows": [len(batch)],
                                **{f"bad{i}": [b] for i, b in enumerate(bad)}})

    schema = ", ".join(["ratio double", "top double", "rows long", *(f"bad{i} long" for i in range(len(names)))])
    found = frame.mapInPandas(bounds, schema).toPandas()
    for i, name in enumerate(names):
        if len(found) and int(found[f"bad{i}"].sum()):
            what = ("value per retained user must be finite and non-negative for every user"
                    if name == gains.value_column else f"uplift column '{name}' has missing or infinite values")
            raise UpliftError(what)
    if not len(found):
        return 0.0, 0.0, 0
    return float(found["ratio"].max()), float(found["top"].max()), int(found["rows"].sum())


def counts_at_prices(net: np.ndarray, costs: np.ndarray, lams: np.ndarray, mus: np.ndarray,
                     cells: int = 4_000_000) -> np.ndarray:
    """Users per treatment of the priced choice (`_choose`) at each of K price pairs: a K × T array.

    The same floating-point operations as `_choose`, for many prices at once (in chunks of about `cells`
    price × user × treatment numbers), so the counts are exactly those `_choose` gives one pair at a time.
    """
    n, n_t = net.shape
    out = np.zeros((len(lams), n_t), dtype=np.int64)
    step = max(1, cells // max(n * n_t, 1))
    for start in range(0, len(lams), step):
        price = (lams[start:start + step, None] * costs[None, :] + mus[start:start + step]).astype(net.dtype)
        priced = net[None, :, :] - price[:, None, :]
        best = priced.argmax(axis=2)
        chosen = np.take_along_axis(priced, best[:, :, None], axis=2)[:, :, 0] > 0
        for t in range(n_t):
            out[start:start + step, t] = (chosen & (best == t)).sum(axis=1)
    return out


class SparkUsage:
    """`usage(lam, mu) -> (spend, counts)` of the priced choice in Spark, many price pairs per aggregate pass.

    `prefetch(pairs)` answers every pair not yet known in one pass (a count per pair and treatment per
    batch; the pairs are a loop over prices, not over users) and keeps the answers, so the bisection's
    questions, told in advance (uplift/prices.py), cost one pass per `LOOKAHEAD` steps, and a repeated
    question costs none. `passes` counts the passes.
    """

    def __init__(self, frame: DataFrame, gains: NetGains):
        self.frame, self.gains, self.passes = frame, gains, 0
        self.known: dict[tuple[float, ...], np.ndarray] = {}

    @staticmethod
    def _key(lam: float, mu: np.ndarray) -> tuple[float, ...]:
        return (float(lam), *np.asarray(mu, dtype=np.float64).tolist())

    def prefetch(self, pairs: Sequence[tuple[float, np.ndarray]]) -> None:
        todo = {}
        for lam, mu in pairs:
            key = self._key(lam, mu)
            if key not in self.known:
                todo[key] = (float(lam), np.array(mu, dtype=np.float64))
        if not todo:
            return
        self.passes += 1
        asked, gains, n_t = list(todo.values()), self.gains, len(self.gains.treatments)

        lams = np.array([lam for lam, _ in asked])
        mus = np.array([mu for _, mu in asked]).reshape(len(asked), n_t)

        def count(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                counts = counts_at_prices(gains.net(batch), gains.costs, lams, mus)
                yield pd.DataFrame({"pair": np.repeat(np.arange(len(asked)), n_t), "t": np.tile(np.arange(n_t), len(asked)),
                                    "n": counts.ravel()})

        rows = np.array(self.frame.mapInPandas(count, "pair long, t long, n long").collect(), dtype=np.int64)
        totals = np.zeros((len(asked), n_t), dtype=np.int64)  # rows per batch, summed here: no shuffle
        if len(rows):
            np.add.at(totals, (rows[:, 0], rows[:, 1]), rows[:, 2])
        for key, counts in zip(todo, totals):
            self.known[key] = counts

    def __call__(self, lam: float, mu: np.ndarray) -> tuple[float, np.ndarray]:
        key = self._key(lam, mu)
        if key not in self.known:
            self.prefetch([(lam, mu)])
        counts = self.known[key].copy()
        return float(counts @ self.gains.costs), counts


def prices_in_spark(scores: DataFrame, treatments: list[str], costs: Mapping[str, float], budget: float,
                    value_per_retained: float | str | None = 1.0, capacity: Mapping[str, int] | None = None, *,
                    max_rounds: int = 5, rel: float = 1e-7, lookahead: int | None = None) -> SparkPrices:
    """Budget and capacity prices for scores in Spark (one uplift column per treatment), by aggregate passes.

    `value_per_retained`: a number, a column of `scores` (read per user), or None to maximize retained users.
    """
    problem, gains = net_gains(treatments, costs, budget, value_per_retained, capacity)
    frame = scores.select(*gains.columns).cache()
    try:
        return price_frame(frame, problem, gains, max_rounds=max_rounds, rel=rel, lookahead=lookahead)
    finally:
        frame.unpersist()


def price_frame(frame: DataFrame, problem: AllocationProblem, gains: NetGains, *, max_rounds: int = 5,
                rel: float = 1e-7, lookahead: int | None = None) -> SparkPrices:
    """`prices_in_spark` on a frame already selected (and best cached) by the caller: a bounds pass, then bisection.

    `lookahead`: bisection levels one pass answers (None: by the table's size, `lookahead_for`)."""
    top_ratio, top_net, rows = _bounds(frame, gains)
    usage = SparkUsage(frame, gains)
    depth = lookahead or lookahead_for(rows * len(gains.treatments))
    lam, mu = find_prices(problem, usage, 0.0, np.zeros(len(gains.treatments)), top_ratio, top_net, max_rounds, rel,
                          prefetch=usage.prefetch, lookahead=depth)
    spend, counts = usage(lam, mu)
    capped = np.flatnonzero(np.isfinite(problem.capacity))
    return SparkPrices(budget_multiplier=float(lam),
                       capacity_multipliers={gains.treatments[t]: float(mu[t]) for t in capped},
                       spend=spend, counts={t: int(c) for t, c in zip(gains.treatments, counts)},
                       passes=usage.passes + 1)  # + the bounds pass


def priced_choices(scores: DataFrame, id_col: str, treatments: list[str], costs: Mapping[str, float],
                   prices: SparkPrices, value_per_retained: float | str | None = 1.0) -> DataFrame:
    """A lazy Spark DataFrame: each user's treatment under the prices (null = control), to write as Parquet."""
    _, gains = net_gains(treatments, costs, 0.0, value_per_retained, None)
    lam, mu = prices.budget_multiplier, prices.mu(gains.treatments)
    names = np.array(gains.treatments, dtype=object)

    def choose(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            choice = _choose(gains.net(batch), gains.costs, lam, mu)
            picked = np.where(choice >= 0, names[np.maximum(choice, 0)], None)
            yield pd.DataFrame({id_col: batch[id_col].astype(str).to_numpy(dtype=object), "treatment": picked})

    return scores.select(id_col, *gains.columns).mapInPandas(choose, f"`{id_col}` string, treatment string")
