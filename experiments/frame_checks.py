"""Checks a per-user DataFrame passes before `analyze_frame` reduces it: the same strictness as the registry path.

Each refusal names the column, the row (the frame's index label) and the value, as the registry's imports do:
- the unit id column has one row per user (a user present three times is refused, naming the id and rows);
- arm labels are present (no phantom arm `nan`) and distinct as text (`1` and `"1"` would merge);
- metric, `<metric>_pre` and cost values are numbers: text is refused; a missing value (NaN, None) is refused,
  or, by the explicit `missing` option, its row left out ("drop") or read as 0 ("zero", the registry's
  convention for a user without an outcome row), counted and named in the report's notes;
- the planned weights name exactly the frame's arms, each > 0, summing to 1 (as `winback experiment create`).
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from experiments.errors import ExperimentError

Missing = Literal["refuse", "drop", "zero"]
MISSING_CHOICES: tuple[Missing, ...] = ("refuse", "drop", "zero")
SHOWN = 5  # index labels named in a message


def _labels(index: pd.Index, limit: int = SHOWN) -> str:
    """The first few index labels, and how many more."""
    shown = ", ".join(map(str, index[:limit]))
    return shown + (f" and {len(index) - limit} more" if len(index) > limit else "")


def check_columns(frame: pd.DataFrame, needed: Sequence[str]) -> None:
    """Refuse a frame without the named columns or without rows."""
    absent = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if absent:
        raise ExperimentError(f"the frame has no column(s) {', '.join(absent)}; "
                              f"it has {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise ExperimentError("the frame has no rows")


def check_units(frame: pd.DataFrame, unit: str) -> None:
    """One row per user: refuse missing ids and ids on several rows (naming the id and its rows)."""
    ids = frame[unit]
    absent = ids.isna()
    if absent.any():
        raise ExperimentError(f"column '{unit}' (the unit id) is missing at index {_labels(frame.index[absent])}; "
                              "every row needs the id of its user")
    repeated = ids[ids.duplicated(keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    rows = frame.index[(ids == first).to_numpy()]
    others = repeated.nunique() - 1
    more = f" ({others} more ids repeat)" if others else ""
    raise ExperimentError(f"user '{first}' appears {len(rows)} times in column '{unit}' (index {_labels(rows)}){more}; "
                          "give one row per user, its outcomes summed, so no user counts more than once")


@dataclass(frozen=True)
class Arms:
    """The arm column as text, the control's label and every arm (control first)."""

    labels: pd.Series
    control: str
    keys: tuple[str, ...]


def check_arms(frame: pd.DataFrame, arm: str, control: Hashable) -> Arms:
    """Arm labels as text; refuse missing labels, labels that merge as text and an absent control."""
    raw = frame[arm]
    absent = raw.isna()
    if absent.any():
        raise ExperimentError(f"column '{arm}' has no arm at index {_labels(frame.index[absent])}; "
                              "every user needs the arm they were assigned to")
    labels = raw.astype(str)
    if labels.nunique() != raw.nunique():
        raise ExperimentError(f"column '{arm}' mixes labels that read the same as text "
                              f"({', '.join(map(repr, pd.unique(raw)))}); use one type for the arm labels")
    keys = [str(a) for a in pd.unique(labels)]
    name = str(control)
    if name not in keys:
        raise ExperimentError(f"no control arm '{name}' in column '{arm}'; its arms: {', '.join(keys)}")
    return Arms(labels, name, (name, *[a for a in keys if a != name]))


def check_weights(weights: Mapping[Hashable, float] | None, arms: Sequence[str]) -> dict[str, float]:
    """Planned weights per arm (equal when None); refuse unknown or absent arms, weights <= 0 or not summing to 1."""
    if weights is None:
        return {a: 1.0 / len(arms) for a in arms}
    given = {str(k): v for k, v in weights.items()}
    unknown = [k for k in given if k not in arms]
    if unknown:
        raise ExperimentError(f"weights name arm '{unknown[0]}', which the frame does not have; "
                              f"its arms: {', '.join(arms)}")
    absent = [a for a in arms if a not in given]
    if absent:
        raise ExperimentError(f"weights give no weight for arm '{absent[0]}'; give one for each arm: {', '.join(arms)}")
    out: dict[str, float] = {}
    for a in arms:
        try:
            out[a] = float(given[a])
        except (TypeError, ValueError):
            raise ExperimentError(f"arm '{a}': weight must be a number, got {given[a]!r}") from None
        if not (math.isfinite(out[a]) and out[a] > 0):
            raise ExperimentError(f"arm '{a}': weight must be > 0, got {given[a]!r}")
    if abs(sum(out.values()) - 1.0) > 0.01:
        raise ExperimentError(f"arm weights must sum to 1, got {sum(out.values()):g}")
    return out


def numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats with NaN where a value is missing; refuse text and infinite values, naming the row."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    text = values.isna() & raw.notna()
    if text.any():
        where = frame.index[text]
        raise ExperimentError(f"column '{column}' has text where a number belongs: {raw[text].iloc[0]!r} at index "
                              f"{_labels(where)}")
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        raise ExperimentError(f"column '{column}' has infinite values at index {_labels(frame.index[infinite])}")
    return values


def missing_rows(values: Mapping[str, pd.Series], missing: Missing) -> dict[str, pd.Index]:
    """The index labels of missing values per column; refused (the first column named) when `missing` is refuse."""
    if missing not in MISSING_CHOICES:
        raise ExperimentError(f"missing must be one of {', '.join(MISSING_CHOICES)}, got {missing!r}")
    found = {name: series.index[series.isna().to_numpy()] for name, series in values.items()}
    found = {name: rows for name, rows in found.items() if len(rows)}
    if found and missing == "refuse":
        name, rows = next(iter(found.items()))
        raise ExperimentError(
            f"column '{name}' has {len(rows)} missing value(s) at index {_labels(rows)}; fill them, or pass "
            "missing='drop' to leave those rows out or missing='zero' to read them as 0 (counted in the notes)")
    return found


def missing_note(found: Mapping[str, pd.Index], missing: Missing, rows_left_out: int) -> str:
    """One note saying what the `missing` option did, naming columns, counts and rows."""
    parts = "; ".join(f"'{name}' {len(rows)} (index {_labels(rows)})" for name, rows in found.items())
    if missing == "drop":
        return f"missing='drop': {rows_left_out} row(s) with a missing value left out ({parts})"
    return f"missing='zero': missing values read as 0 ({parts})"
