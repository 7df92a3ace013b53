"""The same analysis on a plain DataFrame of per-user outcomes, with no registry: for notebooks.

    report = analyze_frame(users, unit="user_id", arm="arm", control="control", metrics={"retained": "binary"},
                           cost="cost", value_per_retained=120)
    report.to_frame()

One row per user (`unit` names the id column; a repeated id is refused): the arm, each metric's value,
optionally a cost column, a segment column and `<metric>_pre` columns (the metric before assignment, used by
CUPED). Missing values are refused unless `missing` says otherwise (experiments/frame_checks.py has the rules;
docs/python.md states them). The frame is reduced to sufficient statistics with one pandas groupby, and the
report is the registry path's `ExperimentReport`.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Literal, cast

import pandas as pd

from experiments.analysis import ExperimentReport, analyze_data
from experiments.choices import SegmentBy
from experiments.errors import ExperimentError
from experiments.frame_checks import (
    Missing,
    check_arms,
    check_columns,
    check_units,
    check_weights,
    missing_note,
    missing_rows,
    numbers,
)
from experiments.metrics import ALL, NO_SEGMENT, ArmDesign, CostSource, ExperimentData, MetricInfo
from stats import Method, Moments

Kind = Literal["binary", "continuous"]


def _moments(group: pd.DataFrame, metric: str, binary: bool, pre: str | None, binary_pre: bool) -> Moments:
    """One arm × segment's sufficient statistics; a 0/1 pre column is read as binary, any other as continuous."""
    y = group[metric].to_numpy(dtype=float)
    fields: dict[str, float | None] = {}
    if pre is not None:
        x = group[pre].to_numpy(dtype=float)
        fields = dict(pre_sum=float(x.sum()), pre_sum_squares=None if binary_pre else float((x * x).sum()),
                      pre_post_sum=float((x * y).sum()))
    return Moments(len(y), float(y.sum()), None if binary else float((y * y).sum()), **fields)


def _kinds(metrics: Mapping[str, str]) -> dict[str, Kind]:
    for name, kind in metrics.items():
        if kind not in ("binary", "continuous"):
            raise ExperimentError(f"metric '{name}': kind must be binary or continuous, got {kind!r}")
    if not metrics:
        raise ExperimentError("give at least one metric: metrics={'retained': 'binary'}")
    return {name: cast(Kind, kind) for name, kind in metrics.items()}


def _check_names(kinds: Mapping[str, Kind], primary: str | None, guardrails: Sequence[str],
                 lower_is_better: Sequence[str]) -> None:
    """The primary metric, guardrails and lower-is-better metrics must be among `metrics`."""
    for role, names in (("primary", [primary] if primary else []), ("guardrails", guardrails),
                        ("lower_is_better", lower_is_better)):
        for name in names:
            if name not in kinds:
                raise ExperimentError(f"{role} names metric '{name}', which is not in metrics: {', '.join(kinds)}")


def _unit_column(frame: pd.DataFrame, unit: str | None) -> None:
    if unit is None:
        return
    if unit not in frame.columns:
        raise ExperimentError(f"the frame has no unit id column '{unit}': name the column of user ids with "
                              "unit=..., or pass unit=None when each row is known to be a different user")
    check_units(frame, unit)


def analyze_frame(
    frame: pd.DataFrame,
    *,
    metrics: Mapping[str, str],
    unit: str | None = "user_id",
    arm: str = "arm",
    control: Hashable = "control",
    primary: str | None = None,
    guardrails: Sequence[str] = (),
    lower_is_better: Sequence[str] = (),
    weights: Mapping[Hashable, float] | None = None,
    cost: str | None = None,
    segment: str | None = None,
    missing: Missing = "refuse",
    value_per_retained: float | None = None,
    method: Method = "ttest",
    cuped: bool = False,
    relative: bool = True,
    alpha: float = 0.05,
    key: str = "dataframe",
) -> ExperimentReport:
    """Analyse per-user rows; `metrics` maps each metric column to "binary" or "continuous" (primary: the first).

    `weights` are the planned arm weights for the SRM check (default: equal); `missing` is refuse, drop or zero.
    """
    kinds = _kinds(metrics)
    _check_names(kinds, primary, guardrails, lower_is_better)
    check_columns(frame, [arm, *kinds, *([cost] if cost else []), *([segment] if segment else [])])
    _unit_column(frame, unit)
    arms = check_arms(frame, arm, control)
    weight_of = check_weights(weights, arms.keys)
    pres = {name: f"{name}_pre" for name in kinds if cuped and f"{name}_pre" in frame.columns}
    columns = [*kinds, *pres.values(), *([cost] if cost else [])]
    values = {column: numbers(frame, column) for column in columns}
    found = missing_rows(values, missing)
    notes: list[str] = []
    data = pd.DataFrame(values, index=frame.index)
    data["_arm"] = arms.labels
    data["_segment"] = frame[segment].astype(str).where(frame[segment].notna(), NO_SEGMENT) if segment else ALL
    if found:
        keep = ~data[list(found)].isna().any(axis=1)
        notes.append(missing_note(found, missing, int((~keep).sum())))
        data = data[keep] if missing == "drop" else data.fillna(0.0)
        if data.empty:
            raise ExperimentError("missing='drop' left no rows: every row has a missing value")
    for name, kind in kinds.items():
        if kind == "binary" and not data[name].isin([0.0, 1.0]).all():
            raise ExperimentError(f"metric '{name}' is binary but has values other than 0 and 1")
    binary_pre = {name: bool(data[pre].isin([0.0, 1.0]).all()) for name, pre in pres.items()}
    segments = (ALL,) if segment is None else tuple(sorted(data["_segment"].unique()))
    groups = {k: g for k, g in data.groupby(["_arm", "_segment"], sort=False)}
    moments, counts, costs = {}, {}, {}
    for a in arms.keys:
        for s in segments:
            group = groups.get((a, s), data.iloc[0:0])
            counts[(a, s)] = len(group)
            costs[(a, s)] = float(group[cost].sum()) if cost else math.nan
            for name, kind in kinds.items():
                moments[(a, name, s)] = _moments(group, name, kind == "binary", pres.get(name),
                                                 binary_pre.get(name, False))
    infos = tuple(MetricInfo(name, kind, name not in lower_is_better, True) for name, kind in kinds.items())
    designs = tuple(ArmDesign(a, None if a == arms.control else a, weight_of[a], a == arms.control, 0.0)
                    for a in arms.keys)
    source: CostSource = "column" if cost else "unknown"
    collected = ExperimentData(
        key=key, status="dataframe", primary_metric=primary or next(iter(kinds)), guardrail_metrics=tuple(guardrails),
        target_cohort=None, value_per_retained=None, arms=designs, metrics=infos,
        segment_by=cast(SegmentBy, segment),  # any column of the frame, not only a cohort's
        segments=segments, counts=counts, costs=costs, cost_sources={a: source for a in arms.keys}, moments=moments)
    report = analyze_data(collected, method=method, cuped=cuped, value_per_retained=value_per_retained,
                          relative=relative, alpha=alpha)
    return replace(report, notes=tuple(dict.fromkeys([*notes, *report.notes])))
