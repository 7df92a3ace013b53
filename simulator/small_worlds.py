"""Small-experiment worlds: an experiment of tens of thousands of users with unequal arms, planned for a bigger population.

Three families with known potential outcomes, none of them used to tune the targeting:
- `threshold_world`: the shape of issue 25's shop: effects switch on where two features cross a threshold;
- `dose_world`: smooth, graded effects (logistic in a feature) and one capacity-limited call;
- `segment_world`: effects set by categories (tier × region, device) and a treatment that does nothing.
Each world holds the experiment's users and the population the plan is made for; `FAMILIES` says how many of each.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.worlds import CONTROL, World, _bounded, _sigmoid
from uplift.errors import UpliftError


@dataclass(frozen=True)
class Family:
    """A world family: its maker, the experiment's users and the population its plan is for."""

    name: str
    make: Callable[[int, int], World]  # (users, seed) -> World
    n_experiment: int
    n_plan: int


def _check(n: int) -> None:
    if n < 1_000:
        raise UpliftError(f"a world needs at least 1,000 users, got {n}")


def threshold_world(n: int = 120_000, seed: int = 0) -> World:
    """Issue 25's shop: a discount for lapsing small baskets, free shipping for who pays it (more so far away), a
    concierge call for 2+ tickets and big baskets (slightly harmful elsewhere), an e-mail that harms non-openers."""
    _check(n)
    rng = np.random.default_rng(seed)
    recency = rng.exponential(45, n)
    frequency = rng.poisson(4, n) + rng.random(n)
    basket = rng.lognormal(3.8, 0.6, n)
    ship_paid = rng.beta(1.5, 1.5, n)
    distance = rng.lognormal(4.5, 0.9, n)
    tickets = rng.poisson(0.7, n)
    opens = np.where(rng.random(n) < 0.3, 0.0, rng.beta(2, 3, n))
    tenure = rng.uniform(0, 1_500, n)
    noise = rng.normal(size=(n, 4))
    features = pd.DataFrame({
        "user_id": [f"t{seed}-{i}" for i in range(n)], "recency_days": recency, "frequency": frequency,
        "avg_basket": basket, "shipping_paid_share": ship_paid, "distance_km": distance, "support_tickets": tickets,
        "email_open_rate": opens, "tenure_days": tenure, **{f"noise_{j}": noise[:, j] for j in range(4)},
    })
    base = _sigmoid(0.9 - recency / 50 + 0.12 * frequency + 0.8 * opens)
    effects = {
        "discount": np.where((recency > 50) & (basket < 40), 0.12, 0.0),
        "free_shipping": np.where(ship_paid > 0.5, 0.03 + 0.07 * (distance > 150), 0.0),
        "concierge": np.where((tickets >= 2) & (basket > 60), 0.20, -0.01),
        "email": np.where(opens == 0, -0.03, 0.02),
    }
    costs = {"discount": 5.0, "free_shipping": 3.0, "concierge": 20.0, "email": 0.1}
    shares = {CONTROL: 0.40, **{k: 0.15 for k in effects}}
    return World("threshold", features, base, _bounded(base, effects), costs, {}, 1.0, shares)


def dose_world(n: int = 100_000, seed: int = 0) -> World:
    """Graded effects: loyalty points that help more the more loyal, a win-back call for valuable unhappy users
    (seats for 3 %), an SMS that helps mobile shoppers and annoys desktop ones."""
    _check(n)
    rng = np.random.default_rng(seed)
    loyalty = rng.beta(2, 2, n)
    value_z = rng.normal(size=n)
    satisfaction = rng.beta(3, 2, n)
    mobile = rng.beta(1.2, 1.2, n)
    age_days = rng.gamma(2.0, 200.0, n)
    visits = rng.poisson(6, n)
    noise = rng.normal(size=(n, 4))
    features = pd.DataFrame({
        "user_id": [f"d{seed}-{i}" for i in range(n)], "loyalty_score": loyalty, "value_z": value_z,
        "satisfaction": satisfaction, "mobile_share": mobile, "account_age_days": age_days, "visits_90d": visits,
        **{f"noise_{j}": noise[:, j] for j in range(4)},
    })
    base = _sigmoid(-0.2 + 1.5 * satisfaction + 0.05 * visits + 0.2 * value_z)
    effects = {
        "points": 0.16 * _sigmoid(8 * (loyalty - 0.55)) - 0.03,
        "winback_call": 0.40 * _sigmoid(2.5 * (value_z - 1.0)) * (1 - satisfaction) - 0.01,
        "sms": 0.08 * (mobile - 0.4),
    }
    costs = {"points": 2.0, "winback_call": 12.0, "sms": 0.05}
    shares = {CONTROL: 0.40, "points": 0.20, "winback_call": 0.20, "sms": 0.20}
    return World("dose", features, base, _bounded(base, effects), costs, {"winback_call": n * 3 // 100}, 0.8, shares)


REGIONS = ("north", "south", "east", "west", "centre", "coast", "islands", "abroad")
TIERS = ("bronze", "silver", "gold", "platinum")


def segment_world(n: int = 100_000, seed: int = 0) -> World:
    """Categorical effects: a gift for gold and platinum users of two regions, an app push for recent app users
    (harmful to lapsed ones), a bundle for broad silver shoppers, a survey for complainers, and an offer that
    does nothing."""
    _check(n)
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, n)
    tier = rng.choice(TIERS, n, p=[0.45, 0.3, 0.17, 0.08])
    device = rng.choice(["app", "web", "both"], n, p=[0.35, 0.45, 0.2])
    app_days = np.where(device == "web", 999.0, rng.exponential(40, n))
    categories = rng.poisson(2, n)
    complaint = rng.random(n) < 0.12
    spend = rng.lognormal(4, 0.7, n)
    noise = rng.normal(size=(n, 3))
    features = pd.DataFrame({
        "user_id": [f"g{seed}-{i}" for i in range(n)], "region": region, "tier": tier, "device": device,
        "days_since_app_open": app_days, "categories_bought": categories, "complaint_90d": complaint.astype(int),
        "spend_90d": spend, **{f"noise_{j}": noise[:, j] for j in range(3)},
    })
    tier_level = pd.Series(tier).map({t: i for i, t in enumerate(TIERS)}).to_numpy(float)
    base = _sigmoid(-0.3 + 0.35 * tier_level + 0.1 * categories - 0.6 * complaint)
    on_app = device != "web"
    effects = {
        "gift": np.where(np.isin(tier, ["gold", "platinum"]) & np.isin(region, ["north", "east"]), 0.10, 0.005),
        "app_push": np.where(on_app & (app_days < 14), 0.06, np.where(on_app & (app_days > 60), -0.03, 0.0)),
        "bundle": np.where((categories >= 3) & (tier == "silver"), 0.09, 0.0),
        "survey": np.where(complaint, 0.08, -0.01),
        "null_offer": np.zeros(n),
    }
    costs = {"gift": 4.0, "app_push": 0.05, "bundle": 6.0, "survey": 0.5, "null_offer": 1.0}
    shares = {CONTROL: 0.30, **{k: 0.14 for k in effects}}
    return World("segment", features, base, _bounded(base, effects), costs, {}, 0.6, shares)


FAMILIES: dict[str, Family] = {
    "threshold": Family("threshold", threshold_world, 40_000, 80_000),
    "dose": Family("dose", dose_world, 40_000, 60_000),
    "segment": Family("segment", segment_world, 50_000, 50_000),
}
