"""What a stored uplift model showed at fit time, as chart-ready rows: uplift by decile and Qini curves.

`uplift.targeting.fit_targeting` records in the model store's metrics the calibration table (per
treatment × decile: mean predicted uplift, the held-out doubly robust mean with its SE and size, the
calibrated value and the noise gate) and, since curves are stored, each candidate's out-of-fold Qini
curve per treatment. This module reads a `ModelRecord` and returns those as plain rows for pages, the
API and CSV files; what a record lacks (older records, churn models) comes back as a note, never as an
error or a plausible fake.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

from experiments.models import ModelRecord
from uplift.choice_notes import forecast_precision, precision_note, tie_note
from uplift.plan_notes import blanket_note

DECILE_COLUMNS = ("treatment", "decile", "n", "predicted", "observed", "se", "ci_low", "ci_high", "calibrated",
                  "gated")
CURVES_MISSING = "Qini curves not recorded for this model (fitted before curves were stored; refit it to record them)"
DECILES_MISSING = ("uplift by decile not recorded for this model (only models fitted by calibrated targeting, "
                   "`winback uplift fit`, record it)")


@dataclass(frozen=True)
class DecileRow:
    """One treatment × decile of predicted uplift (decile 1 = highest predicted), observed on held-out users."""

    treatment: str
    decile: int
    n: int
    predicted: float  # mean out-of-fold predicted uplift
    observed: float  # mean doubly robust score of the decile's users (held out)
    se: float
    ci_low: float  # observed ± z(1 − alpha/2) × se
    ci_high: float
    calibrated: float  # what the stored model predicts for this decile (after the noise gate)
    gated: bool  # set to 0: the decile's block was not significantly positive


@dataclass(frozen=True)
class QiniCurve:
    """One candidate's out-of-fold Qini curve for one treatment, with the random-targeting line under it."""

    learner: str
    treatment: str
    chosen: bool
    share: list[float]  # of the treatment's and control's users, highest predicted uplift first
    gain: list[float]  # cumulative incremental outcome among the treated reached (causalml get_qini)
    random: list[float]  # the straight line from 0 to the curve's end


@dataclass(frozen=True)
class ModelEvidence:
    """A stored model's decile rows and Qini curves; a note says why either is empty."""

    name: str
    deciles: list[DecileRow] = field(default_factory=list)
    curves: list[QiniCurve] = field(default_factory=list)
    deciles_note: str | None = None
    curves_note: str | None = None
    blankets: list[dict] = field(default_factory=list)  # each treatment to random users, the plan's gain over it
    blanket_note: str | None = None  # when the chosen plan is not shown to beat the best of them
    forecast: dict | None = None  # the chosen plan's forecast per user (nested) and its precision
    forecast_note: str | None = None  # when the forecast is wider than ±15 % (or includes 0)
    tied: list[str] = field(default_factory=list)  # candidates the experiment cannot tell from the chosen one
    tie_note: str | None = None

    @property
    def treatments(self) -> list[str]:
        """Treatments in the order the rows first name them."""
        return list(dict.fromkeys([r.treatment for r in self.deciles] + [c.treatment for c in self.curves]))

    def deciles_of(self, treatment: str) -> list[DecileRow]:
        return [r for r in self.deciles if r.treatment == treatment]

    def curves_of(self, treatment: str) -> list[QiniCurve]:
        return [c for c in self.curves if c.treatment == treatment]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "treatments": self.treatments}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def decile_rows(record: ModelRecord, *, alpha: float = 0.05) -> list[DecileRow]:
    """The record's calibration table as rows with a normal (1 − alpha) interval on the observed uplift."""
    z = NormalDist().inv_cdf(1 - alpha / 2)
    rows = []
    for row in record.metrics.get("calibration") or []:
        observed, se = _number(row.get("observed")), _number(row.get("se"))
        rows.append(DecileRow(
            treatment=str(row["treatment"]), decile=int(row["decile"]), n=int(row.get("n") or 0),
            predicted=_number(row.get("predicted")), observed=observed, se=se,
            ci_low=observed - z * se, ci_high=observed + z * se, calibrated=_number(row.get("calibrated")),
            gated=bool(row.get("gated")),
        ))
    return sorted(rows, key=lambda r: (r.treatment, r.decile))


def qini_curves(record: ModelRecord) -> list[QiniCurve]:
    """Every candidate's recorded Qini curve per treatment (chosen candidate first); empty when none was recorded."""
    chosen = record.metrics.get("chosen")
    curves = []
    for candidate in record.metrics.get("candidates") or []:
        for curve in candidate.get("qini_curves") or []:
            share, gain = [_number(v) for v in curve.get("share", [])], [_number(v) for v in curve.get("gain", [])]
            if len(share) < 2 or len(share) != len(gain):
                continue
            end = gain[-1]
            curves.append(QiniCurve(learner=str(candidate["learner"]), treatment=str(curve["treatment"]),
                                    chosen=candidate["learner"] == chosen, share=share, gain=gain,
                                    random=[s * end for s in share]))
    return sorted(curves, key=lambda c: (c.treatment, not c.chosen))


def model_evidence(record: ModelRecord) -> ModelEvidence:
    """Decile rows and Qini curves of one stored model, or notes saying they were not recorded."""
    if record.kind != "uplift":
        return ModelEvidence(record.name)
    deciles, curves = decile_rows(record), qini_curves(record)
    blankets, gains = record.metrics.get("blankets") or [], record.metrics.get("gains_over_blankets") or []
    rows = [{"treatment": str(b["policy"]).removeprefix("blanket "), "value_per_user": b["value_per_user"],
             "ci_low": b["ci_low"], "ci_high": b["ci_high"], "gain": g["value_per_user"], "gain_low": g["ci_low"],
             "gain_high": g["ci_high"]} for b, g in zip(blankets, gains)]
    precision = forecast_precision(record.metrics.get("forecast") or {})
    tied = [str(name) for name in record.metrics.get("tied") or []]
    chosen = str(record.metrics.get("chosen") or record.learner)
    return ModelEvidence(record.name, deciles, curves, None if deciles else DECILES_MISSING,
                         None if curves else CURVES_MISSING, rows, blanket_note(blankets, gains),
                         precision.to_dict() if precision else None, precision_note(precision), tied,
                         tie_note(chosen, tied, len(record.metrics.get("candidates") or [])))
