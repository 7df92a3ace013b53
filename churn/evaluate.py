"""How good a churn risk is on labelled users: ranking, calibration, top-decile and per-stage thresholds."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score

from churn.errors import ChurnError


@dataclass(frozen=True)
class StageThreshold:
    """The lowest risk cut-off whose precision reaches the target in one lifecycle stage (nan if none)."""

    stage: str
    threshold: float
    precision: float
    recall: float
    n_users: int
    n_flagged: int
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    """Risk quality on one labelled date: ROC/PR AUC, top decile, Brier, calibration, stage thresholds."""

    as_of: str
    horizon_days: int
    source: str  # 'later_date' (labels of a later as-of date) or 'holdout' (users held out of training)
    n_users: int
    churn_rate: float
    roc_auc: float
    pr_auc: float
    top_decile_precision: float
    top_decile_recall: float
    brier: float
    target_precision: float
    calibration: list[dict] = field(default_factory=list)
    thresholds: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def calibration_table(churned: np.ndarray, risk: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Users binned by predicted risk (deciles): count, mean predicted risk, observed churn rate."""
    frame = pd.DataFrame({"risk": risk, "churned": churned})
    frame["bin"] = pd.qcut(frame["risk"].rank(method="first"), q=min(bins, len(frame)), labels=False) + 1
    table = frame.groupby("bin").agg(n=("risk", "size"), mean_risk=("risk", "mean"), churn_rate=("churned", "mean"))
    return table.reset_index()


def top_share(churned: np.ndarray, risk: np.ndarray, share: float = 0.1) -> tuple[float, float]:
    """Precision and recall among the `share` of users with the highest risk."""
    k = max(1, int(math.ceil(share * len(risk))))
    top = np.argsort(-risk, kind="stable")[:k]
    hits = churned[top].sum()
    total = churned.sum()
    return float(hits / k), float(hits / total) if total else float("nan")


def stage_thresholds(
    churned: np.ndarray, risk: np.ndarray, stage: np.ndarray, target_precision: float, min_flagged: int = 20
) -> dict[str, StageThreshold]:
    """Per stage, the lowest cut-off with precision >= target (the most churners caught at that precision)."""
    out: dict[str, StageThreshold] = {}
    for name in sorted(set(stage)):
        mask = stage == name
        y, r = churned[mask], risk[mask]
        n = int(mask.sum())
        if y.min() == y.max():
            out[name] = StageThreshold(name, float("nan"), float("nan"), float("nan"), n, 0,
                                       f"all {n} users {'churned' if y[0] else 'stayed'}; no cut-off to choose")
            continue
        precision, recall, cuts = precision_recall_curve(y, r)
        flagged = n - np.searchsorted(np.sort(r), cuts, side="left")  # users with risk >= each cut
        ok = np.flatnonzero((precision[:-1] >= target_precision) & (flagged >= min_flagged))
        if ok.size == 0:
            out[name] = StageThreshold(name, float("nan"), float("nan"), float("nan"), n, 0,
                                       f"precision never reaches {target_precision:.2f} with {min_flagged}+ users flagged")
            continue
        i = ok[0]
        out[name] = StageThreshold(name, float(cuts[i]), float(precision[i]), float(recall[i]), n, int(flagged[i]))
    return out


def validate(
    churned: np.ndarray, risk: np.ndarray, stage: np.ndarray, *, as_of: str, horizon_days: int, source: str,
    target_precision: float,
) -> ValidationReport:
    """Every quality figure of a risk on labelled users."""
    churned = np.asarray(churned, dtype=int)
    risk = np.asarray(risk, dtype=float)
    if churned.min() == churned.max():
        raise ChurnError(f"cannot validate as of {as_of}: every labelled user {'churned' if churned[0] else 'stayed'}")
    precision, recall = top_share(churned, risk)
    thresholds = stage_thresholds(churned, risk, np.asarray(stage), target_precision)
    return ValidationReport(
        as_of=as_of, horizon_days=int(horizon_days), source=source, n_users=len(churned),
        churn_rate=float(churned.mean()), roc_auc=float(roc_auc_score(churned, risk)),
        pr_auc=float(average_precision_score(churned, risk)), top_decile_precision=precision,
        top_decile_recall=recall, brier=float(brier_score_loss(churned, risk)), target_precision=target_precision,
        calibration=calibration_table(churned, risk).to_dict("records"),
        thresholds={k: v.to_dict() for k, v in thresholds.items()},
    )
