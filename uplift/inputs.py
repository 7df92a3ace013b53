"""Reading and checking the files the uplift commands take (experiment data, users to score, scores, costs).

Cells are read as text (experiments/table_files.py) and typed here, so that every problem is one error naming
the file, the data row and the column: a column is numeric when all its non-empty values are numbers (an
empty cell is a missing value), text when none are, and an error when it mixes both; numbers must be finite and at most 1e15 in size (larger ones overflow
the sums the learners and the allocator take); ids follow the registry's identity rule. The checks run before
any fitting, so a bad file costs nothing.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import InputRowError
from experiments.identity import check_ids
from experiments.table_files import read_text_table
from uplift.errors import UpliftError

MAX_ABS_NUMBER = 1e15
MIN_ARM_USERS = 20  # per arm, so the held-out share still holds users of every arm


class UpliftInputError(InputRowError, UpliftError):
    """A bad uplift input file; the message names the file, row and column."""


def _fail(source: str, mask: np.ndarray, column: str, values: pd.Series, problem: str) -> None:
    bad = np.flatnonzero(mask)
    if bad.size:
        row = int(bad[0])
        raise UpliftInputError(source, row + 1, column, problem.format(value=values.iloc[row]))


def typed_column(values: pd.Series, source: str, column: str) -> pd.Series:
    """Numbers when every non-empty value is one (finite, at most 1e15 in size; empty = missing), text when none is."""
    text = values.fillna("").astype(str).str.strip()
    numbers = pd.to_numeric(text.where(text.ne(""), None), errors="coerce")
    parsed = numbers.notna().to_numpy()
    literal_nan = text.str.lower().isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]).to_numpy()
    if not parsed.any() and not literal_nan.any():
        if text.eq("").all():  # nothing but missing values: a numeric column with no value yet
            return pd.Series(np.nan, index=values.index, dtype=float)
        return values.fillna("").astype(str)
    # An empty cell in a numeric column is a missing value (a feature LightGBM handles, e.g. no order yet).
    _fail(source, ~parsed & ~literal_nan & text.ne("").to_numpy(), column, text,
          "'{value}' is not a number (the column's other values are)")
    _fail(source, literal_nan | ~np.isfinite(numbers.fillna(0).to_numpy()), column, text,
          "'{value}' is not a finite number")
    _fail(source, np.abs(numbers.to_numpy()) > MAX_ABS_NUMBER, column, text,
          f"'{{value}}' is larger than {MAX_ABS_NUMBER:g} in size")
    return numbers.astype(float)


def _no_such_column(column: str, frame: pd.DataFrame, shown: int = 12) -> str:
    """'no such column', the closest column of the file, and the first `shown` columns (a features file has ~90)."""
    import difflib

    names = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(names[:shown]) + (f", ... ({len(names)} columns)" if len(names) > shown else "")
    return f"no such column{hint}; the file has: {listed}"


def read_table(path: str | os.PathLike[str], id_col: str | None = None) -> pd.DataFrame:
    """A CSV or Parquet table with ids as exact text and every other column typed by `typed_column`."""
    source = str(path)
    frame = read_text_table(path, error=UpliftInputError)
    if id_col is not None:
        if id_col not in frame.columns:
            raise UpliftInputError(source, None, id_col, _no_such_column(id_col, frame))
        check_ids(frame[id_col], source, id_col, error=UpliftInputError)
    for column in frame.columns:
        if column != id_col:
            frame[column] = typed_column(frame[column], source, column)
    return frame


def check_fit_input(frame: pd.DataFrame, source: str, *, treatment_col: str, outcome_col: str, control: str,
                    arm_weights: dict[str, float] | None) -> None:
    """Refuse data no learner can use: missing columns, a text outcome, too few users per arm, bad arm weights."""
    for column in (treatment_col, outcome_col):
        if column not in frame.columns:
            raise UpliftInputError(source, None, column, _no_such_column(column, frame))
    if not pd.api.types.is_numeric_dtype(frame[outcome_col]):
        raise UpliftInputError(source, 1, outcome_col, "the outcome must be a number (0/1 or an amount)")
    sizes = frame[treatment_col].astype(str).value_counts()
    if control not in sizes.index:
        raise UpliftInputError(source, None, treatment_col,
                               f"control arm '{control}' does not occur (arms: {', '.join(sorted(map(str, sizes.index))[:8])})")
    small = sizes[sizes < MIN_ARM_USERS]
    if len(sizes) < 2 or len(small):
        detail = ", ".join(f"{arm} {n}" for arm, n in sizes.items())
        raise UpliftInputError(source, None, treatment_col, f"each arm needs at least {MIN_ARM_USERS} users and a "
                                                            f"treatment arm must exist; got {detail}")
    for arm, weight in (arm_weights or {}).items():
        if arm not in sizes.index:
            raise UpliftError(f"--arm-weight names arm '{arm}', which is not in {source}")
        if not (math.isfinite(weight) and 0 < weight <= 1):
            raise UpliftError(f"--arm-weight {arm}={weight:g}: a weight must be a share between 0 and 1")


def check_score_input(encoder, frame: pd.DataFrame, source: str) -> None:
    """The model's numeric features must be numeric in the data too (a text column would be scored as garbage)."""
    numeric = [cols for name, _, cols in getattr(encoder, "transformers_", []) if name == "numeric"]
    for column in (numeric[0] if numeric else []):
        if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
            raise UpliftInputError(source, 1, column, "the model was fitted on numbers here, but the file has text")


def check_scores(frame: pd.DataFrame, source: str, id_col: str) -> None:
    """Every column of a scores file but the id is a number (an uplift per treatment, or a value column)."""
    for column in frame.columns:
        if column != id_col and not pd.api.types.is_numeric_dtype(frame[column]):
            raise UpliftInputError(source, 1, column, "scores must be numbers")


def read_costs(path: str | os.PathLike[str]) -> dict[str, float]:
    """A JSON object mapping treatment -> unit cost (finite, >= 0, at most 1e15), in UTF-8."""
    source = str(path)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UpliftInputError(source, None, None, "is not UTF-8 text; save it as UTF-8 JSON") from None

    def refuse(constant: str):
        raise ValueError(f"{constant} is not a cost")

    try:
        costs = json.loads(text, parse_constant=refuse)
    except ValueError as error:
        raise UpliftInputError(source, None, None, f"is not valid JSON ({error})") from None
    if not isinstance(costs, dict) or not costs:
        raise UpliftInputError(source, None, None, "must be a JSON object mapping treatment -> unit cost")
    for name, cost in costs.items():
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 <= cost <= MAX_ABS_NUMBER:
            raise UpliftInputError(source, None, None,
                                   f"the cost of '{name}' must be a number from 0 to {MAX_ABS_NUMBER:g}, got {cost!r}")
    return {str(k): float(v) for k, v in costs.items()}
