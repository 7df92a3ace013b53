"""One call for the demo and other pipelines: fit calibrated uplift on an experiment, allocate a budget, forecast it.

The fit is `uplift.targeting.fit_targeting`: cross-fitted candidates, per-decile calibration with a
noise gate, the candidate chosen by the doubly robust value (out of fold) of the plan it produces at
this budget, costs and capacities. The plan scores every user with the chosen calibrated model, and
its incremental retained users are forecast from the calibration blocks with a 95 % interval.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.models import ModelRecord
from uplift.allocation import Allocation, allocate
from uplift.choice_notes import tie_note
from uplift.errors import UpliftError
from uplift.plan_inputs import PlanSpec, check_costs
from uplift.planning import drop_excluded
from uplift.policy_value import PolicyEstimate, blanket_values
from uplift.store import save_uplift_model
from uplift.targeting import DEFAULT_CANDIDATES, PlanForecast, TargetingFit, fit_targeting, forecast


@dataclass(frozen=True)
class UpliftRun:
    """The chosen calibrated model, the plan for every user, its forecast and each candidate's out-of-fold evidence."""

    fit: TargetingFit = field(repr=False)
    record: ModelRecord | None
    allocation: Allocation = field(repr=False)
    plan: pd.DataFrame = field(repr=False)  # user_id, treatment, expected_uplift, cost
    scores: pd.DataFrame = field(repr=False)  # calibrated uplift of every user, one column per treatment
    forecast: PlanForecast  # the plan's incremental retained users from calibrated uplift, 95 % interval
    proof: list[PolicyEstimate]  # the chosen candidate's plan value per user (doubly robust, out of fold)
    blankets: list[PolicyEstimate]  # each treatment's measured gain per user over control
    left_out: dict[str, list[str]] = field(default_factory=dict)  # treatment -> guardrails it failed (not planned)
    notes: tuple[str, ...] = ()  # why each left-out treatment is not in the plan

    @property
    def planned_treatments(self) -> list[str]:
        """The treatments the plan could give: the fitted ones less those left out."""
        return [t for t in self.fit.treatments if t not in self.left_out]

    def summary_lines(self) -> list[str]:
        """Human-readable lines for a printed summary."""
        unit = "incremental retained users" if self.fit.objective == "retained" else "net value"
        lines = [f"uplift learner {self.fit.learner}, chosen by its plan's value per user ({unit}, doubly robust, "
                 f"out of {len(self.fit.models[self.fit.learner].fold_models)} folds); each candidate:"]
        width = max(len(c.learner) for c in self.fit.candidates)  # names line up however long
        for c in self.fit.candidates:
            mark = "*" if c.learner == self.fit.learner else " "
            e = c.policy_value
            lines.append(f"  {mark} {c.learner:<{width}} value {e.value_per_user:+.4f} [{e.ci_low:+.4f}, {e.ci_high:+.4f}]"
                         f"  qini {c.mean_qini:+.4f}  treats {c.treated:,}")
        if note := tie_note(self.fit.learner, self.fit.tied, len(self.fit.candidates)):
            lines.append(f"  note: {note}")  # as `winback uplift fit` says
        a, f = self.allocation, self.forecast
        lines.append(f"allocation: {sum(a.counts.values()):,} users treated ("
                     + ", ".join(f"{k} {v:,}" for k, v in a.counts.items()) + f"), cost {a.total_cost:,.2f} of "
                     f"{a.budget:,.2f}")
        lines.extend(f"  note: {note}" for note in (*self.notes, *a.notes))  # as `winback allocate` says
        lines.append(f"forecast: {f.predicted:,.1f} incremental retained users [95% {f.ci_low:,.1f}, "
                     f"{f.ci_high:,.1f}] (the plan's calibrated uplift); measured effect of each blanket treatment:")
        for e in self.blankets:
            lines.append(f"  {e.policy:<22} {e.value_per_user:+.4f} per user [{e.ci_low:+.4f}, {e.ci_high:+.4f}]")
        return lines

    def to_dict(self) -> dict:
        f = self.forecast
        return {"fit": self.fit.to_dict(), "record": self.record.to_dict() if self.record else None,
                "allocation": self.allocation.to_dict(),
                "forecast": {"predicted": f.predicted, "ci_low": f.ci_low, "ci_high": f.ci_high},
                "proof": [e.to_dict() for e in self.proof], "blankets": [e.to_dict() for e in self.blankets],
                "left_out": self.left_out, "notes": list(self.notes)}


def fit_and_allocate(
    data: pd.DataFrame,
    *,
    treatment_col: str,
    outcome_col: str,
    control: str,
    id_col: str,
    costs: Mapping[str, float],
    budget: float,
    value_per_retained: float | str | None = None,
    capacity: Mapping[str, int] | None = None,
    arm_weights: dict[str, float] | None = None,
    learner: str = "auto",
    exclude: Sequence[str] = (),
    left_out: Mapping[str, Sequence[str]] | None = None,
    name: str | None = None,
    experiment_key: str | None = None,
    db: str | None = None,
    model_dir: str | None = None,
    folds: int = 3,
    n_estimators: int = 100,
    seed: int = 0,
    progress: bool = True,
) -> UpliftRun:
    """Fit by `fit_targeting` (learner chosen by plan value), store the model if named, allocate and forecast.

    `exclude` names data columns that are not features; `left_out` maps treatments that failed a guardrail to those
    guardrails (`experiments.plans.failed_guardrails`): they are fitted but not planned, as `winback allocate
    --model` does, with a note each."""
    value: float | np.ndarray | None
    if isinstance(value_per_retained, str):
        if value_per_retained not in data.columns:
            raise UpliftError(f"value column '{value_per_retained}' is not in the data")
        value, source = data[value_per_retained].to_numpy(float), value_per_retained
    else:
        value, source = (None, "none") if value_per_retained is None else (float(value_per_retained), "number")
    spec = PlanSpec(check_costs(costs), float(budget), dict(capacity or {}), value, source, len(data))
    candidates = DEFAULT_CANDIDATES if learner == "auto" else (learner,)
    fit = fit_targeting(data, treatment_col=treatment_col, outcome_col=outcome_col, control=control, spec=spec,
                        id_col=id_col, exclude=exclude, candidates=candidates, ensemble=learner == "auto",
                        unplanned=tuple(left_out or ()),
                        arm_weights=arm_weights, folds=folds, seed=seed, n_estimators=n_estimators, progress=progress)
    record = (save_uplift_model(fit, name, data=data, experiment_key=experiment_key, db=db, model_dir=model_dir)
              if name else None)
    scores, se = fit.model.predict_with_se(data[fit.features].reset_index(drop=True))
    kept, costs_kept, capacity_kept, dropped, notes = drop_excluded(list(fit.treatments), spec, left_out)
    allocation = allocate(scores[kept], costs_kept, spec.budget, value, capacity_kept)
    frame = data.reset_index(drop=True)
    arms, outcome = frame[treatment_col].astype(str), pd.to_numeric(frame[outcome_col]).astype(float)
    return UpliftRun(fit=fit, record=record, allocation=allocation, plan=allocation.to_frame(frame[id_col].to_numpy()),
                     scores=scores, forecast=forecast(allocation, se[kept]), proof=[fit.forecast_value],
                     blankets=blanket_values(arms, outcome, control=control), left_out=dropped, notes=notes)


