"""The programme report's chart: each tier's churn reduction against the holdout per cycle, its 95% interval and the
plan's target (matplotlib, written to a PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def programme_chart(report: Any, path: str) -> Path:
    """Reduction per cycle and tier with intervals; dashed lines at each tier's target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.2))
    colors = {"high": "#d1242f", "regular": "#1f6feb", "all": "#57606a"}
    dates = [str(c["as_of"]) for c in report.cycles]
    left_out = 0
    for k, tier in enumerate(("high", "regular", "all")):
        points = [(i, t) for i, c in enumerate(report.cycles) for t in [*c["tiers"], c["overall"]]
                  if t["tier"] == tier]
        shown = [(i, t) for i, t in points if t["ci_low"] == t["ci_low"] and t["ci_high"] == t["ci_high"]]
        left_out += len(points) - len(shown)  # too few users for an interval: a bare point would mislead
        if shown:
            x = [i + (k - 1) * 0.08 for i, _ in shown]
            y = [t["reduction"] * 100 for _, t in shown]
            # A tiny group at the boundary gets the half-cell interval, which may sit beside the plain point: clip.
            low = [max(0.0, (t["reduction"] - t["ci_low"]) * 100) for _, t in shown]
            high = [max(0.0, (t["ci_high"] - t["reduction"]) * 100) for _, t in shown]
            joined = "o-" if len(shown) == len(dates) else "o"  # no line across cycles that have no point
            axis.errorbar(x, y, yerr=[low, high], fmt=joined, color=colors[tier], capsize=3,
                          label=f"{tier} value" if tier != "all" else "all users")
        target = points[0][1].get("target") if points else None
        if target == target and target is not None:  # not nan
            axis.axhline(target * 100, color=colors[tier], linestyle="--", linewidth=1,
                         label=f"{tier} target: {target:.0%} less churn")
    axis.set_xticks(range(len(dates)), dates, rotation=30, ha="right")
    if left_out:
        axis.annotate(f"{left_out} cycle × tier point(s) without an interval (too few users) are left out",
                      (0.01, 0.02), xycoords="axes fraction", fontsize=8, color="#57606a")
    axis.axhline(0, color="#8c959f", linewidth=0.8)
    axis.set_ylabel("churn reduction against the holdout, %")
    axis.set_xlabel("cycle (as of)")
    axis.set_title(f"Programme {report.programme}: churn reduction by value tier (95% intervals)")
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
