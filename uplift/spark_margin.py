"""A whole allocation in Spark: prices, then the few users the repair drops and the greedy fill adds (issue 14).

After pricing (uplift/spark_allocation.py) every user holds a priced choice. The in-memory allocator
(uplift/allocation.py) then (1) drops, for each treatment over its capacity, its users with the least
net gain; (2) when over budget, drops the treated users with the least gain per cost until within it;
(3) spends what is left on untreated users, best gain per cost first, within each treatment's room.
Each step touches only users at the margin, so here each is a top-k query in Spark (`orderBy().limit(k)`:
a top k per partition, then merged, no shuffle of the table; ties broken by user id, so a re-run makes the
same plan) that brings home only those users' ids,
gains and costs; the step itself then runs on the driver with the in-memory code (`greedy_take`). What
reaches the driver is bounded:

- capacity repair of t: exactly counts[t] − capacity[t] rows, the excess at the prices;
- budget repair: the treated users with the least gain per cost until their cost covers the overspend,
  at most ceil(overspend / smallest positive unit cost) + 1 rows; k doubles only in the odd case that
  free treatments sit among them;
- fill, per open treatment t: at most min(room[t], floor(left / cost[t]) + 1) rows. The fill takes at
  most room[t] users of t, and once k users of t cost more than what is left, the running cost of the
  whole ordered list does too, so it stops before reaching the next one. A free uncapped treatment has
  price 0, so users left untreated at the prices have no positive gain for it: only users the repair
  dropped can be its candidates, so their number bounds it.

At prices found to 1e-7 the overspend and the budget left are worth a few units, so a handful of rows
come home. The final choice of each user (the priced choice, then these few overrides, broadcast in the
closure) is applied in Spark by `final_choices` when the plan is written, and one more aggregate pass
sums the totals and the facts the notes are written from. Below `allocate`'s warm-start size (200,000
users) the prices, and so the plan, are `allocate`'s; above it `allocate` starts from a subsample's prices
and stops at 1e-5, so the two can differ in a few marginal users (Spark always runs the 1e-7 search).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from uplift.allocation import CONTROL, AllocationProblem, Objective, _choose, best_open, greedy_take
from uplift.plan_notes import NoteFacts, explain_facts
from uplift.spark_allocation import NetGains, SparkPrices, net_gains, price_frame

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py
TREATED_SCHEMA = "id string, t long, gain double, ratio double, cost double"


@dataclass(frozen=True)
class SparkAllocation:
    """An allocation made in Spark: the totals of `Allocation`, without per-user arrays (see `final_choices`)."""

    treatments: list[str]
    objective: Objective
    budget: float
    total_cost: float
    expected_retained: float
    expected_value: float  # nan under the "retained" objective, as in Allocation
    net_value: float
    budget_multiplier: float
    capacity_multipliers: dict[str, float]
    counts: dict[str, int]
    users: int
    notes: tuple[str, ...]
    passes: int  # Spark jobs over the scores: pricing passes, margin queries, the totals pass
    margin_rows: int  # rows brought to the driver by the repair and the fill
    uplift_sums: dict[str, float] = field(default_factory=dict)  # per treatment: the uplift of its users summed
    column_sums: dict[str, float] = field(default_factory=dict)  # per treatment: its `sum_columns` summed over its users
    gains: NetGains = field(default=None, repr=False)  # type: ignore[assignment]
    overrides: dict[str, int] = field(default_factory=dict, repr=False)  # user id -> treatment index (−1 = none)

    @property
    def roi(self) -> float:
        return self.net_value / self.total_cost if self.total_cost > 0 else math.nan

    def to_dict(self) -> dict:
        keys = ("treatments", "objective", "budget", "total_cost", "expected_retained", "expected_value", "net_value",
                "budget_multiplier", "capacity_multipliers", "counts", "users", "notes", "passes", "margin_rows")
        return {**{k: getattr(self, k) for k in keys}, "roi": self.roi}


def _final_choice(batch: pd.DataFrame, id_col: str, gains: NetGains, net: np.ndarray, lam: float, mu: np.ndarray,
                  overrides: Mapping[str, int]) -> np.ndarray:
    """The priced choice of each row, then the overrides of the repair and the fill."""
    choice = _choose(net, gains.costs, lam, mu)
    if overrides:
        forced = batch[id_col].astype(str).map(overrides)
        choice = np.where(forced.notna(), forced.fillna(-1).to_numpy(dtype=np.int64), choice)
    return choice


def _treated(frame: DataFrame, id_col: str, gains: NetGains, lam: float, mu: np.ndarray,
             overrides: Mapping[str, int]) -> DataFrame:
    """Lazy: the users holding a treatment, with its gain, gain per cost and cost (the repair's candidates)."""
    def rows(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            net = gains.net(batch)
            choice = _final_choice(batch, id_col, gains, net, lam, mu, overrides)
            keep = np.flatnonzero(choice >= 0)
            t = choice[keep]
            gain, cost = net[keep, t], gains.costs[t]
            yield pd.DataFrame({"id": batch[id_col].astype(str).to_numpy(dtype=object)[keep], "t": t, "gain": gain,
                                "ratio": gain / np.maximum(cost, 1e-12), "cost": cost})

    return frame.mapInPandas(rows, TREATED_SCHEMA)


def _idle(frame: DataFrame, id_col: str, gains: NetGains, lam: float, mu: np.ndarray, overrides: Mapping[str, int],
          open_t: np.ndarray) -> DataFrame:
    """Lazy: untreated users with a positive gain for an open treatment, their best one (the fill's candidates)."""
    def rows(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            net = gains.net(batch)
            idle = np.flatnonzero(_final_choice(batch, id_col, gains, net, lam, mu, overrides) < 0)
            best, gain = best_open(net[idle], open_t)
            keep = gain > 0
            cost = gains.costs[best[keep]]
            yield pd.DataFrame({"id": batch[id_col].astype(str).to_numpy(dtype=object)[idle[keep]], "t": best[keep],
                                "gain": gain[keep], "ratio": gain[keep] / np.maximum(cost, 1e-12), "cost": cost})

    return frame.mapInPandas(rows, TREATED_SCHEMA)


def _usage(counts: np.ndarray, gains: NetGains) -> float:
    return float(counts @ gains.costs)


def _repair(frame: DataFrame, id_col: str, gains: NetGains, prices: SparkPrices, budget: float,
            capacity: np.ndarray) -> tuple[dict[str, int], np.ndarray, int, int]:
    """Ids the repair drops (→ −1), the counts per treatment after it, rows brought home and queries run."""
    lam, mu = prices.budget_multiplier, prices.mu(gains.treatments)
    counts = np.array([prices.counts[t] for t in gains.treatments], dtype=np.int64)
    dropped: dict[str, int] = {}
    rows_home = queries = 0
    excess = {t: int(counts[t] - capacity[t]) for t in np.flatnonzero(np.isfinite(capacity)) if counts[t] > capacity[t]}
    if excess:
        treated = _treated(frame, id_col, gains, lam, mu, {})
        parts = [treated.filter(f"t = {t}").orderBy("gain", "id").limit(e) for t, e in excess.items()]
        low = reduce(lambda a, b: a.unionByName(b), parts).toPandas()
        queries, rows_home = 1, len(low)
        dropped.update(dict.fromkeys(low["id"], -1))
        counts -= np.bincount(low["t"].to_numpy(dtype=np.int64), minlength=len(counts))
    spend = _usage(counts, gains)
    if spend > budget:
        over = spend - budget
        positive = gains.costs[(gains.costs > 0) & (counts > 0)]
        k = min(int(counts.sum()), math.ceil(over / positive.min()) + 1 if len(positive) else int(counts.sum()))
        treated = _treated(frame, id_col, gains, lam, mu, dropped)
        while True:
            low = treated.orderBy("ratio", "id").limit(k).toPandas()
            queries, rows_home = queries + 1, rows_home + len(low)
            covered = np.flatnonzero(spend - np.cumsum(low["cost"].to_numpy()) <= budget)
            if len(covered) or k >= counts.sum():
                break
            k = min(2 * k, int(counts.sum()))
        low = low.iloc[: int(covered[0]) + 1] if len(covered) else low
        dropped.update(dict.fromkeys(low["id"], -1))
        counts -= np.bincount(low["t"].to_numpy(dtype=np.int64), minlength=len(counts))
    return dropped, counts, rows_home, queries


def _fill(frame: DataFrame, id_col: str, gains: NetGains, prices: SparkPrices, budget: float, capacity: np.ndarray,
          overrides: dict[str, int], counts: np.ndarray) -> tuple[dict[str, int], int, int]:
    """Ids the greedy fill treats (→ their treatment), with rows brought home and queries run."""
    left = budget - _usage(counts, gains)
    room = capacity - counts
    open_t = (room > 0) & (gains.costs <= left)
    if left <= 0 or not open_t.any():
        return {}, 0, 0
    limits = {}
    for t in np.flatnonzero(open_t):
        k = min(room[t], math.floor(left / gains.costs[t]) + 1 if gains.costs[t] > 0 else math.inf)
        limits[int(t)] = int(k if math.isfinite(k) else sum(1 for v in overrides.values() if v < 0))
    limits = {t: k for t, k in limits.items() if k > 0}
    if not limits:
        return {}, 0, 0
    idle = _idle(frame, id_col, gains, prices.budget_multiplier, prices.mu(gains.treatments), overrides, open_t)
    parts = [idle.filter(f"t = {t}").orderBy(["gain", "id"], ascending=[False, True]).limit(k) for t, k in limits.items()]
    top = reduce(lambda a, b: a.unionByName(b), parts).toPandas().sort_values("id", kind="stable")
    best = top["t"].to_numpy(dtype=np.int64)
    take = greedy_take(best, top["gain"].to_numpy(), top["cost"].to_numpy(), room, left)
    return dict(zip(top["id"][take], best[take].tolist())), len(top), 1


def margin_overrides(frame: DataFrame, id_col: str, gains: NetGains, prices: SparkPrices, problem: AllocationProblem
                     ) -> tuple[dict[str, int], int, int]:
    """The repair, then the fill, at any prices: user id -> treatment index (−1: dropped), the rows brought to
    the driver, and the Spark queries run. With the priced choice elsewhere, this is `_fill(_repair(_choose))`."""
    dropped, counts, rows_home, queries = _repair(frame, id_col, gains, prices, problem.budget, problem.capacity)
    added, fill_rows, fill_queries = _fill(frame, id_col, gains, prices, problem.budget, problem.capacity, dropped,
                                           counts)
    return {**dropped, **added}, rows_home + fill_rows, queries + fill_queries


def final_choices(scores: DataFrame, id_col: str, allocation: SparkAllocation) -> DataFrame:
    """Lazy: id, treatment (null = control), expected_uplift and cost per user, as `Allocation.to_frame` has them."""
    gains, overrides = allocation.gains, allocation.overrides
    lam = allocation.budget_multiplier
    mu = np.array([allocation.capacity_multipliers.get(t, 0.0) for t in gains.treatments])
    names = np.array(gains.treatments, dtype=object)

    def rows(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            choice = _final_choice(batch, id_col, gains, gains.net(batch), lam, mu, overrides)
            treated = choice >= 0
            at = np.maximum(choice, 0)
            uplift = gains.uplift(batch)[np.arange(len(batch)), at]
            yield pd.DataFrame({"id": batch[id_col].astype(str).to_numpy(dtype=object),
                                "treatment": np.where(treated, names[at], None),
                                "expected_uplift": np.where(treated, uplift, 0.0),
                                "cost": np.where(treated, gains.costs[at], 0.0)})

    frame = scores.select(id_col, *gains.columns).mapInPandas(
        rows, "id string, treatment string, expected_uplift double, cost double")
    return frame.withColumnRenamed("id", id_col) if id_col != "id" else frame


def _totals(frame: DataFrame, id_col: str, gains: NetGains, lam: float, mu: np.ndarray, overrides: Mapping[str, int],
            sum_columns: Mapping[str, str]) -> tuple[NoteFacts, np.ndarray, np.ndarray, dict[str, float]]:
    """One pass: the note facts, uplift and uplift × value summed per treatment, and `sum_columns` per treatment."""
    names = gains.treatments
    n_t = len(names)
    summed = [(names.index(t), column) for t, column in sum_columns.items()]

    def rows(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            net = gains.net(batch)
            choice = _final_choice(batch, id_col, gains, net, lam, mu, overrides)
            uplift, value = gains.uplift(batch), gains.values(batch)
            worth = uplift * value[:, None]
            positive, mine = net > 0, choice[:, None] == np.arange(n_t)[None, :]
            out = {"t": np.arange(n_t), "users": np.repeat(len(batch), n_t),
                   "positive_users": np.repeat(int(positive.any(axis=1).sum()), n_t),
                   "counts": mine.sum(axis=0), "wanted": (positive & (choice < 0)[:, None]).sum(axis=0),
                   "top_gap": (worth - gains.costs[None, :]).max(axis=0, initial=-np.inf),
                   "top_worth": worth.max(axis=0, initial=-np.inf),
                   "uplift": np.where(mine, uplift, 0.0).sum(axis=0), "value": np.where(mine, worth, 0.0).sum(axis=0)}
            for i, (t, column) in enumerate(summed):
                extra = np.zeros(n_t)
                extra[t] = batch[column].to_numpy(dtype=np.float64)[choice == t].sum()
                out[f"s{i}"] = extra
            yield pd.DataFrame(out)

    schema = ", ".join(["t long", "users long", "positive_users long", "counts long", "wanted long", "top_gap double",
                        "top_worth double", "uplift double", "value double", *(f"s{i} double" for i in range(len(summed)))])
    parts = frame.mapInPandas(rows, schema).toPandas()
    per_t = parts.groupby("t").agg({"counts": "sum", "wanted": "sum", "top_gap": "max", "top_worth": "max",
                                    "uplift": "sum", "value": "sum", **{f"s{i}": "sum" for i in range(len(summed))}}
                                   ).reindex(range(n_t))
    first = parts[parts["t"] == 0]
    facts = NoteFacts(users=int(first["users"].sum()), counts=per_t["counts"].fillna(0).to_numpy(dtype=np.int64),
                      wanted=per_t["wanted"].fillna(0).to_numpy(dtype=np.int64),
                      positive_users=int(first["positive_users"].sum()),
                      top_gap=per_t["top_gap"].fillna(-np.inf).to_numpy(), top_worth=per_t["top_worth"].fillna(-np.inf).to_numpy())
    sums = {names[t]: float(per_t[f"s{i}"].fillna(0).iloc[t]) for i, (t, _) in enumerate(summed)}
    return facts, per_t["uplift"].fillna(0).to_numpy(), per_t["value"].fillna(0).to_numpy(), sums


def allocate_in_spark(scores: DataFrame, id_col: str, costs: Mapping[str, float], budget: float,
                      value_per_retained: float | str | None = None, capacity: Mapping[str, int] | None = None, *,
                      treatments: list[str] | None = None, sum_columns: Mapping[str, str] | None = None,
                      max_rounds: int = 5, rel: float = 1e-7, lookahead: int | None = None) -> SparkAllocation:
    """`allocate` on scores held in Spark: prices by aggregate passes, then repair and fill at the margin.

    `treatments` are the uplift columns (default: every column of `costs` but control); `value_per_retained`
    is a number, a column of `scores`, or None to maximize incremental retained users; `sum_columns` maps a
    treatment to a column summed over its treated users (the plan sums the calibration errors `se:<t>`).
    Per-user rows reach the driver only for the repair and the fill, bounded as the module doc says (the
    excess over each capacity, the overspend over the cheapest cost, the budget left over each open
    treatment's cost, each plus one): `margin_rows` reports how many did.
    """
    names = list(treatments) if treatments is not None else [t for t in costs if t != CONTROL]
    problem, gains = net_gains(names, costs, budget, value_per_retained, capacity)
    sum_columns = {t: c for t, c in (sum_columns or {}).items() if t in gains.treatments}
    frame = scores.select(id_col, *gains.columns, *sorted(set(sum_columns.values()))).cache()
    try:
        prices = price_frame(frame, problem, gains, max_rounds=max_rounds, rel=rel, lookahead=lookahead)
        lam, mu = prices.budget_multiplier, prices.mu(gains.treatments)
        overrides, rows_home, queries = margin_overrides(frame, id_col, gains, prices, problem)
        facts, uplift, value, sums = _totals(frame, id_col, gains, lam, mu, overrides, sum_columns)
    finally:
        frame.unpersist()
    total_cost = _usage(facts.counts, gains)
    retained_mode = problem.objective == "retained"
    expected_value = math.nan if retained_mode else float(value.sum())
    return SparkAllocation(
        treatments=gains.treatments, objective=problem.objective, budget=problem.budget, total_cost=total_cost,
        expected_retained=float(uplift.sum()), expected_value=expected_value,
        net_value=math.nan if retained_mode else expected_value - total_cost, budget_multiplier=lam,
        capacity_multipliers=prices.capacity_multipliers,
        counts={t: int(c) for t, c in zip(gains.treatments, facts.counts)}, users=facts.users,
        notes=explain_facts(problem, facts, total_cost), passes=prices.passes + queries + 1,
        margin_rows=rows_home,
        uplift_sums={t: float(u) for t, u in zip(gains.treatments, uplift)}, column_sums=sums, gains=gains, overrides=overrides)
