"""Targeting that holds out of sample: cross-fitted learners, calibrated uplift, choice by policy value.

Every user of the randomized experiment is predicted by models that never saw them (K-fold
cross-fitting). For each candidate (learners with their LightGBM hyper-parameters, `uplift.candidates`, and
their average) the out-of-fold predictions are calibrated per decile on the other folds (`uplift.calibration`,
`uplift.selection.cross_calibrated`), the plan they produce at the given budget, costs and capacities is
built for the same users, and its value is estimated doubly robustly with cross-fitted per-arm outcome
models. The candidate whose plan is worth most is chosen (the choice tunes the hyper-parameters) — not
the best Qini, which ranks users but says nothing of what a budget buys; both are reported. The forecast is
the choice repeated with each fold held back and valued there (nested), and the stored model's calibrated
uplift is shrunk to what that forecast supports. The stored model calibrates the average prediction of
its K fold models.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from uplift.allocation import Allocation, allocate
from uplift.calibration import Method, UpliftCalibration, dr_scores, fit_calibration, plan_interval
from uplift.candidates import DEFAULT_CANDIDATES, PRESETS, candidate
from uplift.errors import UpliftError
from uplift.evaluation import evaluate_predictions, qini_curve
from uplift.fitting import feature_columns
from uplift.frontier import blanket_reach
from uplift.learners import UpliftModel
from uplift.plan_inputs import PlanSpec
from uplift.plan_notes import blanket_note
from uplift.policy_value import PolicyEstimate, arm_outcome_predictions, interval, policy_terms
from uplift.selection import NestedForecast, cross_calibrated, nested_forecast, supported_share, ties

ENSEMBLE = "ensemble"
UNGATED = "_ungated"  # the suffix of a candidate calibrated without the noise gate
__all__ = ["DEFAULT_CANDIDATES", "ENSEMBLE", "TargetingFit", "TargetingModel", "fit_targeting", "forecast"]
SCALE_SAMPLE = 5_000  # users whose predictions map an averaged model onto the out-of-fold scale


def mean_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The element-wise mean of frames with the same index and columns."""
    total = frames[0].copy()
    for frame in frames[1:]:
        total = total + frame
    return total / len(frames)


