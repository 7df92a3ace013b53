"""Charts of results people look at: effects with intervals, and the money view (cost per retained user, ROI)."""
from __future__ import annotations

import math
from pathlib import Path

from common.settings import currency_setting
from experiments.analysis import ExperimentReport
from stats import Comparison, Economics, Verdict

VERDICT_COLOURS = {"pass": "#2a9d8f", "warn": "#e9c46a", "fail": "#e76f51", None: "#264653", "undefined": "#8d99ae"}
VERDICT_LABELS = {None: "primary / secondary", "pass": "guardrail: pass", "warn": "guardrail: warn",
                  "fail": "guardrail: fail", "undefined": "guardrail: undefined"}
CHART_SUFFIXES = (".png", ".svg", ".pdf")


def _interval(ax, y: float, value: float, low: float, high: float, colour: str, scale: float = 1.0,
              limits: tuple[float, float] | None = None) -> None:
    """A point with its interval; a side that is unbounded or beyond the axis limits ends in an arrow."""
    if not math.isfinite(value):
        return
    lo = low if math.isfinite(low) else -math.inf
    hi = high if math.isfinite(high) else math.inf
    left, right = limits if limits else (-math.inf, math.inf)
    shown_lo, shown_hi = max(lo * scale, left), min(hi * scale, right)
    ax.errorbar(value * scale, y, xerr=[[value * scale - shown_lo], [shown_hi - value * scale]], fmt="o",
                color=colour, capsize=4)
    if shown_hi < hi * scale:
        ax.annotate("", (shown_hi, y), xytext=(shown_hi - 1e-9, y), arrowprops=dict(arrowstyle="->", color=colour))
        ax.plot([shown_hi], [y], marker=">", color=colour, markersize=6)
    if shown_lo > lo * scale:
        ax.plot([shown_lo], [y], marker="<", color=colour, markersize=6)


def _no_estimate(ax, y: float, left: float, text: str = "no estimate") -> None:
    """Say in the row why it is empty (the table's "why undefined" tells more)."""
    ax.annotate(text, (left, y), xytext=(4, -3), textcoords="offset points", fontsize=7, color="#8d99ae")


