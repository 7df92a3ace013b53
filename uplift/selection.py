"""Choosing among candidates without believing the winner: a nested forecast of the choice, and which candidates tie.

Two biases make a plan look better on the experiment than it is. Calibration fitted on the same users picks
the deciles whose noise was lucky: `cross_calibrated` calibrates each fold on the other folds. And the
candidate with the highest plan value is the best of several noisy estimates on the same users (the winner's
curse): `nested_forecast` repeats the choice with each fold held back and values the choice on that fold, so
the forecast is made on users the choice did not see. `ties` names the candidates whose plans the experiment
cannot tell from the best one's.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from uplift.calibration import Method, fit_calibration
from uplift.policy_value import PolicyEstimate, interval


@dataclass(frozen=True)
class NestedForecast:
    """The value per user of choosing a candidate and planning with it, measured on users the choice did not see."""

    estimate: PolicyEstimate
    fold_choices: list[str] = field(default_factory=list)  # the candidate chosen with each fold held back

    def to_dict(self) -> dict:
        return {"estimate": self.estimate.to_dict(), "fold_choices": self.fold_choices}


def cross_calibrated(predicted: pd.DataFrame, scores: pd.DataFrame, fold: np.ndarray, *,
                     method: Method = "isotonic", gate: bool = True) -> pd.DataFrame:
    """Each fold's out-of-fold predictions calibrated on the other folds' users, so no user's calibrated uplift was
    fitted on their own outcome (a plan that picks the deciles that look best is then valued without their luck)."""
    out = pd.DataFrame(0.0, index=predicted.index, columns=predicted.columns)
    for k in np.unique(fold):
        inner, outer = fold != k, fold == k
        calibration = fit_calibration(predicted[inner], scores[inner], method=method, gate=gate)
        out.loc[outer] = calibration.apply(predicted[outer])[0].to_numpy()
    return out


def nested_forecast(candidate_terms: Mapping[str, np.ndarray], fold: np.ndarray, *, alpha: float = 0.05
                    ) -> NestedForecast:
    """Per fold k: the candidate whose plan is worth most on the other folds, valued on fold k; the terms of all
    folds give the estimate of choosing-then-planning and its interval."""
    names = list(candidate_terms)
    terms = np.zeros(len(fold))
    choices = []
    for k in np.unique(fold):
        inner, outer = fold != k, fold == k
        best = max(names, key=lambda name: float(candidate_terms[name][inner].mean()))
        terms[outer] = candidate_terms[best][outer]
        choices.append(best)
    return NestedForecast(interval("chosen plan, nested", "dr", terms, alpha), choices)


def ties(candidate_terms: Mapping[str, np.ndarray], best: str, alpha: float = 0.05) -> list[str]:
    """The candidates whose plan's paired difference from the best plan's has an interval that covers 0."""
    out = []
    for name, terms in candidate_terms.items():
        if name == best:
            continue
        gap = interval(f"{best} - {name}", "dr", candidate_terms[best] - terms, alpha)
        if gap.ci_low <= 0:
            out.append(name)
    return out


SHRINK_FLOOR = 0.25  # the calibrated uplift is never cut below this share of itself


def supported_share(honest: float, promised: float, cost: float = 0.0, floor: float = SHRINK_FLOOR) -> float:
    """What share of a plan's promise (its calibrated uplift summed, or value net of `cost`) held-out users support:
    an honest DR total (the fit passes the upper end of its 95 % interval, so noise alone shrinks nothing) over the
    promised one, on gross value, between `floor` and 1 (a promise is only shrunk)."""
    if promised + cost <= 0:
        return 1.0
    return float(np.clip((honest + cost) / (promised + cost), floor, 1.0))
