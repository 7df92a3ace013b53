"""The churn workflow end to end: load events, train + validate + store a model, score, flag a cohort.

These functions are what the CLI (`winback churn ...`) and the demo pipeline call. `flag` returns the
cohort; the caller stores it in the registry (`experiments.cohorts.write_cohort`).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from churn.choices import DEFAULT_TARGET_PRECISION
from churn.clv import ClvSettings, CustomerValue, customer_value
from churn.errors import ChurnError
from churn.evaluate import ValidationReport, validate
from churn.features import (
    compute_features,
    compute_labels,
    labels_available,
    model_columns,
    parse_as_of,
)
from churn.flagging import FlagSpec, select
from churn.ingest import EventSource, load_events
from churn.model import Calibration, ChurnModel
from churn.segments import SegmentRules, TierCut, TierRule, segment, tier_cut
from experiments.db import utc_now
from experiments.errors import ExperimentError
from experiments.model_files import dump_model_file, load_model_file
from experiments.models import (
    ModelRecord,
    check_model_name,
    data_fingerprint,
    load_model_record,
    save_model_record,
)
from warehouse.engine import Warehouse, open_warehouse
from warehouse.feature_sql import orders_sql

HOLDOUT_SHARE = 0.25
DEFAULT_CLV = ClvSettings()

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
    try:
        check_model_name(name, "churn", db)  # before any work, so a bad or taken name costs nothing
    except ExperimentError as error:
        raise ChurnError(str(error)) from error
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
    path, digest = dump_model_file(model, "churn", name, model_dir)
    importance = model.feature_importance()
    save_model_record(
        ModelRecord(
            name=name, kind="churn", learner=f"lightgbm+{calibration}-calibration", features=columns,
            fingerprint=data_fingerprint(features[columns].reset_index()),
            metrics={"trained_as_of": str(stamp.date()), "horizon_days": int(horizon_days), "n_train": len(features),
                     "train_churn_rate": float(labels.mean()), "validation": report.to_dict(),
                     "rules": rules.to_dict()},
            path=str(path), sha256=digest,
        ),
        db,
    )
    bar.update()
    bar.close()
    return TrainResult(name=name, path=str(path), as_of=str(stamp.date()), horizon_days=int(horizon_days),
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
    try:
        model = load_model_file(record)  # place and SHA-256 checked before unpickling
    except ExperimentError as error:
        raise ChurnError(str(error)) from error
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


@dataclass(frozen=True)
class Scored:
    """Every scored user (highest risk first) with the value-tier cut-off and the customer-value fit behind it."""

    users: pd.DataFrame
    tier_cut: TierCut
    clv: CustomerValue | None
    stage_thresholds: dict[str, float]  # the model's per-stage cut-offs from training


def score_users(
    model: str,
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    tiers: TierRule | None = None,
    clv: ClvSettings | None = DEFAULT_CLV,
    with_features: bool = False,
    progress: bool = False,
) -> Scored:
    """Risk, customer value, stage, tier and reason of every user with history on or before `as_of`.

    `clv=None` skips customer value (then tiers must be by spend or the fixed monthly amount);
    `with_features` appends the model's feature columns, for uplift models.
    """
    as_of = parse_as_of(as_of)
    tiers = tiers or TierRule()
    if clv is None and tiers.basis == "clv":
        raise ChurnError("tiers by customer value need customer value; drop --no-clv or choose --tiers spend")
    fitted = load_churn_model(model, db)
    bar = tqdm(total=4, desc="churn score", unit="step", disable=None if progress else True)
    wh = _warehouse(events, warehouse, db)
    _step(bar, "features")
    features = compute_features(wh, as_of)
    _step(bar, "customer value")
    value = None
    if clv is not None:
        orders = wh.query_frame(orders_sql(), {"end": (as_of + pd.Timedelta(days=1)).strftime("%Y-%m-%d")})
        try:
            value = customer_value(orders, as_of, features.index, clv)
        except ChurnError as error:
            raise ChurnError(f"{error} (to score without customer value: --no-clv --tiers spend)") from error
    _step(bar, "risk and segments")
    clv_column = value.users["clv"] if value is not None else None
    segments = segment(features, fitted.rules_, tiers, clv_column)
    out = pd.DataFrame({"user_id": features.index.astype("str"), "risk": fitted.predict_risk(features)})
    if clv_column is not None:
        out["clv"] = clv_column.to_numpy(dtype=float)
    out = pd.concat([out, segments.reset_index(drop=True)], axis=1)
    if with_features:
        out = pd.concat([out, features[model_columns(features)].reset_index(drop=True)], axis=1)
    bar.update()
    bar.close()
    out = out.sort_values(["risk", "user_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return Scored(users=out, tier_cut=tier_cut(features, tiers, clv_column), clv=value,
                  stage_thresholds=dict(fitted.thresholds_))


def score(
    model: str,
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    tiers: TierRule | None = None,
    clv: ClvSettings | None = DEFAULT_CLV,
    with_features: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """The table of `score_users`: user_id, risk, clv, stage, tier, reason[, features] (highest risk first)."""
    return score_users(model, events, as_of, db, warehouse=warehouse, tiers=tiers, clv=clv,
                       with_features=with_features, progress=progress).users


@dataclass(frozen=True)
class FlagResult:
    """A flagged cohort for the caller to store (`experiments.cohorts.write_cohort`) and how it was chosen."""

    model: str
    as_of: str
    n_scored: int
    n_candidates: int
    n_flagged: int
    flagged_by_stage: dict[str, int]
    flagged_by_tier: dict[str, int]
    rule: str
    tier_rule: str
    expected_precision: float
    expected_churners: float
    warnings: list[str]
    users: pd.DataFrame = field(repr=False)  # user_id, risk[, clv], stage, tier, reason, model, scored_at, as_of

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "users"}  # no copy of the users


def flag(
    model: str,
    events: EventSource | Warehouse | None,
    as_of: str | pd.Timestamp,
    db: PathLike | None = None,
    *,
    warehouse: PathLike | Warehouse | None = None,
    spec: FlagSpec | None = None,
    tiers: TierRule | None = None,
    clv: ClvSettings | None = DEFAULT_CLV,
    progress: bool = False,
) -> FlagResult:
    """Score and pick the users at risk by `spec` (churn.flagging); returns the cohort, writes nothing.

    Default: stages other than 'churned', the riskiest users while their mean risk (expected precision)
    stays at or above the model's target precision.
    """
    spec = spec or FlagSpec()
    scored = score_users(model, events, as_of, db, warehouse=warehouse, tiers=tiers, clv=clv, progress=progress)
    precision = float(load_model_record(model, db).metrics.get("validation", {}).get(
        "target_precision", DEFAULT_TARGET_PRECISION))
    chosen = select(scored.users, spec, model_precision=precision, stage_cutoffs=scored.stage_thresholds)
    day = str(parse_as_of(as_of).date())
    cohort = chosen.users.assign(model=model, scored_at=utc_now(), as_of=day)
    return FlagResult(
        model=model, as_of=day, n_scored=chosen.n_scored,
        n_candidates=chosen.n_candidates, n_flagged=len(cohort),
        flagged_by_stage={str(k): int(v) for k, v in cohort["stage"].value_counts().sort_index().items()},
        flagged_by_tier={str(k): int(v) for k, v in cohort["tier"].value_counts().sort_index().items()},
        rule=chosen.rule, tier_rule=scored.tier_cut.description, expected_precision=chosen.expected_precision,
        expected_churners=chosen.expected_churners, warnings=chosen.warnings, users=cohort)
