"""One call for the demo and other pipelines: fit uplift on an experiment, allocate a budget, prove it off-policy.

The proof uses only held-out users: the policy is built from the train-split model with the budget
scaled to the holdout's share, and its value is estimated (IPW and doubly robust) next to each
blanket treatment's measured effect. The plan itself scores every user with the model refitted on all.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.models import ModelRecord
from uplift.allocation import Allocation, allocate
from uplift.errors import UpliftError
from uplift.fitting import LearnerChoice, UpliftFit, fit_uplift
from uplift.policy_value import PolicyEstimate, arm_outcome_predictions, blanket_values, off_policy_value
from uplift.store import save_uplift_model


@dataclass(frozen=True)
class UpliftRun:
    """A fitted model, the plan for every user, and the held-out evidence that the plan pays."""

    fit: UpliftFit = field(repr=False)
    record: ModelRecord | None
    allocation: Allocation = field(repr=False)
    plan: pd.DataFrame = field(repr=False)  # user_id, treatment, expected_uplift, cost
    scores: pd.DataFrame = field(repr=False)  # predicted uplift of every user, one column per treatment
    proof: list[PolicyEstimate]  # the policy's gain per held-out user over control (ipw, dr)
    blankets: list[PolicyEstimate]  # each treatment's measured gain per held-out user

    def summary_lines(self) -> list[str]:
        """Human-readable lines for a printed summary."""
        lines = [f"uplift learner {self.fit.learner} (held-out mean Qini "
                 f"{next(r.mean_qini for r in self.fit.reports if r.learner == self.fit.learner):.4f}; "
                 + ", ".join(f"{r.learner} {r.mean_qini:.4f}" for r in self.fit.reports) + ")"]
        a = self.allocation
        lines.append(f"allocation: {sum(a.counts.values())} users treated ("
                     + ", ".join(f"{k} {v}" for k, v in a.counts.items()) + f"), cost {a.total_cost:,.2f} of "
                     f"{a.budget:,.2f}, expected incremental retained {a.expected_retained:,.1f}")
        for e in [*self.proof, *self.blankets]:
            lines.append(f"  {e.policy:<24} {e.estimator:<20} {e.value_per_user:+.4f} per user "
                         f"[{e.ci_low:+.4f}, {e.ci_high:+.4f}]")
        return lines

    def to_dict(self) -> dict:
        return {"fit": self.fit.to_dict(), "record": self.record.to_dict() if self.record else None,
                "allocation": self.allocation.to_dict(), "proof": [e.to_dict() for e in self.proof],
                "blankets": [e.to_dict() for e in self.blankets]}


def fit_and_allocate(
    data: pd.DataFrame,
    *,
    treatment_col: str,
    outcome_col: str,
    control: str,
    id_col: str,
    costs: Mapping[str, float],
    budget: float,
    value_per_retained: float | str = 1.0,
    capacity: Mapping[str, int] | None = None,
    arm_weights: dict[str, float] | None = None,
    learner: LearnerChoice = "auto",
    exclude: Sequence[str] = (),
    name: str | None = None,
    experiment_key: str | None = None,
    db: str | None = None,
    model_dir: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> UpliftRun:
    """Fit (choosing the learner on held-out Qini), store the model if named, allocate, and prove on the holdout."""
    if isinstance(value_per_retained, str) and value_per_retained not in data.columns:
        raise UpliftError(f"value column '{value_per_retained}' is not in the data")
    value_cols = [value_per_retained] if isinstance(value_per_retained, str) else []
    fit = fit_uplift(data, treatment_col=treatment_col, outcome_col=outcome_col, control=control, id_col=id_col,
                     exclude=[*exclude, *value_cols], learner=learner, arm_weights=arm_weights, seed=seed,
                     progress=progress)
    record = (save_uplift_model(fit, name, data=data, experiment_key=experiment_key, db=db, model_dir=model_dir)
              if name else None)
    value_all = data[value_per_retained].to_numpy(float) if value_cols else float(value_per_retained)
    scores = fit.model.predict(data[fit.features])
    allocation = allocate(scores, costs, budget, value_all, capacity)
    plan = allocation.to_frame(data[id_col].to_numpy())

    held = fit.holdout
    index = data.reset_index(drop=True).set_index(id_col).index
    rows = index.get_indexer(held[id_col])
    train = np.setdiff1d(np.arange(len(data)), rows)
    share = len(held) / len(data)
    value_held = value_all[rows] if value_cols else value_all
    predicted = held[[f"uplift_{t}" for t in fit.treatments]].set_axis(fit.treatments, axis=1)
    caps = {k: int(v * share) for k, v in (capacity or {}).items()}
    policy = allocate(predicted, costs, budget * share, value_held, caps).labels()
    policy = np.where(policy == "control", control, policy)
    weights = arm_weights or (held["arm"].value_counts(normalize=True).to_dict())
    frame = data.reset_index(drop=True)
    mu = arm_outcome_predictions(frame.iloc[train][fit.features], frame.iloc[train][treatment_col].astype(str),
                                 frame.iloc[train][outcome_col], held[fit.features], seed=seed)
    proof = off_policy_value(held["arm"], held["outcome"], policy, weights, control=control, outcome_predictions=mu)
    return UpliftRun(fit=fit, record=record, allocation=allocation, plan=plan, scores=scores, proof=proof,
                     blankets=blanket_values(held["arm"], held["outcome"], control=control))
