"""Which scored users to flag: a target precision, a capacity, a stage filter, and a warning when it is most of them.

The default rule reads the calibrated risk as each user's churn probability: among the candidates
(the lifecycle stages asked for), the riskiest users are taken for as long as their mean risk, the
expected precision of the cohort, stays at or above the target. For a given size no other choice
catches more expected churners. The model's per-stage thresholds (chosen at training for its target
precision on labelled users) remain available as a rule of their own. The tier-share rule takes the riskiest
share of each value tier (a plan that sets its targets per tier needs each tier reached, and high-value users rarely
top a risk list shared with everyone).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from churn.choices import DEFAULT_FLAG_STAGES, FLAG_RULES, STAGES, FlagRule
from churn.errors import ChurnError

WARN_SHARE = 0.5


@dataclass(frozen=True)
class FlagSpec:
    """What to flag: the rule, its target precision (None: the model's), a capacity, a minimum risk, stages."""

    rule: FlagRule = "precision"
    target_precision: float | None = None
    max_users: int | None = None
    min_risk: float | None = None
    stages: tuple[str, ...] = DEFAULT_FLAG_STAGES
    tier_share: float | None = None  # rule tier-share: the riskiest share of each value tier's candidates

    def __post_init__(self) -> None:
        if self.rule not in FLAG_RULES:
            raise ChurnError(f"unknown flag rule {self.rule!r}; choose one of {', '.join(FLAG_RULES)}")
        if self.target_precision is not None and not 0 < self.target_precision < 1:
            raise ChurnError(f"--target-precision must be between 0 and 1, got {self.target_precision}")
        if self.max_users is not None and self.max_users < 1:
            raise ChurnError(f"--max-users must be at least 1, got {self.max_users}")
        if self.rule == "tier-share" and (self.tier_share is None or not 0 < self.tier_share <= 1):
            raise ChurnError(f"rule tier-share needs --tier-share in (0, 1], got {self.tier_share}")
        if self.rule != "tier-share" and self.tier_share is not None:
            raise ChurnError("--tier-share goes with --rule tier-share")
        if self.min_risk is not None and not 0 <= self.min_risk <= 1:
            raise ChurnError(f"--min-risk must be between 0 and 1, got {self.min_risk}")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown or not self.stages:
            raise ChurnError(f"unknown stage {unknown[0] if unknown else '(none given)'!r}; "
                             f"stages are {', '.join(STAGES)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    """The flagged rows of a scored table, the rule in words, and what the cohort is expected to hold."""

    users: pd.DataFrame
    n_scored: int
    n_candidates: int
    rule: str
    expected_precision: float  # mean calibrated risk of the flagged users (nan when nobody is flagged)
    expected_churners: float
    warnings: list[str] = field(default_factory=list)


def precision_count(risk_descending: np.ndarray, target: float) -> int:
    """How many of the riskiest users can be flagged while their mean risk stays >= target."""
    if risk_descending.size == 0:
        return 0
    running_mean = np.cumsum(risk_descending) / np.arange(1, risk_descending.size + 1)
    return int(np.count_nonzero(running_mean >= target))  # non-increasing, so the passing ones are a prefix


def select(scored: pd.DataFrame, spec: FlagSpec, *, model_precision: float,
           stage_cutoffs: dict[str, float]) -> Selection:
    """Apply `spec` to a scored table sorted by risk (highest first); see the module docstring."""
    candidates = scored[scored["stage"].isin(spec.stages)]
    parts = [f"stages {', '.join(spec.stages)}"] if tuple(spec.stages) != STAGES else []
    if spec.min_risk is not None:
        chosen = candidates[candidates["risk"] >= spec.min_risk]
        parts.append(f"risk >= {spec.min_risk}")
    elif spec.rule == "stage-thresholds":
        cut = candidates["stage"].map(stage_cutoffs).astype(float)
        chosen = candidates[candidates["risk"] >= cut]  # NaN cut-off (no reliable threshold): not flagged
        parts.append("per-stage thresholds " + ", ".join(
            f"{k}={v:.3f}" for k, v in sorted(stage_cutoffs.items()) if not np.isnan(v) and k in spec.stages))
    elif spec.rule == "tier-share":
        share = float(spec.tier_share or 0)
        rank = candidates.groupby("tier", sort=False).cumcount()  # candidates come riskiest first
        size = candidates.groupby("tier", sort=False)["tier"].transform("size")
        chosen = candidates[rank < np.ceil(share * size)]
        parts.append(f"the riskiest {share:.0%} of each value tier")
        if spec.max_users is not None and len(chosen) > spec.max_users:  # capacity split in proportion to the tiers
            quota = np.floor(spec.max_users * chosen.groupby("tier", sort=False)["tier"].transform("size") / len(chosen))
            chosen = chosen[chosen.groupby("tier", sort=False).cumcount() < quota]
            parts.append(f"capacity {spec.max_users:,} split across the tiers")
    else:
        target = spec.target_precision if spec.target_precision is not None else model_precision
        n = precision_count(candidates["risk"].to_numpy(dtype=float), target)
        chosen = candidates.head(n)
        lowest = f", risk >= {chosen['risk'].iloc[-1]:.3f}" if n else ""
        parts.append(f"expected precision >= {target:.2f}{lowest}")
    if spec.max_users is not None and len(chosen) > spec.max_users:
        chosen = chosen.head(spec.max_users)
        parts.append(f"capacity {spec.max_users:,}")
    warnings = []
    if len(chosen) > WARN_SHARE * len(scored):
        warnings.append(f"{len(chosen):,} of {len(scored):,} scored users ({len(chosen) / len(scored):.0%}) are flagged, "
                        "more than half: set a capacity (--max-users), a higher --target-precision or fewer --stage")
    if chosen.empty:
        warnings.append(f"nobody flagged among {len(candidates)} candidates; lower the target precision or widen --stage")
    risk = chosen["risk"].to_numpy(dtype=float)
    return Selection(users=chosen.reset_index(drop=True), n_scored=len(scored), n_candidates=len(candidates),
                     rule="; ".join(parts), expected_precision=float(risk.mean()) if risk.size else float("nan"),
                     expected_churners=float(risk.sum()), warnings=warnings)
