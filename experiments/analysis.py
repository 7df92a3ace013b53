"""The results layer: one call turns an experiment in the registry into a report (CLI and web UI use it).

`analyze_experiment` reads sufficient statistics with SQL (experiments/metrics.py) and hands them to
`stats/`: per arm × metric comparisons against control, Holm and Benjamini-Hochberg adjusted p-values
across all arms × metrics, guardrail verdicts, sample ratio mismatch, and the money view - cost per
incremental retained user, margin and ROI - per arm and per segment.

Value of a retained user: the `value_per_retained` argument (e.g. the expected margin of a customer
kept, from the finance team or a CLV model), else the experiment's own `value_per_retained` (set when
it was created), else the `WINBACK_VALUE_PER_RETAINED` environment variable, else none given - then
margin, ROI and break-even are nan and the report says why.
The money view needs a 0/1 primary metric (retained or not); for another primary metric it is left out
with a note.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import sqlite_utils

from common.settings import ENV_VALUE_PER_RETAINED, value_per_retained_setting
from experiments.errors import ExperimentError
from experiments.metrics import ALL, ExperimentData, SegmentBy, collect
from stats import (
    Comparison,
    Economics,
    Method,
    Verdict,
    adjust_p_values,
    compare,
    economics,
    guardrail_verdict,
    srm,
    srm_flagged,
    stricter_verdict,
)

Role = Literal["primary", "guardrail", "secondary"]
VALUE_ENV = ENV_VALUE_PER_RETAINED


@dataclass(frozen=True)
class ArmSummary:
    """An arm's size, planned weight and spend (`cost_source`: deliveries, unit_cost fallback, none, a frame's
    cost column, or unknown: no cost given, so the cost is nan)."""

    arm_key: str
    treatment_key: str | None
    is_control: bool
    weight: float
    n: int
    cost: float
    cost_source: str
    opted_out: int = 0  # assigned, then opted out: kept in the arm (intention to treat)


@dataclass(frozen=True)
class MetricResult:
    """One treatment arm against control on one metric, with adjusted p-values and a guardrail verdict."""

    arm_key: str
    metric: str
    kind: str
    role: Role
    higher_is_better: bool
    comparison: Comparison
    p_holm: float
    p_bh: float
    guardrail: Verdict | None


@dataclass(frozen=True)
class ArmEconomics:
    """Cost per incremental retained user, margin and ROI of one arm (in one segment, or 'all')."""

    arm_key: str
    segment: str
    economics: Economics


@dataclass(frozen=True)
class SegmentResult:
    """The primary metric in one segment: treatment arm against control, plus its money view."""

    segment: str
    arm_key: str
    comparison: Comparison
    economics: Economics | None


@dataclass(frozen=True)
class ExperimentReport:
    """Everything a decision needs about one experiment; `to_dict()` for JSON."""

    key: str
    status: str
    method: Method
    cuped: bool
    relative: bool
    alpha: float
    primary_metric: str
    value_per_retained: float
    arms: tuple[ArmSummary, ...]
    srm_p_value: float
    srm_flagged: bool
    results: tuple[MetricResult, ...]
    economics: tuple[ArmEconomics, ...]
    segment_by: SegmentBy | None
    segments: tuple[SegmentResult, ...]
    notes: tuple[str, ...]

    def result(self, arm_key: str, metric: str) -> MetricResult:
        """The result of one arm on one metric."""
        for item in self.results:
            if item.arm_key == arm_key and item.metric == metric:
                return item
        raise ExperimentError(f"experiment '{self.key}' has no result for arm '{arm_key}' and metric '{metric}'")

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dicts and lists (floats may be nan or inf; `common.jsonable` makes strict JSON)."""
        return asdict(self)

    def to_frame(self):
        """One flat row per arm × metric × segment (pandas DataFrame): see experiments.report_rows."""
        from experiments.report_rows import report_rows

        return report_rows(self)


def analyze_experiment(
    key: str,
    db: str | os.PathLike[str] | sqlite_utils.Database | None = None,
    *,
    method: Method = "ttest",
    cuped: bool = False,
    value_per_retained: float | None = None,
    segment_by: SegmentBy | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    tuning: float = 5000,
    sums_source=None,
    facts: str | None = None,
) -> ExperimentReport:
    """Analyse experiment `key`: comparisons, adjusted p-values, guardrails, SRM, money, segments.

    `sums_source` computes the outcome sums in a warehouse engine (experiments.warehouse_metrics); `facts` says
    where the registry's fact SQL runs (experiments.fact_source: the columnar mirror by default).
    """
    data = collect(key, db, segment_by=segment_by, pre_period=cuped, sums_source=sums_source, facts=facts)
    report = analyze_data(data, method=method, cuped=cuped, value_per_retained=value_per_retained,
                          relative=relative, alpha=alpha, tuning=tuning)
    from experiments.bandit_weights import expected_shares, get_bandit

    if get_bandit(db, key) is None:
        return report
    # Weights moved between periods: the pooled effects can mislead, and the arm sizes are judged against the
    # shares the periods' weights imply (Σ_p N_p · w_p / N, GrowthBook's bandit SRM).
    shares = expected_shares(db, key)
    srm_p = srm([a.n for a in report.arms], shares) if shares else report.srm_p_value
    notes = [f"'{key}' is a bandit: its weights changed between periods, so this pooled read can mislead; read the "
             f"per-period and combined analysis with `winback experiment bandit {key}` (SRM here: arm sizes against "
             "the shares the periods' weights imply)"]
    if srm_flagged(srm_p):
        notes.append(f"sample ratio mismatch (p = {srm_p:.2g}): arm sizes do not fit the weight periods; check "
                     "assignment and logging before trusting any result")
    notes += [n for n in report.notes if not n.startswith("sample ratio mismatch")]
    return replace(report, srm_p_value=srm_p, srm_flagged=srm_flagged(srm_p), notes=tuple(notes))


