"""Files other systems import: the send list a CRM needs (user → arm → treatment key) and report tables."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from common.spreadsheet import inert_frame
from experiments.db import RegistryLike, open_registry
from experiments.definitions import get_experiment
from experiments.errors import ExperimentError
from experiments.lookup import check_known

TABLE_FORMATS = ("csv", "parquet", "json")


def table_format(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The format to write: the explicit choice, else the file's extension (.csv, .parquet, .json)."""
    fmt = explicit or Path(path).suffix.lower().lstrip(".")
    fmt = "parquet" if fmt == "pq" else fmt
    if fmt not in TABLE_FORMATS:
        raise ExperimentError(f"{path}: cannot tell the format; use a .csv, .parquet or .json file name")
    return fmt


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write a table as CSV, Parquet or JSON records (nan → null), creating the folder; returns the path.

    A CSV is for people and spreadsheets, so its text cells are made inert (common/spreadsheet.py): a user id or
    name starting with `=`, `+`, `-` or `@` gets a leading `'`; numbers, Parquet and JSON are written as they are.
    """
    target = Path(path)
    fmt = table_format(target, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "csv":
            inert_frame(frame).to_csv(target, index=False)
        elif fmt == "parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_json(target, orient="records", indent=1)
    except OSError as error:
        raise ExperimentError(f"{target}: cannot write: {error.strerror or error}") from error
    return target


def assignments_frame(db: RegistryLike, key: str, arm: str | None = None) -> pd.DataFrame:
    """user_id, arm, treatment_key, assigned_at of experiment `key` (optionally one arm), by user id."""
    database = open_registry(db)
    experiment = get_experiment(key, database)
    if arm is not None:
        check_known("arm", arm, [a.key for a in experiment.arms], where=f"experiment '{key}'")
    frame = pd.read_sql_query(
        "SELECT a.user_id, a.arm_key AS arm, r.treatment_key, a.assigned_at FROM assignments a "
        "JOIN arms r ON r.experiment_key = a.experiment_key AND r.arm_key = a.arm_key "
        "WHERE a.experiment_key = ? AND (? IS NULL OR a.arm_key = ?) ORDER BY a.user_id",
        database.conn, params=(key, arm, arm), dtype={"user_id": "str", "treatment_key": "object"})
    return frame