def _limits(points: list[float], lows: list[float], highs: list[float], scale: float = 1.0) -> tuple[float, float]:
    """Axis limits that show every point and 0, and each interval in full unless it reaches further than 1.5 times
    the larger of the points' spread and the typical (median) interval width: then it runs off the axis. So a row
    of similar, wide intervals around small effects is drawn whole, and only an outlier (a Fieller interval near a
    zero uplift, say) is cut."""
    finite = [p * scale for p in points if math.isfinite(p)] or [0.0]
    low, high = min(finite + [0.0]), max(finite + [0.0])
    widths = sorted((h - lo) * scale for lo, h in zip(lows, highs) if math.isfinite(lo) and math.isfinite(h))
    typical = widths[len(widths) // 2] if widths else 0.0
    spread = max(high - low, typical, 1e-9)
    ends_lo = [v * scale for v in lows if math.isfinite(v)]
    ends_hi = [v * scale for v in highs if math.isfinite(v)]
    left = max(min(ends_lo + [low]), low - 1.5 * spread)
    right = min(max(ends_hi + [high]), high + 1.5 * spread)
    pad = 0.05 * (right - left or 1.0)
    return left - pad, right + pad


EffectRow = tuple[str, str, Comparison, Verdict | None, bool]


def _effects_rows(report: ExperimentReport) -> list[EffectRow]:
    """(panel title, row label, comparison, verdict, binary metric) for each plotted effect."""
    rows: list[EffectRow] = []
    kinds = {r.metric: r.kind for r in report.results}
    if report.segment_by:
        for s in report.segments:
            rows.append((f"{report.primary_metric} by {report.segment_by}", f"{s.segment} · {s.arm_key}",
                         s.comparison, None, kinds.get(report.primary_metric) == "binary"))
    else:
        for r in report.results:
            direction = "" if r.higher_is_better else ", lower is better"
            rows.append((f"{r.metric} [{r.role}{direction}]", r.arm_key, r.comparison, r.guardrail,
                         r.kind == "binary"))
    return rows


def _money_rows(report: ExperimentReport) -> list[tuple[str, Economics]]:
    if report.segment_by:
        return [(f"{s.segment} · {s.arm_key}", s.economics) for s in report.segments if s.economics is not None]
    return [(m.arm_key, m.economics) for m in report.economics]


def plot_effects(report: ExperimentReport, path: str | Path) -> Path:
    """Effects (one panel per metric, or the primary metric by segment) and, when the primary metric is a
    retention rate, cost per incremental retained user and ROI with their intervals; guardrails coloured by
    verdict, with a legend. PNG, SVG or PDF by the file's suffix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    if path.suffix.lower() not in CHART_SUFFIXES:
        from experiments.errors import ExperimentError

        raise ExperimentError(f"--chart {path}: use a .png, .svg or .pdf file name")
    effects = _effects_rows(report)
    panels = list(dict.fromkeys(title for title, *_ in effects))
    money = _money_rows(report)
    n_rows = max((sum(1 for t, *_ in effects if t == p) for p in panels), default=1)
    top = len(panels)
    columns = max(top, 2) if money else max(top, 1)
    row_height = 0.32 * max(n_rows, len(money), 2) + 1.4
    fig, axes = plt.subplots(2 if money else 1, columns, figsize=(4.6 * columns, row_height * (2 if money else 1)),
                             squeeze=False)
    used_verdicts = set()
    for ax, panel in zip(axes[0], panels):
        chosen = [(label, c, verdict) for title, label, c, verdict, _ in effects if title == panel]
        binary = all(is_binary for title, *_, is_binary in effects if title == panel)
        scale = 100.0 if report.relative or binary else 1.0  # % of control, percentage points, or units
        limits = _limits([c.effect for _, c, _ in chosen], [c.ci_low for _, c, _ in chosen],
                         [c.ci_high for _, c, _ in chosen], scale)
        for y, (_label, c, verdict) in enumerate(chosen):
            used_verdicts.add(verdict)
            _interval(ax, y, c.effect, c.ci_low, c.ci_high, VERDICT_COLOURS.get(verdict, VERDICT_COLOURS[None]),
                      scale, limits)
            if math.isnan(c.effect):
                _no_estimate(ax, y, limits[0])
        ax.set_xlim(*limits)
        ax.axvline(0, color="#999999", linewidth=1)
        ax.set_yticks(range(len(chosen)), [label for label, *_ in chosen], fontsize=8)
        ax.set_ylim(-0.7, len(chosen) - 0.3)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("relative effect vs control (%)" if report.relative
                      else "difference vs control (percentage points)" if binary
                      else "difference vs control (metric units)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[0][len(panels):]:
        ax.axis("off")
    if money:
        labels = [label for label, _ in money]
        cost_ax, roi_ax = axes[1][0], axes[1][1]
        value = report.value_per_retained
        econ = [e for _, e in money]
        cost_limits = _limits([e.cost_per_retained for e in econ] + ([value] if math.isfinite(value) else []),
                              [e.cost_per_retained_ci_low for e in econ], [e.cost_per_retained_ci_high for e in econ])
        cost_limits = (max(cost_limits[0], 0.0), cost_limits[1])
        roi_limits = _limits([e.roi for e in econ], [e.roi_ci_low for e in econ], [e.roi_ci_high for e in econ], 100.0)
        for y, e in enumerate(econ):
            _interval(cost_ax, y, e.cost_per_retained, e.cost_per_retained_ci_low, e.cost_per_retained_ci_high,
                      "#264653", 1.0, cost_limits)
            if not math.isfinite(e.cost_per_retained):  # inf: the uplift is not positive; nan: no estimate
                _no_estimate(cost_ax, y, cost_limits[0],
                             "no extra retention" if math.isinf(e.cost_per_retained) else "no estimate")
            _interval(roi_ax, y, e.roi, e.roi_ci_low, e.roi_ci_high, "#6a4c93", 100.0, roi_limits)
            if math.isnan(e.roi) and math.isfinite(value):
                _no_estimate(roi_ax, y, roi_limits[0])
        cost_ax.set_xlim(*cost_limits)
        roi_ax.set_xlim(*roi_limits)
        cost_ax.set_title("cost per incremental retained user (Fieller CI)", fontsize=10)
        cost_ax.set_xlabel(f"{currency_setting() or 'money'} per extra retained user", fontsize=9)
        if math.isfinite(value):
            cost_ax.axvline(value, color="#e76f51", linestyle="--", linewidth=1,
                            label=f"value per retained user {value:,.0f}")
            cost_ax.legend(fontsize=8, loc="best")
        roi_ax.set_title("ROI" + ("" if math.isfinite(value) else " (needs a value per retained user)"), fontsize=10)
        if math.isfinite(value):
            roi_ax.set_xlabel("return on spend (%)", fontsize=9)
            roi_ax.axvline(0, color="#999999", linewidth=1)
        for ax in (cost_ax, roi_ax):
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # wide ROI ranges: labels must not run together
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_ylim(-0.7, len(labels) - 0.3)
            ax.grid(axis="x", alpha=0.3)
        if not math.isfinite(value):  # an empty panel with a made-up axis would read as ROI 0
            roi_ax.set_xticks([])
            roi_ax.text(0.5, 0.5, f"give one: winback analyze {report.key} --value-per-retained V",
                        transform=roi_ax.transAxes, ha="center", va="center", fontsize=8, color="#8d99ae")
        for ax in axes[1][2:]:
            ax.axis("off")
    handles = [Line2D([], [], marker="o", linestyle="", color=VERDICT_COLOURS[v], label=VERDICT_LABELS[v])
               for v in VERDICT_LABELS if v in used_verdicts]
    handles.append(Line2D([], [], marker=">", linestyle="", color="#555555", label="interval continues off the axis"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    segment = f", by {report.segment_by}" if report.segment_by else ""
    applied = any(getattr(c, "cuped", False) for _, _, c, _, _ in effects)
    cuped = (", CUPED" if applied else ", CUPED not applied (no pre-period outcomes)") if report.cuped else ""
    effects_kind = "relative" if report.relative else "absolute"
    fig.suptitle(f"{report.key}: {report.method}, {effects_kind} effects{cuped}{segment}, "
                 f"{100 * (1 - report.alpha):.0f}% intervals, SRM p = {report.srm_p_value:.3g}", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_holdout_proof(proof, path: str | Path, *, title: str = "") -> Path:
    """The fit's forecast, the plan on held-out users and each blanket, per user with 95 % intervals (one panel),
    and the plan's paired gain over each blanket (a second panel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    values = [("forecast (fit, out of fold)", proof.forecast, "#8250df"), ("plan, held-out users", proof.targeted,
                                                                           "#1f6feb")]
    values += [(b.policy, b, "#57606a") for b in proof.blankets]
    gains = [(g.policy.removeprefix("targeted - "), g, "#1a7f37" if g.ci_low > 0 else "#57606a") for g in proof.gains]
    with plt.style.context("default"):  # causalml switches the global style on import
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.5 * max(len(values), len(gains)) + 1.8))
        for ax, rows, heading in ((axes[0], values, "incremental outcome per held-out user"),
                                  (axes[1], gains, "gain of the plan over the blanket (paired)")):
            for y, (_, e, colour) in enumerate(reversed(rows)):
                _interval(ax, y, e.value_per_user, e.ci_low, e.ci_high, colour)
            ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=9)
            ax.set_ylim(-0.6, len(rows) - 0.4)
            ax.axvline(0, color="#999999", linewidth=1)
            ax.set_title(heading, fontsize=10)
            ax.grid(axis="x", color="#eeeeee")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # 0.025 steps ran their labels together
        fig.suptitle(f"{title} (doubly robust, 95% intervals; {proof.n_fit:,} users fitted, {proof.n_plan:,} judged)",
                     fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return path

