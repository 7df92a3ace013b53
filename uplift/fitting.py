"""Fit uplift learners on a randomized experiment: split, score every candidate on the holdout, keep the best.

The chosen learner is refitted on all rows for scoring new users; the train-split model and its
held-out predictions are kept so the policy built on them can be proven on users it never saw.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from uplift.errors import UpliftError
from uplift.evaluation import LearnerReport, choose_learner, evaluate_predictions, stratified_split
from uplift.learners import LEARNERS, LearnerName, UpliftModel

LearnerChoice = Literal["auto", "s", "s_fine", "t", "x", "dr", "forest"]
AUTO_CANDIDATES: tuple[str, ...] = ("s", "t", "x", "dr")


@dataclass(frozen=True)
class UpliftFit:
    """A fitted uplift model with the held-out evidence for choosing it."""

    learner: str
    model: UpliftModel  # fitted on every row (or on the train split when refit=False)
    holdout_model: UpliftModel  # fitted on the train split only
    reports: list[LearnerReport]
    holdout: pd.DataFrame = field(repr=False)  # held-out rows with arm, outcome and the chosen learner's predictions
    features: list[str] = field(default_factory=list)
    treatments: list[str] = field(default_factory=list)
    control: str = "control"
    holdout_predictions: dict = field(default_factory=dict, repr=False)  # learner -> held-out uplift per treatment

    def metrics(self) -> dict:
        """Held-out figures of every learner tried (for the model store and reports)."""
        return {
            "chosen": self.learner,
            "learners": {
                r.learner: {"mean_qini": r.mean_qini, "per_treatment": [s.to_dict() for s in r.scores]}
                for r in self.reports
            },
        }

    def to_dict(self) -> dict:
        return {"learner": self.learner, "features": self.features, "treatments": self.treatments,
                "control": self.control, **self.metrics()}


def feature_columns(data: pd.DataFrame, exclude: Sequence[str], features: Sequence[str] | None = None) -> list[str]:
    """The feature list: the given columns (checked), else every column not excluded."""
    if features:
        missing = [c for c in features if c not in data.columns]
        if missing:
            raise UpliftError(f"data lacks feature column(s) {', '.join(missing)}")
        return list(features)
    chosen = [c for c in data.columns if c not in set(exclude)]
    if not chosen:
        raise UpliftError("no feature columns left once the id, treatment and outcome columns are set aside")
    return chosen


def fit_uplift(
    data: pd.DataFrame,
    *,
    treatment_col: str,
    outcome_col: str,
    control: str,
    id_col: str | None = None,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    learner: LearnerChoice = "auto",
    candidates: Sequence[str] = AUTO_CANDIDATES,
    arm_weights: dict[str, float] | None = None,
    holdout: float = 0.3,
    seed: int = 0,
    n_estimators: int = 200,
    refit: bool = True,
    progress: bool = True,
) -> UpliftFit:
    """Fit one learner (or each candidate, choosing by held-out Qini) on an experiment's users."""
    required = [c for c in (treatment_col, outcome_col, id_col) if c]
    missing = [c for c in required if c not in data.columns]
    if missing:
        raise UpliftError(f"data lacks column(s) {', '.join(missing)}; columns are {', '.join(map(str, data.columns))}")
    if learner != "auto" and learner not in LEARNERS:
        raise UpliftError(f"unknown learner '{learner}'; choose auto or one of {', '.join(LEARNERS)}")
    unknown = [c for c in candidates if c not in LEARNERS]
    if unknown:
        raise UpliftError(f"unknown candidate learner(s) {', '.join(unknown)}; choose from {', '.join(LEARNERS)}")
    columns = feature_columns(data, [*required, *exclude], features)
    X = data[columns].reset_index(drop=True)
    treatment = data[treatment_col].astype(str).reset_index(drop=True)
    y = pd.to_numeric(data[outcome_col], errors="coerce").reset_index(drop=True)
    if y.isna().any():
        row = int(np.flatnonzero(y.isna().to_numpy())[0])
        raise UpliftError(f"outcome column '{outcome_col}' has a missing or non-numeric value at row {row + 1}")
    train, test = stratified_split(treatment, y, holdout=holdout, seed=seed)
    names = list(candidates) if learner == "auto" else [learner]

    def make(name: str) -> UpliftModel:
        if name not in LEARNERS:
            raise UpliftError(f"unknown learner {name!r}; learners: {', '.join(LEARNERS)}")
        return UpliftModel(cast(LearnerName, name), control_name=control, arm_weights=arm_weights,
                           n_estimators=n_estimators, random_state=seed)

    reports, fitted = [], {}
    bar = tqdm(names, desc="uplift learners", disable=not progress, unit="learner")
    for name in bar:
        bar.set_postfix_str(name)
        model = make(name).fit(X.iloc[train], y.iloc[train], treatment=treatment.iloc[train])
        predicted = model.predict(X.iloc[test])
        reports.append(evaluate_predictions(name, predicted, treatment.iloc[test], y.iloc[test], control))
        fitted[name] = (model, predicted)
    best = choose_learner(reports).learner
    holdout_model, predicted = fitted[best]
    final = make(best).fit(X, y, treatment=treatment) if refit else holdout_model
    held = pd.concat(
        [
            data.iloc[test][[id_col]].reset_index(drop=True) if id_col else pd.DataFrame(index=range(len(test))),
            X.iloc[test].reset_index(drop=True),
            pd.DataFrame({"arm": treatment.iloc[test].to_numpy(), "outcome": y.iloc[test].to_numpy()}),
            predicted.add_prefix("uplift_").reset_index(drop=True),
        ],
        axis=1,
    )
    return UpliftFit(
        learner=best, model=final, holdout_model=holdout_model, reports=reports, holdout=held,
        features=columns, treatments=list(final.treatments_), control=control,
        holdout_predictions={name: pred.reset_index(drop=True) for name, (_, pred) in fitted.items()},
    )
