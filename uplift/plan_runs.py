"""One call for a front door: a budget plan from a scores table, recorded in the registry, with its frontier.

`run_plan` strings together what `winback allocate --record` does step by step: unit costs from the
catalog, the plan spec, treatments left out for failing a guardrail in the source experiment, the
allocation with its random holdout (`uplift.planning.plan_users`), the plan recorded as an experiment
(`experiments.plans.record_plan`, so its effect can be analysed later), and the budget frontier of the
same scores (`uplift.frontier.budget_frontier`) around the chosen budget.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import InputRowError
from experiments.catalog import list_treatments
from experiments.db import RegistryLike
from experiments.definitions import get_experiment
from experiments.plans import PlanRecord, excluded_treatments, record_plan
from uplift.errors import UpliftError
from uplift.frontier import budget_frontier
from uplift.plan_inputs import plan_spec
from uplift.planning import plan_users, split_scores

FRONTIER_STEPS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # budgets of the frontier, as multiples of the chosen one


@dataclass(frozen=True)
class PlanRun:
    """A recorded plan: its summary (counts, cost, forecast, notes), the stored record and the budget frontier."""

    key: str
    summary: dict
    record: PlanRecord
    frontier: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        return {"key": self.key, "summary": self.summary, "record": self.record.to_dict(),
                "frontier": self.frontier.to_dict(orient="records")}


def read_scores(path: str | os.PathLike[str], id_col: str = "user_id", name: str | None = None) -> pd.DataFrame:
    """A scores file (CSV or Parquet): the id column as text, every other column a number (errors name row and column)."""
    path = Path(path)
    source = name or str(path)
    try:
        frame = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                 else pd.read_csv(path, dtype={id_col: str}))
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        # The reader's message names the file it opened (a web upload's temporary path): name it as the user knows it.
        reason = str(error).replace(str(path), source)
        raise InputRowError(source, None, None, f"cannot be read as a CSV or Parquet table: {reason}") from None
    if id_col not in frame.columns:
        raise InputRowError(source, None, id_col, f"missing; the file has: {', '.join(map(str, frame.columns))}")
    frame[id_col] = frame[id_col].astype(str)
    for column in frame.columns.drop(id_col):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() | ~np.isfinite(values.to_numpy(float, na_value=np.nan)))
        if len(bad):
            raise InputRowError(source, int(bad[0]) + 1, str(column),
                                f"expected a number, got {frame[column].iloc[int(bad[0])]!r}")
        frame[column] = values.astype(float)
    return frame


def run_plan(
    database: RegistryLike,
    scores: pd.DataFrame,
    *,
    key: str,
    budget: float,
    capacity: Mapping[str, int] | None = None,
    value: str | float | None = None,
    holdout: float = 0.0,
    seed: int = 0,
    source_experiment: str | None = None,
    allow: Sequence[str] = (),
    id_col: str = "user_id",
    actor: str | None = None,
) -> PlanRun:
    """Allocate `budget` over the scored users (catalog unit costs), keep a holdout, record the plan as `key`."""
    value_column = value if isinstance(value, str) and value in scores.columns else None
    _, uplift, _ = split_scores(scores, id_col, value_column)
    catalog = {t.key: t for t in list_treatments(database)}
    unknown = [str(c) for c in uplift.columns if c not in catalog]
    if unknown:
        raise UpliftError(f"score column(s) {', '.join(unknown)} are not treatments of the catalog "
                          f"({', '.join(catalog) or 'none'}); name each uplift column after its treatment key")
    costs = {str(c): catalog[str(c)].unit_cost for c in uplift.columns}
    spec = plan_spec(costs, budget, capacity={k: int(v) for k, v in (capacity or {}).items()}, value=value,
                     scores=scores)
    metric, exclude = "retained", {}
    if source_experiment:
        metric = get_experiment(source_experiment, database).primary_metric
        exclude = excluded_treatments(database, source_experiment, allow)
    result = plan_users(scores, spec, id_col=id_col, holdout=holdout, seed=seed, exclude=exclude)
    allocation = result.allocation
    chosen = result.frame.assign(treatment_key=result.frame["planned_treatment"].replace("", None),
                                 expected_uplift=allocation.expected_uplift, cost=allocation.cost)
    if chosen["treatment_key"].isna().all():
        why = "; ".join(result.notes) or "no user has a positive expected uplift"
        raise UpliftError(f"plan '{key}' treats nobody, so there is nothing to record: {why}")
    kept = [str(c) for c in uplift.columns if c not in result.excluded]
    # The frontier first: a budget it cannot price (e.g. 1e308, whose larger steps overflow) is refused before
    # anything is written, so a refused form never leaves a recorded plan behind.
    frontier = budget_frontier(uplift[kept], {t: costs[t] for t in kept}, [budget * s for s in FRONTIER_STEPS],
                               spec.value, {t: c for t, c in spec.capacity.items() if t in kept}, seed=seed)
    record = record_plan(database, key, chosen[chosen["treatment_key"].notna()], primary_metric=metric,
                         objective=allocation.objective, budget=budget, holdout=holdout, seed=seed,
                         source_experiment=source_experiment, summary=result.summary(), actor=actor)
    return PlanRun(key, result.summary(), record, frontier)
