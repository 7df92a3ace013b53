"""Charts of results people look at: an experiment's effects with their intervals, per arm and metric."""
from __future__ import annotations

import math
from pathlib import Path

from experiments.analysis import ExperimentReport

VERDICT_COLOURS = {"pass": "#2a9d8f", "warn": "#e9c46a", "fail": "#e76f51", None: "#264653", "undefined": "#8d99ae"}


def plot_effects(report: ExperimentReport, path: str | Path) -> Path:
    """A forest plot: one row per arm × metric, the effect and its interval, guardrails coloured by verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report.results if math.isfinite(r.comparison.ci_low) and math.isfinite(r.comparison.ci_high)]
    scale = 100.0 if report.relative else 1.0
    metrics = list(dict.fromkeys(r.metric for r in rows))
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(4.2 * max(len(metrics), 1), 0.5 * len(report.arms) + 1.8),
                             squeeze=False, sharey=True)
    for ax, metric in zip(axes[0], metrics):
        chosen = [r for r in rows if r.metric == metric]
        for y, r in enumerate(chosen):
            c = r.comparison
            colour = VERDICT_COLOURS.get(r.guardrail, VERDICT_COLOURS[None])
            ax.errorbar(c.effect * scale, y, xerr=[[(c.effect - c.ci_low) * scale], [(c.ci_high - c.effect) * scale]],
                        fmt="o", color=colour, capsize=4)
        ax.axvline(0, color="#999999", linewidth=1)
        ax.set_yticks(range(len(chosen)), [r.arm_key for r in chosen])
        role = chosen[0].role if chosen else ""
        direction = "" if not chosen or chosen[0].higher_is_better else " (lower is better)"
        ax.set_title(f"{metric} [{role}]{direction}", fontsize=10)
        ax.set_xlabel("effect vs control" + (" (%)" if report.relative else ""))
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{report.key}: {report.method}{', CUPED' if report.cuped else ''}, "
                 f"{100 * (1 - report.alpha):.0f}% intervals, SRM p = {report.srm_p_value:.3g}", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
