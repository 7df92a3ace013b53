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
    for k, tier in enumerate(("high", "regular", "all")):
        points = [(c["as_of"], t) for c in report.cycles for t in [*c["tiers"], c["overall"]] if t["tier"] == tier]
        if not points:
            continue
        x = [i + (k - 1) * 0.08 for i in range(len(points))]
        y = [t["reduction"] * 100 for _, t in points]
        low = [(t["reduction"] - t["ci_low"]) * 100 for _, t in points]
        high = [(t["ci_high"] - t["reduction"]) * 100 for _, t in points]
        axis.errorbar(x, y, yerr=[low, high], fmt="o-", color=colors[tier], capsize=3,
                      label=f"{tier} value" if tier != "all" else "all users")
        target = points[0][1].get("target")
        if target == target and target is not None:  # not nan
            axis.axhline(target * 100, color=colors[tier], linestyle="--", linewidth=1,
                         label=f"{tier} target: {target:.0%} less churn")
        axis.set_xticks(range(len(points)), [str(d) for d, _ in points], rotation=30, ha="right")
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