def analyze_data(
    data: ExperimentData,
    *,
    method: Method = "ttest",
    cuped: bool = False,
    value_per_retained: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    tuning: float = 5000,
) -> ExperimentReport:
    """The analysis on sufficient statistics however they were gathered (registry SQL, a warehouse, a DataFrame)."""
    key, segment_by = data.key, data.segment_by
    value = _value_per_retained(value_per_retained, data.value_per_retained)
    notes: list[str] = []
    options = dict(relative=relative, alpha=alpha, method=method, tuning=tuning)
    control = data.control.arm_key
    treated = [arm for arm in data.arms if not arm.is_control]
    raw: list[tuple[str, Any, Comparison]] = []
    for arm in treated:
        for info in data.metrics:
            # Guardrails are judged on the unadjusted interval (stats.guardrails says why).
            adjust = cuped and info.key not in data.guardrail_metrics
            raw.append((arm.arm_key, info, _compare(data, control, arm.arm_key, info.key, ALL, adjust, options, notes)))
    holm = adjust_p_values([c.p_value for _, _, c in raw], "holm")
    bh = adjust_p_values([c.p_value for _, _, c in raw], "bh")
    results = tuple(
        MetricResult(arm_key=arm, metric=info.key, kind=info.kind, role=_role(data, info.key),
                     higher_is_better=info.higher_is_better, comparison=comp, p_holm=ph, p_bh=pb,
                     guardrail=_guardrail(data, control, arm, info, comp, options, notes)
                     if info.key in data.guardrail_metrics else None)
        for (arm, info, comp), ph, pb in zip(raw, holm, bh)
    )
    unregistered = [m.key for m in data.metrics if not m.registered]
    if unregistered:
        notes.append(f"metrics not in the metrics table, read as continuous: {', '.join(unregistered)}")
    srm_p = srm([data.count(a.arm_key) for a in data.arms], [a.weight for a in data.arms])
    if srm_flagged(srm_p):
        notes.append(f"sample ratio mismatch (p = {srm_p:.2g}): arm sizes do not fit the planned weights; "
                     "check assignment and logging before trusting any result")
    money_ok = _money_metric(data, notes)
    money = tuple(
        ArmEconomics(arm.arm_key, ALL, _economics(data, control, arm.arm_key, ALL, cuped, options, value))
        for arm in treated) if money_ok else ()
    segments: tuple[SegmentResult, ...] = ()
    if segment_by is not None:
        segments = tuple(
            SegmentResult(seg, arm.arm_key,
                          _compare(data, control, arm.arm_key, data.primary_metric, seg, cuped, options, notes),
                          _economics(data, control, arm.arm_key, seg, cuped, options, value) if money_ok else None)
            for seg in data.segments for arm in treated)
    arms = tuple(ArmSummary(a.arm_key, a.treatment_key, a.is_control, a.weight, data.count(a.arm_key),
                            data.cost(a.arm_key), data.cost_sources[a.arm_key], data.opted_out.get(a.arm_key, 0))
                 for a in data.arms)
    if any(arm.opted_out for arm in arms):
        notes.append(f"{sum(a.opted_out for a in arms)} assigned users opted out later "
                     f"({', '.join(f'{a.arm_key} {a.opted_out}' for a in arms)}); they stay in their arm "
                     "(intention to treat) and no further deliveries to them are imported")
    return ExperimentReport(
        key=key, status=data.status, method=method, cuped=cuped, relative=relative, alpha=alpha,
        primary_metric=data.primary_metric, value_per_retained=math.nan if value is None else value, arms=arms,
        srm_p_value=srm_p, srm_flagged=srm_flagged(srm_p), results=results, economics=money,
        segment_by=segment_by, segments=segments, notes=tuple(dict.fromkeys(notes)),
    )


def _value_per_retained(value: float | None, stored: float | None = None) -> float | None:
    """The argument, else the experiment's own value, else $WINBACK_VALUE_PER_RETAINED, else None."""
    if value is None:
        value = stored
    text = value_per_retained_setting()
    if value is None and text:
        try:
            value = float(text)
        except ValueError:
            raise ExperimentError(f"{VALUE_ENV} must be a number (the value of one retained user), got {text!r}") from None
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ExperimentError(f"the value per retained user must be a finite amount >= 0, got {value!r}")
    return value


