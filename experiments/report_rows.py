"""An analysis as one flat table: a row per arm × metric × segment, the CSV finance and notebooks read."""
from __future__ import annotations

import math

import pandas as pd

from experiments.analysis import ExperimentReport
from experiments.metrics import ALL
from stats import Comparison, Economics

MONEY_FIELDS = (
    "total_cost", "incremental_retained", "incremental_retained_ci_low", "incremental_retained_ci_high",
    "cost_per_retained", "cost_per_retained_ci_low", "cost_per_retained_ci_high", "incremental_margin",
    "incremental_margin_ci_low", "incremental_margin_ci_high", "roi", "roi_ci_low", "roi_ci_high",
    "break_even_uplift",
)
COLUMNS = (
    "experiment_key", "method", "cuped", "segment_by", "segment", "arm", "treatment_key", "metric", "role", "kind",
    "relative", "n_control", "n_treatment", "mean_control", "mean_treatment", "effect", "ci_low", "ci_high",
    "p_value", "p_holm", "p_bh", "chance_to_win", "guardrail", *MONEY_FIELDS, "value_per_retained", "reason",
)


def _comparison(c: Comparison) -> dict[str, object]:
    return {"cuped": c.cuped, "relative": c.relative, "n_control": c.n_control, "n_treatment": c.n_treatment,
            "mean_control": c.mean_control, "mean_treatment": c.mean_treatment, "effect": c.effect,
            "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value, "chance_to_win": c.chance_to_win}


def _money(e: Economics | None) -> dict[str, float]:
    if e is None:
        return {name: math.nan for name in MONEY_FIELDS}
    return {name: getattr(e, name) for name in MONEY_FIELDS}


def report_rows(report: ExperimentReport) -> pd.DataFrame:
    """Every result of `report` as one row; money columns on the primary metric's rows, nan elsewhere.

    `cuped` says whether CUPED adjusted that row's comparison (False where it was skipped, and on guardrails)."""
    treatments = {arm.arm_key: arm.treatment_key for arm in report.arms}
    money = {item.arm_key: item.economics for item in report.economics}
    base = {"experiment_key": report.key, "method": report.method, "value_per_retained": report.value_per_retained}
    rows = []
    for r in report.results:
        primary = r.metric == report.primary_metric
        reasons = [r.comparison.reason] + ([money[r.arm_key].reason] if primary and r.arm_key in money else [])
        rows.append({**base, "segment_by": None, "segment": ALL, "arm": r.arm_key,
                     "treatment_key": treatments.get(r.arm_key), "metric": r.metric, "role": r.role, "kind": r.kind,
                     **_comparison(r.comparison), "p_holm": r.p_holm, "p_bh": r.p_bh, "guardrail": r.guardrail,
                     **_money(money.get(r.arm_key) if primary else None),
                     "reason": "; ".join(x for x in reasons if x)})
    kinds = {r.metric: r.kind for r in report.results}
    for s in report.segments:
        reasons = [s.comparison.reason] + ([s.economics.reason] if s.economics is not None else [])
        rows.append({**base, "segment_by": report.segment_by, "segment": s.segment, "arm": s.arm_key,
                     "treatment_key": treatments.get(s.arm_key), "metric": report.primary_metric, "role": "primary",
                     "kind": kinds.get(report.primary_metric), **_comparison(s.comparison), "p_holm": math.nan,
                     "p_bh": math.nan, "guardrail": None, **_money(s.economics),
                     "reason": "; ".join(x for x in reasons if x)})
    return pd.DataFrame(rows, columns=list(COLUMNS))
