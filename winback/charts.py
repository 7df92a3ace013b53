"""Charts of results people look at: effects with intervals, and the money view (cost per retained user, ROI)."""
from __future__ import annotations

import math
from pathlib import Path

from experiments.analysis import ExperimentReport

VERDICT_COLOURS = {"pass": "#2a9d8f", "warn": "#e9c46a", "fail": "#e76f51", None: "#264653", "undefined": "#8d99ae"}
VERDICT_LABELS = {None: "primary / secondary", "pass": "guardrail: pass", "warn": "guardrail: warn",
                  "fail": "guardrail: fail", "undefined": "guardrail: undefined"}
CHART_SUFFIXES = (".png", ".svg", ".pdf")


def _interval(ax, y: float, value: float, low: float, high: float, colour: str, scale: float = 1.0) -> None:
    """A point with its interval; an unbounded side is drawn to the axis edge with an arrow marker."""
    if not math.isfinite(value):
        return
    lo = low if math.isfinite(low) else value
    hi = high if math.isfinite(high) else value
    ax.errorbar(value * scale, y, xerr=[[(value - lo) * scale], [(hi - value) * scale]], fmt="o", color=colour,
                capsize=4)
    if not math.isfinite(high):
        ax.annotate("unbounded →", (value * scale, y), xytext=(6, 6), textcoords="offset points", fontsize=7)


def _effects_rows(report: ExperimentReport) -> list[tuple[str, str, object, str | None, bool]]:
    """(panel title, row label, comparison, verdict, higher is better) for each plotted effect."""
    rows = []
    if report.segment_by:
        for s in report.segments:
            rows.append((f"{report.primary_metric} by {report.segment_by}", f"{s.segment} · {s.arm_key}",
                         s.comparison, None, True))
    else:
        for r in report.results:
            direction = "" if r.higher_is_better else ", lower is better"
            rows.append((f"{r.metric} [{r.role}{direction}]", r.arm_key, r.comparison, r.guardrail, r.higher_is_better))
    return rows


def _money_rows(report: ExperimentReport) -> list[tuple[str, object]]:
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

    path = Path(path)
    if path.suffix.lower() not in CHART_SUFFIXES:
        from experiments.errors import ExperimentError

        raise ExperimentError(f"--chart {path}: use a .png, .svg or .pdf file name")
    effects = _effects_rows(report)
    panels = list(dict.fromkeys(title for title, *_ in effects))
    money = _money_rows(report)
    n_rows = max((sum(1 for t, *_ in effects if t == p) for p in panels), default=1)
    columns = max(len(panels), 2 if money else 1)
    height = 0.45 * max(n_rows, len(money), 2) + 1.6
    fig, axes = plt.subplots(2 if money else 1, columns, figsize=(4.4 * columns, height * (2 if money else 1)),
                             squeeze=False)
    scale = 100.0 if report.relative else 1.0
    used_verdicts = set()
    for ax, panel in zip(axes[0], panels):
        chosen = [(label, c, verdict) for title, label, c, verdict, _ in effects if title == panel]
        for y, (label, c, verdict) in enumerate(chosen):
            used_verdicts.add(verdict)
            _interval(ax, y, c.effect, c.ci_low, c.ci_high, VERDICT_COLOURS.get(verdict, VERDICT_COLOURS[None]), scale)
        ax.axvline(0, color="#999999", linewidth=1)
        ax.set_yticks(range(len(chosen)), [label for label, *_ in chosen])
        ax.set_ylim(-0.7, len(chosen) - 0.3)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("effect vs control" + (" (%)" if report.relative else ""))
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[0][len(panels):]:
        ax.axis("off")
    if money:
        labels = [label for label, _ in money]
        cost_ax, roi_ax = axes[1][0], axes[1][1]
        for y, (_, e) in enumerate(money):
            _interval(cost_ax, y, e.cost_per_retained, e.cost_per_retained_ci_low, e.cost_per_retained_ci_high,
                      "#264653")
            _interval(roi_ax, y, e.roi, e.roi_ci_low, e.roi_ci_high, "#6a4c93", 100.0)
        cost_ax.set_title("cost per incremental retained user (Fieller CI)", fontsize=10)
        cost_ax.set_xlabel("money per extra retained user")
        value = report.value_per_retained
        if math.isfinite(value):
            cost_ax.axvline(value, color="#e76f51", linestyle="--", linewidth=1, label=f"value per retained {value:,.0f}")
            cost_ax.legend(fontsize=8, loc="best")
        roi_ax.set_title("ROI" + ("" if math.isfinite(value) else " (needs a value per retained user)"), fontsize=10)
        roi_ax.set_xlabel("return on spend (%)")
        roi_ax.axvline(0, color="#999999", linewidth=1)
        for ax in (cost_ax, roi_ax):
            ax.set_yticks(range(len(labels)), labels)
            ax.set_ylim(-0.7, len(labels) - 0.3)
            ax.grid(axis="x", alpha=0.3)
        for ax in axes[1][2:]:
            ax.axis("off")
    handles = [Line2D([], [], marker="o", linestyle="", color=VERDICT_COLOURS[v], label=VERDICT_LABELS[v])
               for v in VERDICT_LABELS if v in used_verdicts]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    segment = f", by {report.segment_by}" if report.segment_by else ""
    fig.suptitle(f"{report.key}: {report.method}{', CUPED' if report.cuped else ''}{segment}, "
                 f"{100 * (1 - report.alpha):.0f}% intervals, SRM p = {report.srm_p_value:.3g}", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