class TargetingModel:
    """Calibrated uplift per treatment: the calibration applied to the mean prediction of K fold models (and learners)."""

    def __init__(self, learner: str, fold_models: list[list[UpliftModel]], calibration: UpliftCalibration,
                 features: list[str], treatments: list[str], control: str):
        self.learner = learner
        self.fold_models = fold_models
        self.calibration = calibration
        self.features_ = features
        self.treatments_ = treatments
        self.control_name = control

    def predict_raw(self, X: pd.DataFrame) -> list[pd.DataFrame]:
        """Uncalibrated uplift of each fold (averaged over the learners of that fold)."""
        return [mean_frames([m.predict(X)[self.treatments_] for m in models]) for models in self.fold_models]

    def predict_with_se(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Calibrated uplift per user and treatment, and the standard error of its calibration block."""
        return self.calibration.apply(mean_frames(self.predict_raw(X)))

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated uplift per user, one column per treatment."""
        return self.predict_with_se(X)[0]


@dataclass(frozen=True)
class CandidateReport:
    """One candidate's plan on the experiment's users (out of fold): its doubly robust value, Qini and what it predicted."""

    learner: str
    policy_value: PolicyEstimate  # per user, in the plan's objective (retained users, or value net of cost)
    mean_qini: float  # causalml qini_score of the raw out-of-fold predictions, mean over treatments
    predicted_total: float  # the plan's sum of calibrated uplift (or value) over these users
    treated: int
    counts: dict[str, int]
    qini_curves: list[dict] = field(default_factory=list)  # per treatment: causalml's out-of-fold curve, ~50 points

    def to_dict(self) -> dict:
        return {"learner": self.learner, "policy_value": self.policy_value.to_dict(), "mean_qini": self.mean_qini,
                "predicted_total": self.predicted_total, "treated": self.treated, "counts": self.counts,
                "qini_curves": self.qini_curves}


@dataclass(frozen=True)
class TargetingFit:
    """The chosen calibrated model with every candidate's evidence (duck-compatible with the model store)."""

    learner: str
    model: TargetingModel
    candidates: list[CandidateReport]
    calibration: UpliftCalibration = field(repr=False)
    features: list[str] = field(default_factory=list)
    treatments: list[str] = field(default_factory=list)
    control: str = "control"
    objective: str = "retained"
    oof: dict = field(default_factory=dict, repr=False)  # candidate -> calibrated out-of-fold uplift
    models: dict = field(default_factory=dict, repr=False)  # candidate -> its TargetingModel (the chosen one is `model`)
    unplanned: list[str] = field(default_factory=list)  # fitted but in no candidate's plan (failed a guardrail)
    blankets: list[PolicyEstimate] = field(default_factory=list)  # each planned treatment to random users, same budget
    gains: list[PolicyEstimate] = field(default_factory=list)  # the chosen plan minus each blanket, paired per user
    nested: NestedForecast | None = None  # the choice repeated with each fold held back, valued on that fold
    tied: list[str] = field(default_factory=list)  # candidates the experiment cannot tell from the chosen one
    chosen_on: dict = field(default_factory=dict)  # the plan the choice was judged on (per user), for `allocate`

    @property
    def chosen(self) -> CandidateReport:
        return next(c for c in self.candidates if c.learner == self.learner)

    @property
    def forecast_value(self) -> PolicyEstimate:
        """The forecast of the chosen plan per user: measured on users the choice did not see (nested), when made."""
        return self.nested.estimate if self.nested is not None else self.chosen.policy_value

    def metrics(self) -> dict:
        """What the model store records: the choice, every candidate's policy value and Qini, the calibration."""
        return {"chosen": self.learner, "chosen_by": "doubly robust policy value", "objective": self.objective,
                "forecast": self.forecast_value.to_dict(), "nested": self.nested.to_dict() if self.nested else None,
                "tied": self.tied, "chosen_on": self.chosen_on,
                "left_out_of_plans": self.unplanned, "candidates": [c.to_dict() for c in self.candidates],
                "blankets": [b.to_dict() for b in self.blankets], "gains_over_blankets": [g.to_dict() for g in self.gains],
                "calibration": self.calibration.to_records()}

    def blanket_note(self) -> str | None:
        """A sentence when the chosen plan is not shown to beat the best blanket on the experiment (None when it is)."""
        return blanket_note([b.to_dict() for b in self.blankets], [g.to_dict() for g in self.gains])

    def to_dict(self) -> dict:
        return {"learner": self.learner, "features": self.features, "treatments": self.treatments,
                "control": self.control, **self.metrics()}


def _folds(arm: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number per user, stratified on arm × outcome sign."""
    from sklearn.model_selection import StratifiedKFold

    strata = pd.Series(arm).astype(str) + "|" + pd.Series((y > 0).astype(int)).astype(str)
    out = np.zeros(len(arm), dtype=int)
    for fold, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(arm)), strata)):
        out[test] = fold
    return out


def plan_for(predicted: pd.DataFrame, spec: PlanSpec, control: str) -> tuple[Allocation, np.ndarray]:
    """The allocation of a spec scaled to these users, and the arm each user would get (control if untreated)."""
    local = spec.scaled(len(predicted))
    costs = {t: local.costs[t] for t in predicted.columns if t in local.costs}
    missing = [t for t in predicted.columns if t not in local.costs]
    if missing:
        raise UpliftError(f"no unit cost for treatment(s) {', '.join(missing)}; add them to the costs")
    capacity = {t: c for t, c in local.capacity.items() if t in predicted.columns}  # none for unplanned treatments
    plan = allocate(predicted, costs, local.budget, local.value, capacity)
    labels = plan.labels()
    return plan, np.where(labels == "control", control, labels)


def fit_targeting(
    data: pd.DataFrame,
    *,
    treatment_col: str,
    outcome_col: str,
    control: str,
    spec: PlanSpec,
    id_col: str | None = None,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    ensemble: bool = True,
    arm_weights: dict[str, float] | None = None,
    folds: int = 3,
    seed: int = 0,
    n_estimators: int = 100,
    calibration: Method = "isotonic",
    unplanned: Collection[str] = (),
    progress: bool = True,
    ungated: bool | None = None,
) -> TargetingFit:
    """Cross-fit each candidate, calibrate, plan and estimate each plan's value; keep the best plan's model.

    `unplanned` treatments (those that failed a guardrail) are fitted and calibrated but left out of every
    candidate's plan, so the choice and the forecast are about the plan `allocate --model` will make. With `ungated`
    each learner is a candidate twice, calibrated with and without the noise gate (named `<learner>_ungated`); by
    default (None) only when several learners are compared (`--learner auto`): one learner asked for by name is
    calibrated as before, with the gate."""
    required = [c for c in (treatment_col, outcome_col, id_col) if c]
    missing = [c for c in required if c not in data.columns]
    if missing:
        raise UpliftError(f"data lacks column(s) {', '.join(missing)}; columns are {', '.join(map(str, data.columns))}")
    unknown = [c for c in candidates if c not in PRESETS]
    if unknown or not candidates:
        raise UpliftError(f"unknown candidate learner(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose from {', '.join(PRESETS)}")
    if folds < 2:
        raise UpliftError(f"cross-fitting needs at least 2 folds, got {folds}")
    value_col = spec.value_source if spec.value_source not in ("none", "number") else None
    columns = feature_columns(data, [*required, *exclude, *([value_col] if value_col else [])], features)
    X = data[columns].reset_index(drop=True)
    arm = data[treatment_col].astype(str).to_numpy()
    y = pd.to_numeric(data[outcome_col], errors="coerce").to_numpy(float)
    if np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0])
        raise UpliftError(f"data row {row + 1}, column {outcome_col}: missing or non-numeric outcome")
    if control not in set(arm):
        found = ", ".join(sorted(set(arm))[:5])
        raise UpliftError(f"control arm '{control}' not found in the treatment column (found: {found})")
    treatments = sorted(set(arm) - {control})
    if treatments and set(treatments) <= set(unplanned):
        raise UpliftError(f"every treatment is left out of the plan ({', '.join(treatments)}): each failed a "
                          f"guardrail; allow one explicitly (`--allow-treatment KEY`, or 'Allow even if it failed a "
                          f"guardrail' on the budget page)")
    weights = arm_weights or {str(k): float(v) for k, v in pd.Series(arm).value_counts(normalize=True).items()}
    fold = _folds(arm, y, folds, seed)
    names = list(dict.fromkeys(candidates))
    if ungated is None:
        ungated = len(names) > 1
    steps = folds * (len(names) + 1)
    bar = tqdm(total=steps, desc="cross-fitting", unit="fit", disable=not progress)
    raw = {n: pd.DataFrame(0.0, index=X.index, columns=treatments) for n in names}
    mu = pd.DataFrame(0.0, index=X.index, columns=sorted(set(arm)))
    fold_models: dict[str, list[UpliftModel]] = {n: [] for n in names}
    for k in range(folds):
        train, test = fold != k, fold == k
        for name in names:
            bar.set_postfix_str(f"fold {k + 1} {name}")
            model = candidate(name).model(control=control, arm_weights=arm_weights, n_estimators=n_estimators,
                                          seed=seed + k).fit(X[train], y[train], treatment=arm[train])
            raw[name].loc[test] = model.predict(X[test])[treatments].to_numpy()
            fold_models[name].append(model)
            bar.update()
        bar.set_postfix_str(f"fold {k + 1} outcome models")
        mu.loc[test] = arm_outcome_predictions(X[train], pd.Series(arm[train]), pd.Series(y[train]), X[test],
                                               seed=seed + k)[mu.columns].to_numpy()
        bar.update()
    bar.close()
    if ensemble and len(names) > 1:
        raw[ENSEMBLE] = mean_frames([raw[n] for n in names])
    value = np.ones(len(y)) if spec.value is None else np.broadcast_to(np.asarray(spec.value, float), (len(y),))
    cost_of = pd.Series({control: 0.0, **spec.costs})
    reports, calibrations, calibrated, candidate_terms, plan_costs = [], {}, {}, {}, {}
    scores = dr_scores(arm, y, mu, weights, control, treatments)
    y_value, mu_value = y * value, mu.mul(value, axis=0)  # outcomes in the plan's objective, for every policy below
    dropped = [t for t in unplanned if t in treatments]

    def terms_of(policy: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per-user DR terms of a policy for these users, in the plan's objective (net of cost with a value)."""
        terms = policy_terms(arm[rows], y_value[rows], policy, weights, control=control,
                             outcome_predictions=mu_value.iloc[rows])
        return terms - cost_of.reindex(policy).fillna(0.0).to_numpy() if spec.value is not None else terms

    everyone = np.arange(len(y))
    base_of: dict[str, str] = {}  # candidate (a learner, gated or not) -> the learner whose predictions it calibrates
    for learner_name, predicted in raw.items():
        qini = evaluate_predictions(learner_name, predicted, arm, y, control).mean_qini
        curves = [qini_curve(predicted[t].to_numpy(float), arm, y, t, control) for t in treatments]
        for gate in (True, False) if ungated else (True,):
            name = learner_name if gate else f"{learner_name}{UNGATED}"
            base_of[name] = learner_name
            fitted = fit_calibration(predicted, scores, method=calibration, gate=gate)  # the stored model's, every user
            cal = cross_calibrated(predicted, scores, fold, method=calibration, gate=gate)  # each fold's from the others
            plan, policy = plan_for(cal.drop(columns=dropped), spec, control)
            terms = terms_of(policy, everyone)
            total = plan.expected_retained if spec.value is None else plan.net_value
            reports.append(CandidateReport(name, interval(name, "dr", terms, 0.05), qini, total,
                                           sum(plan.counts.values()), plan.counts, curves))
            calibrations[name], calibrated[name], candidate_terms[name] = fitted, cal, terms
            plan_costs[name] = 0.0 if spec.value is None else plan.total_cost
    best = max(reports, key=lambda r: r.policy_value.value_per_user)
    nested = nested_forecast(candidate_terms, fold)
    # What the held-out data support of each promise. Counting retained users, a scale on every calibrated uplift
    # changes nobody's treatment (the plan ranks uplift per cost and buys only positive uplift), so the promise is
    # shrunk to the DR point estimate. With a value per user a shrink moves users below their cost and changes the
    # plan, so it stops at the upper end of the value's interval: it cuts only what the data contradict.
    def supported(estimate: PolicyEstimate) -> float:
        return (estimate.value_per_user if spec.value is None else estimate.ci_high) * len(y)

    shrinkage = {r.learner: supported_share(supported(nested.estimate if r is best else r.policy_value),
                                            r.predicted_total, plan_costs[r.learner]) for r in reports}
    planned = [t for t in treatments if t not in set(unplanned)]
    blankets, gains = blanket_comparison(arm, y_value, mu_value, weights, control, planned, spec,
                                         candidate_terms[best.learner])
    # Each fold model predicts a sample of the users once; the averaged models' scale maps reuse those predictions.
    sample = np.sort(np.random.default_rng(seed).permutation(len(X))[:SCALE_SAMPLE])
    fold_predictions = {(n, k): fold_models[n][k].predict(X.iloc[sample])[treatments].to_numpy()
                        for n in names for k in range(folds)}
    models = {}
    for name, learner_name in base_of.items():
        members = names if learner_name == ENSEMBLE else [learner_name]
        per_fold = [[fold_models[n][k] for n in members] for k in range(folds)]
        averaged = np.mean([fold_predictions[(n, k)] for n in members for k in range(folds)], axis=0)
        targeting_model = TargetingModel(name, per_fold, calibrations[name], columns, treatments, control)
        targeting_model.calibration = calibrations[name].for_average(
            raw[learner_name].iloc[sample], pd.DataFrame(averaged, columns=treatments)).shrunk(shrinkage[name])
        models[name] = targeting_model
    return TargetingFit(learner=best.learner, model=models[best.learner], candidates=reports,
                        calibration=models[best.learner].calibration, features=columns, treatments=treatments,
                        control=control, objective="retained" if spec.value is None else "value", oof=calibrated,
                        models=models, unplanned=[t for t in treatments if t in set(unplanned)],
                        blankets=blankets, gains=gains, nested=nested, tied=ties(candidate_terms, best.learner),
                        chosen_on=spec.per_user(len(y)))


def blanket_comparison(arm: np.ndarray, y_value: np.ndarray, mu_value: pd.DataFrame, weights: dict[str, float],
                       control: str, treatments: Sequence[str], spec: PlanSpec, plan_terms: np.ndarray,
                       alpha: float = 0.05) -> tuple[list[PolicyEstimate], list[PolicyEstimate]]:
    """Each treatment sent to random users as far as the budget and seats go (the share of users it reaches times
    everyone's doubly robust gain of it, net of its cost when users have a value), and the plan's gain over each,
    paired per user: the simplest policy a plan must beat to be worth its model. `y_value` and `mu_value` are the
    outcomes and per-arm predictions already in the plan's objective (times each user's value)."""
    n = len(y_value)
    local = spec.scaled(n)
    blankets, gains = [], []
    for key in treatments:
        cost = float(local.costs.get(key, 0.0))
        share = blanket_reach(n, cost, local.budget, local.capacity.get(key, n)) / n
        everyone = policy_terms(arm, y_value, np.full(n, key), weights, control=control, outcome_predictions=mu_value)
        if spec.value is not None:
            everyone = everyone - cost
        terms = share * everyone
        blankets.append(interval(f"blanket {key}", "dr", terms, alpha))
        gains.append(interval(f"plan - blanket {key}", "dr", plan_terms - terms, alpha))
    return blankets, gains


@dataclass(frozen=True)
class PlanForecast:
    """A plan's predicted incremental retained users with its interval (from the calibration blocks)."""

    predicted: float
    ci_low: float
    ci_high: float


def forecast(plan: Allocation, se: pd.DataFrame) -> PlanForecast:
    """Predicted incremental retained users of an allocation on calibrated uplift, with a 95 % interval."""
    rows = np.flatnonzero(plan.choice >= 0)
    chosen = plan.choice[rows]
    errors = se[plan.treatments].to_numpy(float)[rows, chosen]
    total, low, high = plan_interval(plan.expected_uplift[rows], errors, np.asarray(plan.treatments)[chosen])
    return PlanForecast(total, low, high)
