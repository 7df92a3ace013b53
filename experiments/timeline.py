"""The effect over time: for each day, every treatment arm against control on the users assigned up to that day."""
from __future__ import annotations

import pandas as pd

from experiments.db import RegistryLike, open_registry
from experiments.metrics import BY_DAY, collect
from stats import Method, compare


def cumulative_by_day(db: RegistryLike, key: str, metric: str | None = None, *, method: Method = "ttest",
                      relative: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """One row per day × treatment arm: cumulative users, means, effect, interval and p-value (or chance to win).

    Sufficient statistics come from one GROUP BY over arm × metric × assignment day; days pool with `+`.
    A fixed-horizon t-test read every day inflates false positives: use `method="sequential"` to peek.
    """
    database = open_registry(db)
    data = collect(key, database, segment_by=BY_DAY, pre_period=False)  # type: ignore[arg-type]
    metric = metric or data.primary_metric
    control = data.control.arm_key
    rows = []
    running: dict[str, object] = {}
    for day in sorted(data.segments):
        for arm in data.arms:
            part = data.moments.get((arm.arm_key, metric, day))
            if part is None:
                continue
            running[arm.arm_key] = part if arm.arm_key not in running else running[arm.arm_key] + part  # type: ignore[operator]
        if control not in running:
            continue
        for arm in data.arms:
            if arm.is_control or arm.arm_key not in running:
                continue
            c = compare(running[control], running[arm.arm_key], method=method, relative=relative, alpha=alpha)  # type: ignore[arg-type]
            rows.append({"day": day, "arm": arm.arm_key, "metric": metric, "n_control": c.n_control,
                         "n_treatment": c.n_treatment, "mean_control": c.mean_control,
                         "mean_treatment": c.mean_treatment, "effect": c.effect, "ci_low": c.ci_low,
                         "ci_high": c.ci_high, "p_value": c.p_value, "chance_to_win": c.chance_to_win,
                         "reason": c.reason})
    return pd.DataFrame(rows, columns=["day", "arm", "metric", "n_control", "n_treatment", "mean_control",
                                       "mean_treatment", "effect", "ci_low", "ci_high", "p_value", "chance_to_win",
                                       "reason"])
