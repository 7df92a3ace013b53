"""The one budget-plan service every door calls (CLI `allocate`, the Budget page, the REST API, programme cycles).

`plan_budget` screens the scored users through the send gate (`experiments.send_gate`: opt-outs, programme
holdouts, contact caps), prices treatments (given costs or the catalog), leaves out treatments that failed a
guardrail in the source experiment, allocates with a random holdout (`uplift.planning.plan_users`), prices the
budget frontier around the chosen budget (`uplift.frontier.budget_frontier`) and records the plan as an experiment
(`experiments.plans.record_plan`, so its effect can be analysed later).
"""
from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.errors import InputRowError
from experiments.catalog import list_treatments
from experiments.db import RegistryLike, open_registry
from experiments.definitions import get_experiment
from experiments.identity import check_ids
from experiments.models import load_model_record
from experiments.plans import PlanRecord, check_plan_key, excluded_treatments, record_plan
from experiments.send_gate import Screening, screen_users
from experiments.snapshots import take_snapshot
from experiments.table_files import read_text_table
from uplift.errors import UpliftError
from uplift.frontier import budget_frontier
from uplift.plan_inputs import CONTROL, check_cost_keys, plan_spec
from uplift.plan_notes import chosen_on_note
from uplift.planning import CLV_COLUMN, SE_PREFIX, PlanResult, plan_users, split_scores

FRONTIER_STEPS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # budgets of the frontier, as multiples of the chosen one


@dataclass(frozen=True)
class PlanRun:
    """A budget plan: who gets what (`result`), who the send gate left out, and, when asked, the stored record and
    the budget frontier."""

    key: str | None
    result: PlanResult = field(repr=False)
    screening: Screening = field(repr=False)
    record: PlanRecord | None = None
    frontier: pd.DataFrame | None = field(default=None, repr=False)
    source_experiment: str | None = None
    notes: tuple[str, ...] = ()  # about the inputs (e.g. a budget unlike the one the model was chosen on)

    @property
    def summary(self) -> dict:
        """Counts, cost, forecast and notes, with how many scored users the send gate left out and why."""
        summary = self.result.summary()
        return {**summary, "notes": [*self.notes, *summary["notes"]], "left_out": dict(self.screening.left_out)}

    def to_dict(self) -> dict:
        return {"key": self.key, "summary": self.summary,
                "record": None if self.record is None else self.record.to_dict(),
                "frontier": None if self.frontier is None else self.frontier.to_dict(orient="records")}


def read_scores(path: str | os.PathLike[str], id_col: str = "user_id", name: str | None = None,
                expected: Collection[str] | None = None, value: str | float | None = None) -> pd.DataFrame:
    """A scores file (CSV or Parquet) read by the import rules: ids byte for byte (no NA spellings, no padding, each
    once), the header checked against `expected` score columns before any cell is converted, every other cell a
    finite number, and an uplift (a treatment's column) within [-1, 1]. Errors name the file, row and column."""
    source = name or str(path)
    try:
        frame = read_text_table(path)
    except InputRowError as error:
        if error.source == str(path):  # a web upload's temporary path: name the file as the user knows it
            raise InputRowError(source, error.row, error.column, error.problem.replace(str(path), source)) from None
        raise
    if id_col not in frame.columns:
        raise InputRowError(source, None, id_col, f"missing; the file has: {', '.join(map(str, frame.columns))}")
    others = [str(c) for c in frame.columns if c != id_col]
    if expected is not None:
        value_column = {value} if isinstance(value, str) and _names_a_column(value) else set()
        allowed = set(expected) | {f"{SE_PREFIX}{t}" for t in expected} | {CLV_COLUMN, CONTROL} | value_column
        unknown = [c for c in others if c not in allowed]
        if unknown:
            hint = (f" ({len(unknown)} such columns: is this a features file? a plan takes the scores `winback uplift "
                    "score` writes)") if len(unknown) > 10 else ""
            raise InputRowError(source, None, unknown[0], f"is not a treatment of the catalog "
                                f"({', '.join(sorted(expected)) or 'none'}); name each uplift column after its "
                                f"treatment key{hint}")
    check_ids(frame[id_col], source, id_col, error=InputRowError)
    repeated = np.flatnonzero(frame[id_col].duplicated().to_numpy())
    if len(repeated):
        row = int(repeated[0])
        first = int(np.flatnonzero(frame[id_col].eq(frame[id_col].iloc[row]).to_numpy())[0])
        raise InputRowError(source, row + 1, id_col, f"user {frame[id_col].iloc[row]!r} is listed again "
                                                     f"(first at row {first + 1}); give each user once")
    for column in others:
        text = frame[column]
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise InputRowError(source, int(bad[0]) + 1, column, f"expected a number, got {text.iloc[int(bad[0])]!r}")
        is_uplift = column not in (CLV_COLUMN,) and not column.startswith(SE_PREFIX) and (
            expected is None or column in expected)
        if is_uplift:
            outside = np.flatnonzero(np.abs(values) > 1)
            if len(outside):
                raise InputRowError(source, int(outside[0]) + 1, column,
                                    f"an uplift is a change of a probability, within [-1, 1]; got {values[outside[0]]:g}")
        frame[column] = values
    return frame


