"""The uplift model store: fitted models on disk (joblib) with their metadata in the registry's models table."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from experiments.errors import ExperimentError
from experiments.model_files import dump_model_file, load_model_file
from experiments.models import ModelRecord, check_model_name, data_fingerprint, load_model_record, save_model_record
from uplift.errors import UpliftError
from uplift.fitting import UpliftFit
from uplift.learners import UpliftModel
from uplift.targeting import TargetingFit

PathLike = str | os.PathLike[str]


def save_uplift_model(
    fit: UpliftFit | TargetingFit,
    name: str,
    *,
    data: pd.DataFrame,
    experiment_key: str | None = None,
    db: PathLike | None = None,
    model_dir: PathLike | None = None,
) -> ModelRecord:
    """Save the fitted model with joblib and record name, learner, features, data fingerprint and metrics."""
    try:
        check_model_name(name, "uplift", db)
    except ExperimentError as error:
        raise UpliftError(str(error)) from error
    path, digest = dump_model_file(fit.model, "uplift", name, model_dir)
    record = ModelRecord(
        name=name, kind="uplift", learner=fit.learner, features=fit.features,
        fingerprint=data_fingerprint(data), metrics={**fit.metrics(), "treatments": fit.treatments,
                                                      "control": fit.control},
        path=str(path), experiment_key=experiment_key, sha256=digest,
    )
    return save_model_record(record, db)


def load_uplift_model(name: str, db: PathLike | None = None) -> tuple[UpliftModel, ModelRecord]:
    """The stored uplift model and its record; errors name what is missing."""
    try:
        record = load_model_record(name, db)
    except ExperimentError as error:
        raise UpliftError(str(error)) from error
    if record.kind != "uplift":
        raise UpliftError(f"model '{name}' is a {record.kind} model, not an uplift model")
    try:
        return load_model_file(record), record  # place and SHA-256 checked before unpickling
    except ExperimentError as error:
        raise UpliftError(str(error)) from error


def score_uplift(
    model: UpliftModel,
    record: ModelRecord,
    data: pd.DataFrame,
    *,
    id_col: str,
    chunk_size: int = 500_000,
    progress: bool = True,
) -> pd.DataFrame:
    """Id column then one predicted-uplift column per treatment; refuses data missing the model's features."""
    missing = [c for c in record.features if c not in data.columns]
    if missing:
        raise UpliftError(
            f"data lacks column(s) {', '.join(missing)} that model '{record.name}' was fitted on; "
            f"expected features: {', '.join(record.features)}"
        )
    if id_col not in data.columns:
        raise UpliftError(f"data lacks the id column '{id_col}'")
    starts = np.arange(0, len(data), chunk_size)
    parts = [
        model.predict(data.iloc[s : s + chunk_size][record.features])
        for s in tqdm(starts, desc="scoring", unit="chunk", disable=not progress or len(starts) < 2)
    ]
    scores = pd.concat(parts) if parts else pd.DataFrame(columns=model.treatments_)
    return pd.concat([data[[id_col]].reset_index(drop=True), scores.reset_index(drop=True)], axis=1)
