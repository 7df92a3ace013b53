"""The churn workflow end to end: load events, train + validate + store a model, score, flag a cohort.

These functions are what the CLI (`winback churn ...`) and the demo pipeline call.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from churn.errors import ChurnError
from churn.evaluate import ValidationReport, validate
from churn.features import (
    compute_features,
    compute_labels,
    labels_available,
    model_columns,
    parse_as_of,
)
from churn.ingest import EventSource, load_events
from churn.model import Calibration, ChurnModel
from churn.segments import SegmentRules, segment
from common.settings import resolve_model_dir
from experiments.cohorts import write_cohort
from experiments.db import utc_now
from experiments.errors import ExperimentError
from experiments.models import (
    ModelRecord,
    data_fingerprint,
    load_model_record,
    save_model_record,
)
from warehouse.engine import Warehouse, open_warehouse

DEFAULT_TARGET_PRECISION = 0.7
HOLDOUT_SHARE = 0.25

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class TrainResult:
    """A stored churn model: where it lies, what it learned from, and how it validated."""

    name: str
    path: str
    as_of: str
    horizon_days: int
    n_train: int
    train_churn_rate: float
    validation: ValidationReport
    top_features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FlagResult:
    """What a flag run wrote: cohort size out of the users scored, by stage."""

    cohort_key: str
    model: str
    as_of: str
    n_scored: int
    n_flagged: int
    flagged_by_stage: dict[str, int]
    rule: str

    def to_dict(self) -> dict:
        return asdict(self)


def _warehouse(events: EventSource | Warehouse | None, warehouse: PathLike | Warehouse | None, db: PathLike | None) -> Warehouse:
    """The warehouse to query, after loading `events` into it when a file or frame is given."""
    if isinstance(events, Warehouse):
        return events
    wh = open_warehouse(warehouse, db)
    if events is not None:
        load_events(events, wh)
    return wh


def _step(bar: tqdm, label: str) -> None:
    """Advance a progress bar by one step and say what comes next."""
    bar.set_postfix_str(label)
    bar.update()


def demo_as_of_dates(shop_as_of: str | pd.Timestamp, horizon_days: int) -> dict[str, pd.Timestamp]:
    """Train / validate / score dates for a history ending just before `shop_as_of` (the demo shop).

    As-of dates are inclusive days, so the last full day of history is the day before `shop_as_of`.
    """
    last = parse_as_of(shop_as_of) - pd.Timedelta(days=1)
    h = pd.Timedelta(days=int(horizon_days))
    return {"train": last - 2 * h, "validate": last - h, "score": last}


def train(
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    horizon_days: int,
    name: str,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    validate_as_of: str | pd.Timestamp | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    rules: SegmentRules | None = None,
    calibration: Calibration = "sigmoid",
    model_dir: PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Fit on features as of `as_of` with labels from the next horizon; validate on a later date; store.

    Validation uses `validate_as_of` (default: as_of + horizon) when the events reach past its horizon,
    else a stratified holdout of the training users. Per-stage thresholds are chosen on the validation
    users for `target_precision`.
    """
    if not name or not str(name).strip():
        raise ChurnError("a model needs a name")
    if not 0 < target_precision < 1:
        raise ChurnError(f"target precision must be between 0 and 1, got {target_precision}")
    rules = rules or SegmentRules()
    stamp = parse_as_of(as_of)
    bar = tqdm(total=5, desc="churn train", unit="step", disable=None if progress else True)
    wh = _warehouse(events, warehouse, db)
    _step(bar, "features")
    features = compute_features(wh, stamp)
    labels = compute_labels(wh, stamp, horizon_days).reindex(features.index)
    columns = model_columns(features)
    _step(bar, "fit")
    later = parse_as_of(validate_as_of) if validate_as_of is not None else stamp + pd.Timedelta(days=int(horizon_days))
    if later <= stamp:
        raise ChurnError(f"the validation date {later.date()} must come after the training date {stamp.date()}")
    if labels_available(wh, later, horizon_days):
        model = ChurnModel(calibration=calibration).fit(features[columns], labels)
        _step(bar, "validate")
        v_features = compute_features(wh, later)
        v_labels = compute_labels(wh, later, horizon_days).reindex(v_features.index).to_numpy()
        v_risk = model.predict_risk(v_features)
        v_stage = segment(v_features, rules)["stage"].to_numpy()
        source, v_as_of = "later_date", later
    else:
        rng = np.random.default_rng(0)
        held = _stratified_holdout(labels.to_numpy(), HOLDOUT_SHARE, rng)
        model = ChurnModel(calibration=calibration).fit(features[columns][~held], labels[~held])
        _step(bar, "validate (holdout)")
        v_labels = labels.to_numpy()[held]
        v_risk = model.predict_risk(features[held])
        v_stage = segment(features[held], rules)["stage"].to_numpy()
        source, v_as_of = "holdout", stamp
    report = validate(v_labels, v_risk, v_stage, as_of=str(v_as_of.date()), horizon_days=horizon_days,
                      source=source, target_precision=target_precision)
    model.rules_ = rules
    model.thresholds_ = {k: v["threshold"] for k, v in report.thresholds.items()}
    model.horizon_days_ = int(horizon_days)
    model.trained_as_of_ = str(stamp.date())
    _step(bar, "save")
    directory = resolve_model_dir(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"churn-{name}.joblib"
    joblib.dump(model, path)
    importance = model.feature_importance()
    save_model_record(
        ModelRecord(
            name=name, kind="churn", learner=f"lightgbm+{calibration}-calibration", features=columns,
            fingerprint=data_fingerprint(features[columns].reset_index()),
            metrics={"trained_as_of": str(stamp.date()), "horizon_days": int(horizon_days), "n_train": len(features),
                     "train_churn_rate": float(labels.mean()), "validation": report.to_dict(),
                     "rules": rules.to_dict()},
            path=str(path.resolve()),
        ),
        db,
    )
    bar.update()
    bar.close()
    return TrainResult(name=name, path=str(path.resolve()), as_of=str(stamp.date()), horizon_days=int(horizon_days),
                       n_train=len(features), train_churn_rate=float(labels.mean()), validation=report,
                       top_features=list(importance.index[:10]))


def _stratified_holdout(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask holding out `share` of each class."""
    held = np.zeros(len(y), dtype=bool)
    for value in (0, 1):
        idx = np.flatnonzero(y == value)
        held[rng.choice(idx, size=int(round(share * len(idx))), replace=False)] = True
    return held


def load_churn_model(name: str, db: PathLike | None = None) -> ChurnModel:
    """A stored churn model by name, or a ChurnError naming what exists."""
    try:
        record = load_model_record(name, db)
    except ExperimentError as error:
        raise ChurnError(str(error)) from error
    if record.kind != "churn":
        raise ChurnError(f"model '{name}' is a {record.kind} model, not a churn model")
    if not Path(record.path).exists():
        raise ChurnError(f"model file {record.path} of '{name}' is missing; train it again")
    model = joblib.load(record.path)
    if not isinstance(model, ChurnModel):
        raise ChurnError(f"model file {record.path} does not hold a churn model")
    return model


def history_features(
    events: EventSource | Warehouse,
    as_of: str | pd.Timestamp,
    *,
    warehouse: PathLike | Warehouse | None = None,
) -> pd.DataFrame:
    """The churn features (numeric columns, index user_id) as of a date, for other models such as uplift.

    A frame or file is loaded into `warehouse`, or into a throwaway SQLite file when none is given.
    """
    if warehouse is None and not isinstance(events, Warehouse):
        import tempfile

        warehouse = Path(tempfile.mkdtemp(prefix="winback-features-")) / "warehouse.db"
    features = compute_features(_warehouse(events, warehouse, None), as_of)
    return features[model_columns(features)]


def score(
    model: str,
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Risk, stage, tier and reason of every user with history on or before `as_of` (highest risk first)."""
    as_of = parse_as_of(as_of)
    fitted = load_churn_model(model, db)
    bar = tqdm(total=3, desc="churn score", unit="step", disable=None if progress else True)
    wh = _warehouse(events, warehouse, db)
    bar.update()
    features = compute_features(wh, as_of)
    bar.update()
    segments = segment(features, fitted.rules_)
    out = pd.DataFrame({"user_id": features.index.astype("str"), "risk": fitted.predict_risk(features)})
    out = pd.concat([out, segments.reset_index(drop=True)], axis=1)
    bar.update()
    bar.close()
    return out.sort_values(["risk", "user_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def flag(
    model: str,
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    cohort_key: str,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    min_risk: float | None = None,
    top: int | None = None,
    progress: bool = False,
) -> FlagResult:
    """Score, pick the users at risk, and replace cohort `cohort_key` with them in the registry.

    Default rule: risk at or above the model's threshold for the user's lifecycle stage (chosen for the
    target precision at training). `min_risk` replaces it with one cut-off; `top` keeps the N riskiest.
    """
    as_of = parse_as_of(as_of)
    if min_risk is not None and not 0 <= min_risk <= 1:
        raise ChurnError(f"--min-risk must be between 0 and 1, got {min_risk}")
    if top is not None and top < 1:
        raise ChurnError(f"--top must be at least 1, got {top}")
    scored = score(model, events, as_of, db, warehouse=warehouse, progress=progress)
    if min_risk is None and top is None:
        thresholds = load_churn_model(model, db).thresholds_
        cut = scored["stage"].map(thresholds).astype(float)
        chosen = scored[scored["risk"] >= cut]  # NaN cut-off (no reliable threshold): not flagged
        rule = "per-stage thresholds " + ", ".join(f"{k}={v:.3f}" for k, v in sorted(thresholds.items()) if v == v)
    else:
        chosen = scored if min_risk is None else scored[scored["risk"] >= min_risk]
        chosen = chosen if top is None else chosen.head(top)
        rule = " and ".join(p for p in (f"risk >= {min_risk}" if min_risk is not None else "",
                                        f"top {top}" if top is not None else "") if p)
    cohort = chosen.assign(model=model, scored_at=utc_now())
    write_cohort(cohort, cohort_key, db)
    return FlagResult(cohort_key=cohort_key, model=model, as_of=str(parse_as_of(as_of).date()),
                      n_scored=len(scored), n_flagged=len(cohort),
                      flagged_by_stage={str(k): int(v) for k, v in cohort["stage"].value_counts().sort_index().items()},
                      rule=rule)
