"""The same analysis on a plain DataFrame of per-user outcomes, with no registry: for notebooks.

    report = analyze_frame(users, arm="arm", control="control", metrics={"retained": "binary"},
                           cost="cost", value_per_retained=120)
    report.to_frame()

One row per user: the arm, each metric's value (missing = 0), optionally a cost column, a segment column
and `<metric>_pre` columns (the CUPED covariates). The frame is reduced to sufficient statistics with one
pandas groupby, and the report is the registry path's `ExperimentReport`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from experiments.analysis import ExperimentReport, analyze_data
from experiments.errors import ExperimentError
from experiments.metrics import ALL, ArmDesign, ExperimentData, MetricInfo
from stats import Method, Moments


def _moments(group: pd.DataFrame, metric: str, binary: bool) -> Moments:
    y = group[metric].to_numpy(dtype=float)
    pre = {}
    if f"{metric}_pre" in group:
        x = group[f"{metric}_pre"].to_numpy(dtype=float)
        pre = dict(pre_sum=float(x.sum()), pre_sum_squares=None if binary else float((x * x).sum()),
                   pre_post_sum=float((x * y).sum()))
    return Moments(len(y), float(y.sum()), None if binary else float((y * y).sum()), **pre)


def analyze_frame(
    frame: pd.DataFrame,
    *,
    metrics: Mapping[str, str],
    arm: str = "arm",
    control: str = "control",
    primary: str | None = None,
    guardrails: Sequence[str] = (),
    lower_is_better: Sequence[str] = (),
    weights: Mapping[str, float] | None = None,
    cost: str | None = None,
    segment: str | None = None,
    value_per_retained: float | None = None,
    method: Method = "ttest",
    cuped: bool = False,
    relative: bool = True,
    alpha: float = 0.05,
    key: str = "dataframe",
) -> ExperimentReport:
    """Analyse per-user rows; `metrics` maps each metric column to "binary" or "continuous" (primary: the first).

    `weights` are the planned arm weights for the SRM check (default: equal).
    """
    columns = [arm, *metrics, *([cost] if cost else []), *([segment] if segment else [])]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ExperimentError(f"the frame has no column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise ExperimentError("the frame has no rows")
    arms = [str(a) for a in pd.unique(frame[arm].astype(str))]
    if control not in arms:
        raise ExperimentError(f"no control arm '{control}' in column '{arm}'; its arms: {', '.join(arms)}")
    arms = [control, *[a for a in arms if a != control]]
    data = frame.copy()
    data[arm] = data[arm].astype(str)
    for name, kind in metrics.items():
        if kind not in ("binary", "continuous"):
            raise ExperimentError(f"metric '{name}': kind must be binary or continuous, got {kind!r}")
        values = pd.to_numeric(data[name], errors="coerce").fillna(0.0)
        if not np.isfinite(values).all():
            raise ExperimentError(f"metric '{name}' has infinite values")
        if kind == "binary" and not values.isin([0.0, 1.0]).all():
            raise ExperimentError(f"metric '{name}' is binary but has values other than 0 and 1")
        data[name] = values
    weight_of = {a: 1.0 / len(arms) for a in arms} if weights is None else {a: float(weights[a]) for a in arms}
    segments = (ALL,) if segment is None else tuple(sorted(data[segment].astype(str).unique()))
    seg_col = data[segment].astype(str) if segment else pd.Series(ALL, index=data.index)
    groups = {k: g for k, g in data.groupby([data[arm], seg_col], sort=False)}
    moments, counts, costs = {}, {}, {}
    for a in arms:
        for s in segments:
            group = groups.get((a, s), data.iloc[0:0])
            counts[(a, s)] = len(group)
            costs[(a, s)] = float(group[cost].sum()) if cost else 0.0
            for name, kind in metrics.items():
                moments[(a, name, s)] = _moments(group, name, kind == "binary")
    primary = primary or next(iter(metrics))
    infos = tuple(MetricInfo(name, kind, name not in lower_is_better, True) for name, kind in metrics.items())  # type: ignore[arg-type]
    designs = tuple(ArmDesign(a, None if a == control else a, weight_of[a], a == control, 0.0) for a in arms)
    collected = ExperimentData(
        key=key, status="dataframe", primary_metric=primary, guardrail_metrics=tuple(guardrails), target_cohort=None,
        value_per_retained=None, arms=designs, metrics=infos, segment_by=segment,  # type: ignore[arg-type]
        segments=segments, counts=counts, costs=costs,
        cost_sources={a: "deliveries" if cost else "none" for a in arms}, moments=moments)
    return analyze_data(collected, method=method, cuped=cuped, value_per_retained=value_per_retained,
                        relative=relative, alpha=alpha)
