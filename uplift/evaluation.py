"""Honest evaluation of uplift learners: a stratified holdout, causalml's Qini and AUUC per treatment, uplift by decile.

The split is stratified on arm × outcome so both halves keep every arm's response rate; the learner
with the best mean held-out Qini over the treatments is chosen, and every learner's figures are kept.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from causalml.metrics import auuc_score, get_qini, qini_score
from sklearn.model_selection import train_test_split

from uplift.errors import UpliftError


def stratified_split(
    treatment: pd.Series, y: pd.Series, *, holdout: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the train and holdout rows, stratified on arm × outcome (continuous outcomes: arm × positive)."""
    if not 0 < holdout < 1:
        raise UpliftError(f"holdout share must be between 0 and 1, got {holdout}")
    y_np = np.asarray(y, dtype=float)
    outcome = (y_np > 0).astype(int) if not np.isin(np.unique(y_np), [0, 1]).all() else y_np.astype(int)
    strata = pd.Series(np.asarray(treatment).astype(str)) + "|" + pd.Series(outcome).astype(str)
    positions = np.arange(len(y_np))
    train, test = train_test_split(positions, test_size=holdout, random_state=seed, stratify=strata)
    return np.sort(train), np.sort(test)


@dataclass(frozen=True)
class TreatmentScore:
    """Held-out ranking quality of one learner for one treatment against control (causalml metrics)."""

    treatment: str
    qini: float  # causalml qini_score, normalize=True: area between the Qini curve and random, curve scaled to end at 1
    auuc: float  # causalml auuc_score, normalize=True: area under the cumulative-gain curve scaled to end at 1
    qini_raw: float  # causalml qini_score, normalize=False: in incremental outcomes
    n_treated: int
    n_control: int
    observed_ate: float  # mean outcome difference, treatment minus control, on the holdout
    predicted_ate: float  # mean predicted uplift on the same users

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LearnerReport:
    """One learner's held-out scores per treatment and uplift by decile."""

    learner: str
    scores: list[TreatmentScore]
    deciles: pd.DataFrame = field(repr=False)

    @property
    def mean_qini(self) -> float:
        """Mean held-out Qini over treatments (nan when no treatment could be scored)."""
        values = [s.qini for s in self.scores if not math.isnan(s.qini)]
        return float(np.mean(values)) if values else math.nan

    def to_dict(self) -> dict:
        return {
            "learner": self.learner,
            "mean_qini": self.mean_qini,
            "scores": [s.to_dict() for s in self.scores],
            "deciles": self.deciles.to_dict(orient="records"),
        }


def score_treatment(
    predicted: np.ndarray, treatment: np.ndarray, y: np.ndarray, name: str, control: str
) -> TreatmentScore:
    """Qini and AUUC of one treatment's predicted uplift on the users of that arm and control."""
    mask = (treatment == name) | (treatment == control)
    w = (treatment[mask] == name).astype(int)
    # causalml treats a column named 'tau' as the true effect, so the prediction column is named 'model'.
    frame = pd.DataFrame({"y": y[mask], "w": w, "model": predicted[mask]})
    n_treated, n_control = int(w.sum()), int((1 - w).sum())
    if n_treated == 0 or n_control == 0:
        nan = math.nan
        return TreatmentScore(name, nan, nan, nan, n_treated, n_control, nan, nan)
    ate = float(frame.loc[w == 1, "y"].mean() - frame.loc[w == 0, "y"].mean())
    return TreatmentScore(
        treatment=name,
        qini=float(qini_score(frame, "y", "w", normalize=True)["model"]),
        auuc=float(auuc_score(frame, "y", "w", normalize=True)["model"]),
        qini_raw=float(qini_score(frame, "y", "w", normalize=False)["model"]),
        n_treated=n_treated,
        n_control=n_control,
        observed_ate=ate,
        predicted_ate=float(frame["model"].mean()),
    )


def qini_curve(
    predicted: np.ndarray, treatment: np.ndarray, y: np.ndarray, name: str, control: str, points: int = 50
) -> dict:
    """causalml's Qini curve of one treatment (`get_qini`, not normalized) at about `points` + 1 evenly spaced shares.

    `share` runs from 0 to 1 (users of that arm and control, highest predicted uplift first); `gain` is the
    cumulative incremental outcome among the treated users reached so far (0 at share 0). Empty lists when
    the treatment or control arm has no users.
    """
    mask = (treatment == name) | (treatment == control)
    w = (treatment[mask] == name).astype(int)
    if w.sum() == 0 or (1 - w).sum() == 0:
        return {"treatment": name, "share": [], "gain": []}
    frame = pd.DataFrame({"y": y[mask], "w": w, "model": predicted[mask]})  # 'tau' would mean the true effect
    curve = get_qini(frame, "y", "w", normalize=False)["model"]
    n = len(frame)
    at = np.unique(np.round(np.linspace(0, n, min(points, n) + 1)).astype(int))
    return {"treatment": name, "share": np.round(at / n, 4).tolist(), "gain": curve.reindex(at).astype(float).tolist()}


def uplift_by_decile(
    predicted: np.ndarray, treatment: np.ndarray, y: np.ndarray, name: str, control: str, bins: int = 10
) -> pd.DataFrame:
    """Observed vs predicted uplift per decile of predicted uplift (decile 1 = highest predicted)."""
    mask = (treatment == name) | (treatment == control)
    frame = pd.DataFrame({"tau": predicted[mask], "w": treatment[mask] == name, "y": y[mask]})
    ranks = frame["tau"].rank(method="first", ascending=False)
    frame["decile"] = np.ceil(ranks / len(frame) * bins).astype(int).clip(1, bins)
    grouped = frame.groupby(["decile", "w"])["y"].agg(["mean", "size"]).unstack("w")
    out = pd.DataFrame(
        {
            "treatment": name,
            "decile": grouped.index,
            "predicted_uplift": frame.groupby("decile")["tau"].mean().to_numpy(),
            "observed_uplift": (grouped[("mean", True)] - grouped[("mean", False)]).to_numpy(),
            "n_treated": grouped[("size", True)].fillna(0).astype(int).to_numpy(),
            "n_control": grouped[("size", False)].fillna(0).astype(int).to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def evaluate_predictions(
    learner: str, predictions: pd.DataFrame, treatment: pd.Series | np.ndarray, y: pd.Series | np.ndarray, control: str
) -> LearnerReport:
    """Score held-out predictions (one column per treatment) against the observed arms and outcomes."""
    treatment_np = np.asarray(treatment).astype(str)
    y_np = np.asarray(y, dtype=float)
    scores, deciles = [], []
    for name in predictions.columns:
        predicted = predictions[name].to_numpy(float)
        scores.append(score_treatment(predicted, treatment_np, y_np, str(name), control))
        deciles.append(uplift_by_decile(predicted, treatment_np, y_np, str(name), control))
    return LearnerReport(learner=learner, scores=scores, deciles=pd.concat(deciles, ignore_index=True))


def choose_learner(reports: list[LearnerReport]) -> LearnerReport:
    """The learner with the best mean held-out Qini (ties go to the earlier, simpler learner)."""
    scored = [r for r in reports if not math.isnan(r.mean_qini)]
    if not scored:
        raise UpliftError("no learner could be scored on the holdout: every treatment lacks treated or control users")
    return max(scored, key=lambda r: r.mean_qini)