def _names_a_column(value: str) -> bool:
    """A value per retained user typed as text names a scores column (`clv`) unless it reads as a number."""
    try:
        float(value)
    except ValueError:
        return True
    return False


def plan_budget(
    database: RegistryLike,
    scores: pd.DataFrame,
    *,
    budget: float,
    costs: Mapping[str, float] | None = None,
    capacity: Mapping[str, int] | None = None,
    value: str | float | None = None,
    holdout: float = 0.0,
    seed: int = 0,
    model: str | None = None,
    source_experiment: str | None = None,
    allow: Sequence[str] = (),
    id_col: str = "user_id",
    key: str | None = None,
    actor: str | None = None,
    frontier: bool = True,
    costs_source: str = "the catalog's costs",
) -> PlanRun:
    """The one plan service of every door: screen the scored users through the send gate (opt-outs, programme
    holdouts, contact caps), allocate `budget` (unit costs from `costs` or the catalog, capacities from the catalog
    overridden by `capacity`), leave out treatments that failed a guardrail in the source experiment (given, or the
    one `model` was fitted on) unless allowed, keep a random holdout, price the frontier and record the plan as `key`.
    """
    if key is not None:
        check_plan_key(database, key)  # a taken key costs nothing: refused before any work
    screening = screen_users(database, scores[id_col] if id_col in scores.columns else [])
    if id_col in scores.columns and screening.n_left_out:
        scores = scores[screening.kept].reset_index(drop=True)
        if scores.empty:
            raise UpliftError(f"no scored user may be sent a treatment ({screening.describe()}): there is no plan")
    value_column = value if isinstance(value, str) and value in scores.columns else None
    _, uplift, _ = split_scores(scores, id_col, value_column)
    treatments = [str(c) for c in uplift.columns]
    catalog = {t.key: t for t in list_treatments(database)}
    if costs is None:
        unknown = [t for t in treatments if t not in catalog]
        if unknown:
            listed = ", ".join(unknown[:10]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 10 else "")
            raise UpliftError(f"score column(s) {listed} are not treatments of the catalog "
                              f"({', '.join(catalog) or 'none'}); name each uplift column after its treatment key, "
                              "or give their unit costs" + (" (is this a features file? a plan takes the scores "
                                                            "`winback uplift score` writes)" if len(unknown) > 10 else ""))
        costs = {t: catalog[t].unit_cost for t in treatments}
    caps = {t: int(cap) for t in treatments if t in catalog and (cap := catalog[t].capacity) is not None}
    caps |= {k: int(v) for k, v in (capacity or {}).items()}
    spec = plan_spec(costs, budget, capacity=caps, value=value, scores=scores)
    check_cost_keys(spec.costs, treatments, costs_source)
    unknown_allowed = sorted(set(allow) - set(treatments))
    if unknown_allowed:
        raise UpliftError(f"allowed treatment(s) {', '.join(unknown_allowed)} are not among the scored treatments "
                          f"({', '.join(treatments)}); a typo would silently allow nothing")
    notes: list[str] = []
    if model is not None:
        model_record = load_model_record(model, database)
        note = chosen_on_note(model_record.metrics.get("chosen_on") or {}, spec.per_user(len(scores)))
        if note:
            notes.append(note)
        if source_experiment is None:
            source_experiment = model_record.experiment_key
    metric, exclude = "retained", {}
    if source_experiment:
        metric = get_experiment(source_experiment, database).primary_metric
        exclude = excluded_treatments(database, source_experiment, allow)
    result = plan_users(scores, spec, id_col=id_col, holdout=holdout, seed=seed, exclude=exclude)
    allocation = result.allocation
    chosen = result.frame.assign(treatment_key=result.frame["planned_treatment"].replace("", None),
                                 expected_uplift=allocation.expected_uplift, cost=allocation.cost)
    if key is not None and chosen["treatment_key"].isna().all():
        why = "; ".join(result.notes) or "no user has a positive expected uplift"
        raise UpliftError(f"plan '{key}' treats nobody, so there is nothing to record: {why}")
    prices = None
    if frontier:
        kept = [t for t in treatments if t not in result.excluded]
        # The frontier first: a budget it cannot price (e.g. 1e308, whose larger steps overflow) is refused before
        # anything is written, so a refused form never leaves a recorded plan behind.
        prices = budget_frontier(uplift[kept], {t: spec.costs[t] for t in kept}, [budget * s for s in FRONTIER_STEPS],
                                 1.0 if spec.value is None else spec.value,  # no value: count retained users
                                 {t: c for t, c in spec.capacity.items() if t in kept}, seed=seed)
    record = None
    if key is not None:
        record = record_plan(database, key, chosen[chosen["treatment_key"].notna()], primary_metric=metric,
                             objective=allocation.objective, budget=budget, holdout=holdout, seed=seed,
                             source_experiment=source_experiment, model=model,
                             summary={**result.summary(), "left_out": dict(screening.left_out)}, actor=actor)
        take_snapshot(open_registry(database), key, actor=actor)  # as after a start: users per arm show at once
    return PlanRun(key, result, screening, record, prices, source_experiment, tuple(notes))