def _role(data: ExperimentData, metric: str) -> Role:
    if metric == data.primary_metric:
        return "primary"
    return "guardrail" if metric in data.guardrail_metrics else "secondary"


def _compare(data: ExperimentData, control: str, arm: str, metric: str, segment: str, cuped: bool,
             options: dict, notes: list[str]) -> Comparison:
    """One comparison; CUPED only where the metric has pre-period outcomes (otherwise noted)."""
    a, b = data.moments_for(control, metric, segment), data.moments_for(arm, metric, segment)
    if data.measured is not None and metric not in data.measured:
        # Users without an outcome row count as 0, which is right beside other rows but, with none at all,
        # would show a mean of 0 in every arm and blame it on the arithmetic.
        notes.append(f"no outcomes imported for '{metric}' yet: import them with `winback import outcomes FILE`")
        return _no_outcomes(compare(a, b, **options), metric)
    use_cuped = cuped and a.has_pre and b.has_pre
    if cuped and not use_cuped:
        notes.append(f"CUPED skipped for '{metric}': no pre-period outcomes")
    result = compare(a, b, cuped=use_cuped, **options)
    info = next((m for m in data.metrics if m.key == metric), None)
    if info is not None and not info.higher_is_better:
        # Lower is better: "winning" is a decrease, so the chance to win and the two risks trade places
        # (GrowthBook does the same for inverse metrics).
        result = replace(result, chance_to_win=1.0 - result.chance_to_win, risk=result.risk_control,
                         risk_control=result.risk)
    return result


INTERVAL_NAMES = {"ttest": "CI", "bayesian": "credible interval", "sequential": "confidence sequence"}


def _guardrail(data: ExperimentData, control: str, arm: str, info, comp: Comparison, options: dict,
               notes: list[str]):
    """The guardrail verdict: the stricter of the relative and the absolute reads, whichever one is displayed.

    `stats.stricter_verdict` says why; this adds the other read and a note when that read decided, so `analyze`,
    `analyze --absolute` and `decide` (which reads relative) give one verdict."""
    if comp.n_control == 0 or math.isnan(comp.mean_control):
        return guardrail_verdict(comp, info.higher_is_better)
    other = _compare(data, control, arm, info.key, ALL, False, {**options, "relative": not comp.relative}, [])
    other_verdict, other_decided = stricter_verdict(comp, other, info.higher_is_better)
    verdict = guardrail_verdict(comp, info.higher_is_better)
    if not other_decided:
        return verdict
    relative, relative_verdict = (comp, verdict) if comp.relative else (other, other_verdict)
    interval = INTERVAL_NAMES.get(str(options.get("method")), "interval")
    level = f"{1 - other.alpha:.0%} {interval}"
    if other.relative:
        shown = f"{other.effect:+.2%}, {level} [{other.ci_low:+.2%}, {other.ci_high:+.2%}]"
        why = f"its interval lies wholly on the bad side; the absolute read alone says {verdict}"
    else:
        shown = f"{other.effect:+.4g}, {level} [{other.ci_low:+.4g}, {other.ci_high:+.4g}]"
        if comp.mean_control == 0:
            why = "its control mean is 0, so a relative change is undefined"
        elif relative_verdict == "undefined":
            why = f"the relative read is {relative.reason or 'undefined'}"
        else:
            why = f"the relative interval is too wide to judge (relative read: {relative_verdict})"
    notes.append(f"guardrail '{info.key}' for arm '{arm}' is judged on the "
                 f"{'relative change' if other.relative else 'absolute difference'} ({shown}): {why}; "
                 f"a guardrail keeps the stricter of the relative and the absolute read")
    return other_verdict


def _no_outcomes(result: Comparison, metric: str) -> Comparison:
    """A comparison with every estimate undefined because the metric has no outcome rows."""
    return replace(result, mean_control=math.nan, mean_treatment=math.nan, effect=math.nan, std_error=math.nan,
                   ci_low=math.nan, ci_high=math.nan, p_value=math.nan, chance_to_win=math.nan, risk=math.nan,
                   risk_control=math.nan, reason=f"no outcomes imported for '{metric}' yet")


def _money_metric(data: ExperimentData, notes: list[str]) -> bool:
    primary = next(m for m in data.metrics if m.key == data.primary_metric)
    if primary.kind != "binary":
        notes.append(f"no cost per retained user: primary metric '{primary.key}' is not a registered binary "
                     "(retained yes/no) metric")
        return False
    return True


def _economics(data: ExperimentData, control: str, arm: str, segment: str, cuped: bool, options: dict,
               value: float | None) -> Economics:
    """Money view from the absolute uplift of the primary (retention) metric."""
    absolute = _compare(data, control, arm, data.primary_metric, segment, cuped, {**options, "relative": False}, [])
    cost = None if data.cost_sources.get(arm) == "unknown" else data.cost(arm, segment)
    return economics(absolute, cost, value_per_retained=value)
