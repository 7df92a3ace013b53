"""The demo retention experiment: four treatments against control, with known heterogeneous true effects.

The true uplift of each treatment is a function of the demo shop's latent traits (see
`simulator/shop.py`), so uplift models and allocations run on the demo can be scored against the
truth: a coupon helps price-sensitive users, VIP care helps unhappy high-value users, recommendation
e-mails help users whose needs changed, most of all those drifting to new categories; care content
helps the unhappy a little and slightly hurts everybody else, and a coupon slightly hurts users who
are not price-sensitive.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from experiments.choices import MetricKind, TreatmentKind
from uplift.errors import UpliftError

DEMO_AS_OF = "2026-06-30"
DEMO_HORIZON_DAYS = 60

# (key, name, kind, unit_cost, capacity | None): the demo catalog, typed as the registry's Treatment takes it.
DEMO_TREATMENT_ROWS: list[tuple[str, str, TreatmentKind, float, int | None]] = [
    ("coupon_10", "10% coupon", "coupon", 8.0, None),
    ("vip_care", "VIP care call", "vip_service", 25.0, 2500),
    ("reco_email", "Personalised recommendations e-mail", "recommendation", 0.5, None),
    ("care_content", "Care content e-mail series", "care_content", 0.2, None),
]
DEMO_TREATMENTS: pd.DataFrame = pd.DataFrame(
    DEMO_TREATMENT_ROWS, columns=["key", "name", "kind", "unit_cost", "capacity"],
).astype({"capacity": "Int64"})

# (arm_key, treatment_key | None, weight, is_control): equal split, control first.
DEMO_ARMS: list[tuple[str, str | None, float, bool]] = [
    ("control", None, 0.2, True),
    ("coupon_10", "coupon_10", 0.2, False),
    ("vip_care", "vip_care", 0.2, False),
    ("reco_email", "reco_email", 0.2, False),
    ("care_content", "care_content", 0.2, False),
]

# (key, kind, higher_is_better, description)
DEMO_METRICS: list[tuple[str, MetricKind, bool, str]] = [
    ("retained", "binary", True, "placed at least one order in the 60 days after the experiment date"),
    ("revenue", "continuous", True, "revenue per user over 60 days (pre: before the experiment, post: after)"),
    ("unsubscribed", "binary", False, "unsubscribed from marketing e-mail after the experiment date (guardrail)"),
]

_CHANNELS = {"coupon_10": "email", "vip_care": "phone", "reco_email": "email", "care_content": "email"}
_UNSUBSCRIBE_BASE = 0.01
_UNSUBSCRIBE_EXTRA = {"coupon_10": 0.005, "vip_care": 0.0, "reco_email": 0.02, "care_content": 0.035}
_USER_COLUMNS = ("user_id", "price_sensitivity", "service_unhappy", "needs_changed", "monthly_value", "p_churn",
                 "true_reason")


def _check_users(users: pd.DataFrame) -> None:
    """Refuse a users frame that lacks a column of the demo shop contract."""
    missing = [c for c in _USER_COLUMNS if c not in users.columns]
    if missing:
        raise UpliftError(
            f"users frame lacks column(s) {', '.join(missing)}; pass simulator.shop.generate_shop().users"
        )


def _value_weight(monthly_value: np.ndarray) -> np.ndarray:
    """0 for users spending 100 or less a month, rising on a log scale to 1 at 1,000 and above."""
    logged = np.log(np.maximum(monthly_value, 1.0))
    return np.clip((logged - np.log(100.0)) / (np.log(1000.0) - np.log(100.0)), 0.0, 1.0)


def _response(users: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per treatment, the share of a user's churn risk it removes (negative: share of retention it loses)."""
    ps = users["price_sensitivity"].to_numpy(float)
    su = users["service_unhappy"].to_numpy(float)
    nc = users["needs_changed"].to_numpy(float)
    vw = _value_weight(users["monthly_value"].to_numpy(float))
    drifted = (users["true_reason"].to_numpy() == "needs_changed").astype(float)
    return {
        "coupon_10": 1.00 * ps**2 - 0.06,
        "vip_care": 0.90 * su * (0.2 + 0.8 * vw) - 0.02,
        "reco_email": 0.35 * drifted + 0.15 * nc,
        "care_content": 0.30 * su - 0.08,
    }


def true_uplift(users: pd.DataFrame) -> pd.DataFrame:
    """The true increase in P(retained over the horizon) of each treatment for each user (user_id + one column per key)."""
    _check_users(users)
    p_churn = users["p_churn"].to_numpy(float)
    out = {"user_id": users["user_id"].to_numpy()}
    for key, response in _response(users).items():
        # A positive response saves a share of the churn risk, a negative one loses a share of the retention.
        out[key] = np.where(response >= 0, response * p_churn, response * (1.0 - p_churn))
    return pd.DataFrame(out)


