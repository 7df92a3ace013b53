"""A plan for the CRM: allocate a budget over scored users, keep a random holdout, leave out unsafe treatments.

`plan_users` is what every front door calls: it separates a scores table into uplift columns (one per
catalog treatment key), their calibration standard errors (`se:<key>`) and extra columns such as
`clv`; drops treatments that failed a guardrail in the experiment the model came from (unless
allowed); allocates; keeps a random share of each treatment's chosen users untreated as the plan's
holdout; and forecasts the incremental retained users of the users actually treated, with an interval
when the scores carry standard errors.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.plans import HOLDOUT_ARM, holdout_draw
from uplift.allocation import CONTROL, Allocation, allocate
from uplift.calibration import plan_interval
from uplift.errors import UpliftError
from uplift.plan_inputs import CLV_COLUMN, PlanSpec
from uplift.plan_notes import UNSPENT_SHARE

SE_PREFIX = "se:"
UNTREATED_ARM = "untreated"
PLAN_COLUMNS = ["user_id", "arm", "treatment_key", "planned_treatment", "expected_uplift", "cost"]


@dataclass(frozen=True)
class PlanResult:
    """Who gets what (`frame`), the allocation behind it, the forecast and why treatments or budget were left."""

    allocation: Allocation = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    predicted: float  # incremental retained users expected from the treated (holdout excluded)
    predicted_value: float  # their expected value (nan when no value per retained user was given)
    ci_low: float  # nan when the scores carry no standard errors
    ci_high: float
    held_out: int
    excluded: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def treated(self) -> int:
        return int((self.frame["treatment_key"] != "").sum())

    def counts(self) -> dict[str, int]:
        """Users per arm (treatment keys, holdout, untreated)."""
        return {str(k): int(v) for k, v in self.frame["arm"].value_counts().items()}

    def summary(self) -> dict:
        a = self.allocation
        return {"objective": a.objective, "budget": a.budget, "cost": float(self.frame["cost"].sum()),
                "treated": self.treated, "held_out": self.held_out, "users": len(self.frame),
                "predicted_incremental_retained": self.predicted, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "expected_value": self.predicted_value, "counts": self.counts(), "excluded": self.excluded,
                "notes": list(self.notes)}


def split_scores(scores: pd.DataFrame, id_col: str, value_column: str | None = None
                 ) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame | None]:
    """Ids, uplift columns (one per treatment) and standard-error columns (None when absent) of a scores table."""
    if id_col not in scores.columns:
        raise UpliftError(f"scores have no id column '{id_col}'; columns are {', '.join(map(str, scores.columns))}")
    extra = {id_col, CLV_COLUMN, CONTROL, *([value_column] if value_column else [])}
    se_cols = [c for c in scores.columns if str(c).startswith(SE_PREFIX)]
    uplift = scores[[c for c in scores.columns if c not in extra and c not in se_cols]]
    if uplift.shape[1] == 0:
        raise UpliftError("the scores hold no uplift column; expected one column per treatment after the id")
    se = None
    if se_cols:
        se = pd.DataFrame({c[len(SE_PREFIX):]: scores[c].to_numpy(float) for c in se_cols}, index=scores.index)
    return scores[id_col].astype(str), uplift, se


def plan_users(
    scores: pd.DataFrame,
    spec: PlanSpec,
    *,
    id_col: str = "user_id",
    holdout: float = 0.0,
    seed: int = 0,
    exclude: Mapping[str, Iterable[str]] | None = None,
) -> PlanResult:
    """Allocate spec's budget over the scored users, keep a holdout, and forecast the plan (see module doc)."""
    value_column = spec.value_source if spec.value_source not in ("none", "number") else None
    ids, uplift, se = split_scores(scores, id_col, value_column)
    kept, costs, capacity, excluded, exclusion_notes = drop_excluded(list(uplift.columns), spec, exclude)
    allocation = allocate(uplift[kept], costs, spec.budget, spec.value, capacity)
    labels = allocation.labels()
    chosen = labels != CONTROL
    planned = np.where(chosen, np.asarray(labels, dtype=object), np.asarray(None, dtype=object))
    frame = pd.DataFrame({"user_id": ids.to_numpy(), "planned_treatment": planned})
    held = holdout_draw(frame.rename(columns={"planned_treatment": "treatment_key"}), holdout, seed)
    frame["arm"] = np.where(held, HOLDOUT_ARM, np.where(chosen, labels, UNTREATED_ARM))
    treated = chosen & ~held
    frame["treatment_key"] = np.where(treated, labels, "")
    frame["expected_uplift"] = np.where(treated, allocation.expected_uplift, 0.0)
    frame["cost"] = np.where(treated, allocation.cost, 0.0)
    frame["planned_treatment"] = frame["planned_treatment"].fillna("")
    rows = np.flatnonzero(treated)
    if se is not None and all(t in se.columns for t in kept):
        errors = se[kept].to_numpy(float)[rows, allocation.choice[rows]]
        predicted, low, high = plan_interval(allocation.expected_uplift[rows], errors, labels[rows])
    else:
        predicted, low, high = float(allocation.expected_uplift[rows].sum()), math.nan, math.nan
    value = math.nan
    if allocation.objective == "value":
        per_user = np.broadcast_to(np.asarray(spec.value, dtype=float), (len(frame),))
        value = float((allocation.expected_uplift[rows] * per_user[rows]).sum())
    notes = list(allocation.notes)
    spent = float(frame["cost"].sum())
    if held.any() and (allocation.notes or spent < (1 - UNSPENT_SHARE) * spec.budget):
        # The allocation's notes speak of the plan before the holdout; say what the held-out users leave unspent.
        kept_back = float(allocation.cost[held & chosen].sum())
        notes.append(f"the {int((held & chosen).sum())} held-out users' treatments ({kept_back:,.2f}) are not sent: "
                     f"the send list spends {spent:,.2f} of the {spec.budget:,.2f} budget")
    return PlanResult(allocation, frame[PLAN_COLUMNS], predicted, value, low, high, int(held.sum()), excluded,
                      (*exclusion_notes, *notes))


def drop_excluded(treatments: list[str], spec: PlanSpec, exclude: Mapping[str, Iterable[str]] | None
                  ) -> tuple[list[str], dict[str, float], dict[str, int], dict[str, list[str]], tuple[str, ...]]:
    """The treatments kept (those that failed no guardrail, or were allowed), their costs and capacities, the
    ones left out with their guardrails, and a note for each left out."""
    excluded = {k: list(v) for k, v in (exclude or {}).items() if k in treatments}
    kept = [c for c in treatments if c not in excluded]
    if not kept:
        raise UpliftError(f"every treatment is left out ({', '.join(excluded)}); allow one explicitly "
                          f"(`--allow-treatment KEY`, or 'Allow even if it failed a guardrail' on the budget page)")
    costs = {t: c for t, c in spec.costs.items() if t not in excluded}
    capacity = {t: c for t, c in spec.capacity.items() if t not in excluded}
    notes = tuple(f"{key} left out: it failed guardrail(s) {', '.join(metrics)} in the experiment the model came "
                  f"from (allow it with --allow-treatment {key}, or tick it under 'Allow even if it failed a "
                  f"guardrail' on the budget page)" for key, metrics in reversed(excluded.items()))
    return kept, costs, capacity, excluded, notes
