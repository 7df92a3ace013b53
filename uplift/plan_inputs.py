"""What a plan is asked to do: unit costs, budget, capacities and the value of a retained user, parsed once.

The CLI, the web UI and notebooks hand raw text here (a costs JSON file, `T=N` capacities, a value that
is a number, a per-user column such as `clv`, or nothing) and get a checked `PlanSpec` back.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from uplift.allocation import CONTROL
from uplift.errors import UpliftError

CLV_COLUMN = "clv"  # the per-user customer value `churn score` writes


@dataclass(frozen=True)
class PlanSpec:
    """Costs per treatment, total budget, capacities, value per retained user (None: maximize retained users)."""

    costs: dict[str, float]
    budget: float
    capacity: dict[str, int] = field(default_factory=dict)
    value: float | np.ndarray | None = field(default=None, repr=False)
    value_source: str = "none"  # "none", "number" or the name of the per-user column
    population: int | None = None  # users the budget is for; a plan on a sample scales budget and capacities

    def scaled(self, n: int) -> PlanSpec:
        """The same spec for a sample of n users out of `population` (budget and capacities scaled)."""
        if not self.population or self.population == n:
            return self
        share = n / self.population
        return PlanSpec(self.costs, self.budget * share, {k: int(v * share) for k, v in self.capacity.items()},
                        self.value, self.value_source, n)

    def per_user(self, n: int) -> dict:
        """The spec per user of its population (n users when none is given): what a plan elsewhere is compared on."""
        users = self.population or n
        return {"budget_per_user": self.budget / users, "costs": dict(self.costs),
                "capacity_share": {k: v / users for k, v in self.capacity.items()}, "value": self.value_source}


def read_costs(path: str | os.PathLike[str]) -> dict[str, float]:
    """A JSON object treatment -> unit cost (read and bounded by `uplift.inputs`); `control` only at 0, then dropped."""
    from uplift.inputs import read_costs as read_cost_file

    return check_costs(read_cost_file(path), str(path))


def check_costs(costs: Mapping[str, float], source: str = "costs") -> dict[str, float]:
    """Finite non-negative unit costs; `control` only at 0, then left out."""
    out = {}
    for key, cost in costs.items():
        if not (math.isfinite(float(cost)) and float(cost) >= 0):
            raise UpliftError(f"{source}: unit cost of '{key}' must be a finite non-negative number, got {cost}")
        if key == CONTROL:
            if float(cost) != 0:
                raise UpliftError(f"{source}: '{CONTROL}' is the untreated choice and must cost 0, got {cost}")
            continue
        out[str(key)] = float(cost)
    if not out:
        raise UpliftError(f"{source}: no treatment with a cost (only control)")
    return out


def check_cost_keys(costs: Mapping[str, float], treatments: Iterable[str], source: str) -> None:
    """Every scored treatment has a cost and every cost a scored treatment; a miss names `source` (the costs
    file) and the closest key, so a typo in the file reads as one."""
    import difflib

    treatments = [str(t) for t in treatments if str(t) != CONTROL]
    for key in costs:
        if key not in treatments:
            close = difflib.get_close_matches(key, treatments, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UpliftError(f"{source}: '{key}' is not a treatment of the scores{hint}; their treatments are "
                              f"{', '.join(treatments)}")
    missing = [t for t in treatments if t not in costs]
    if missing:
        raise UpliftError(f"{source}: no unit cost for {', '.join(missing)}, which the scores have; add "
                          + ", ".join(f'"{t}": COST' for t in missing) + " to it")


def parse_pairs(items: Iterable[str], option: str, convert=float) -> dict:
    """Repeated NAME=NUMBER options (e.g. --capacity vip_care=2500) as a dict."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key] = convert(raw)
        except ValueError:
            raise UpliftError(f"{option} takes NAME=NUMBER, got '{item}'") from None
    return out


def parse_capacities(items: Iterable[str], option: str = "--capacity") -> dict[str, int]:
    """--capacity T=N (repeatable): non-negative whole numbers."""
    caps = parse_pairs(items, option, int)
    bad = [f"{k}={v}" for k, v in caps.items() if v < 0]
    if bad:
        raise UpliftError(f"{option} must be non-negative, got {', '.join(bad)}")
    return caps


def resolve_value(raw: str | float | None, scores: pd.DataFrame | None = None) -> tuple[float | np.ndarray | None, str]:
    """The value of a retained user: None (maximize retained users), a number, or a per-user column (e.g. clv)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "none"
    try:
        number = float(raw)
    except ValueError:
        column = str(raw)
        if scores is None or column not in scores.columns:
            hint = (" (the customer value column `churn score` writes: add it with `winback uplift score ... "
                    "--clv CHURN_SCORES`)" if column == CLV_COLUMN else "")
            raise UpliftError(f"--value-per-retained '{raw}' is neither a number nor a column of the scores file{hint}") from None
        values = pd.to_numeric(scores[column], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if len(bad):
            raise UpliftError(f"scores row {int(bad[0]) + 1}, column {column}: value per retained user must be a "
                              f"non-negative number, got {scores[column].iloc[int(bad[0])]!r}") from None
        return values, column
    if not math.isfinite(number) or number < 0:
        raise UpliftError(f"--value-per-retained must be a non-negative number, got {raw}")
    return number, "number"


def plan_spec(
    costs: Mapping[str, float] | str | os.PathLike[str],
    budget: float,
    *,
    capacity: Iterable[str] | Mapping[str, int] = (),
    value: str | float | None = None,
    scores: pd.DataFrame | None = None,
    population: int | None = None,
) -> PlanSpec:
    """One checked PlanSpec from a costs file or mapping, budget, capacities and value."""
    cost_map = check_costs(costs) if isinstance(costs, Mapping) else read_costs(costs)
    if not (math.isfinite(budget) and budget >= 0):
        raise UpliftError(f"--budget must be a non-negative number, got {budget}")
    caps = dict(capacity) if isinstance(capacity, Mapping) else parse_capacities(capacity)
    unknown = [k for k in caps if k not in cost_map]
    if unknown:
        raise UpliftError(f"--capacity names treatment(s) {', '.join(unknown)} without a cost; "
                          f"treatments are {', '.join(cost_map)}")
    number, source = resolve_value(value, scores)
    return PlanSpec(cost_map, float(budget), caps, number, source, population)