def _arm_treatments(assignments: pd.DataFrame) -> np.ndarray:
    """The treatment key (None for control) of each assignment row, refusing unknown arms."""
    for column in ("user_id", "arm_key"):
        if column not in assignments.columns:
            raise UpliftError(f"assignments lack column '{column}'; expected columns user_id, arm_key")
    arm_to_treatment = {arm: treatment for arm, treatment, _, _ in DEMO_ARMS}
    unknown = sorted(set(assignments["arm_key"].astype(str)) - set(arm_to_treatment))
    if unknown:
        raise UpliftError(
            f"unknown arm(s) {', '.join(unknown)} in assignments; the demo arms are {', '.join(arm_to_treatment)}"
        )
    mapped = assignments["arm_key"].astype(str).map(arm_to_treatment)
    return mapped.where(mapped.notna(), None).to_numpy(dtype=object)


def _stamp(as_of: str, days: int) -> str:
    """ISO-8601 UTC text `days` after `as_of`, the registry's timestamp format."""
    return (pd.Timestamp(as_of) + pd.Timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def simulate_outcomes(
    users: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    seed: int,
    as_of: str = DEMO_AS_OF,
    horizon_days: int = DEMO_HORIZON_DAYS,
) -> pd.DataFrame:
    """Draw each assigned user's outcomes: retained (post), revenue (pre and post), unsubscribed (post)."""
    _check_users(users)
    treatments = _arm_treatments(assignments)
    indexed = users.set_index("user_id")
    ids = assignments["user_id"].to_numpy()
    absent = pd.Index(ids).difference(indexed.index)
    if len(absent):
        raise UpliftError(
            f"{len(absent)} assigned user(s) are not in the users frame, e.g. {', '.join(map(str, absent[:3]))}"
        )
    rows = indexed.loc[ids].reset_index()
    uplift = true_uplift(rows)
    effect = np.zeros(len(rows))
    unsub_p = np.full(len(rows), _UNSUBSCRIBE_BASE)
    for key in DEMO_TREATMENTS["key"]:
        given = treatments == key
        effect[given] = uplift[key].to_numpy()[given]
        unsub_p[given] += _UNSUBSCRIBE_EXTRA[key]
    p_churn = rows["p_churn"].to_numpy(float)
    p_retained = np.clip(1.0 - p_churn + effect, 0.0, 1.0)

    rng = np.random.default_rng(seed)
    n = len(rows)
    retained = rng.random(n) < p_retained
    months = horizon_days / 30.0
    monthly = rows["monthly_value"].to_numpy(float)
    # Spend noise is lognormal with mean 1; active users in the pre period spend less the likelier they churn.
    pre_noise = rng.lognormal(-0.125, 0.5, n)
    post_noise = rng.lognormal(-0.125, 0.5, n)
    revenue_pre = monthly * months * (1.0 - 0.5 * p_churn) * pre_noise
    discount = np.where(treatments == "coupon_10", 0.92, 1.0)
    revenue_post = retained * monthly * months * discount * post_noise
    unsubscribed = rng.random(n) < unsub_p

    post_at, pre_at = _stamp(as_of, horizon_days), _stamp(as_of, 0)
    parts = [
        ("retained", "post", retained.astype(float), post_at),
        ("revenue", "pre", np.round(revenue_pre, 2), pre_at),
        ("revenue", "post", np.round(revenue_post, 2), post_at),
        ("unsubscribed", "post", unsubscribed.astype(float), post_at),
    ]
    frames = [
        pd.DataFrame({"user_id": ids, "metric": metric, "period": period, "value": values, "observed_at": at})
        for metric, period, values, at in parts
    ]
    return pd.concat(frames, ignore_index=True)


def simulate_deliveries(assignments: pd.DataFrame, *, seed: int, as_of: str = DEMO_AS_OF,
                        unit_costs: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One delivery per treated user on the experiment date: user_id, treatment_key, sent_at, cost, channel.

    Each delivery costs `unit_costs[treatment]` (the experiment's own costs), else the demo catalog's."""
    treatments = _arm_treatments(assignments)
    treated = pd.notna(treatments)
    keys = treatments[treated].astype(str)
    costs = DEMO_TREATMENTS.set_index("key")["unit_cost"]
    if unit_costs:
        costs = pd.Series({**{key: cost for key, _, _, cost, _ in DEMO_TREATMENT_ROWS}, **unit_costs})
    rng = np.random.default_rng(seed)
    # Sends spread over the experiment day, between 08:00 and 20:00.
    offsets = pd.to_timedelta(8 * 3600 + rng.integers(0, 12 * 3600, len(keys)), unit="s")
    sent_at = (pd.Timestamp(as_of) + offsets).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return pd.DataFrame(
        {
            "user_id": assignments["user_id"].to_numpy()[treated],
            "treatment_key": keys,
            "sent_at": np.asarray(sent_at, dtype=object),
            "cost": costs.reindex(keys).to_numpy(float),
            "channel": pd.Series(keys).map(_CHANNELS).to_numpy(dtype=object),
        }
    )
