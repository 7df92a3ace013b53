"""Simulated worlds with known potential outcomes, for proving targeting where it was not tuned.

Each world gives users' features, the probability of being retained untreated, and the true uplift of
every treatment, so any plan can be judged on what would really happen. Three structures:
- `demo_world`: the demo shop (event histories → churn features; effects from latent traits);
- `harmful_world`: five treatments, one of which harms on average and helps a small group;
- `interaction_world`: effects that exist only where two features meet (products and AND-rules).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from uplift.errors import UpliftError

CONTROL = "control"


@dataclass(frozen=True)
class World:
    """Users with known potential outcomes, a catalog (costs, capacities per whole world) and a budget per user."""

    name: str
    features: pd.DataFrame = field(repr=False)  # what a model may see (user_id column first)
    base: np.ndarray = field(repr=False)  # P(retained) untreated
    truth: pd.DataFrame = field(repr=False)  # true uplift per treatment (columns = treatment keys)
    costs: dict[str, float] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    budget_per_user: float = 2.0
    shares: dict[str, float] | None = None  # arm shares of the experiment (None: equal arms)

    def randomize(self, seed: int) -> pd.DataFrame:
        """A randomized experiment over every user (arms drawn with `arm_weights`): features, arm, retained (0/1)."""
        arms = [CONTROL, *self.truth.columns]
        rng = np.random.default_rng(seed)
        if self.shares is None:  # equal arms: the draw the earlier proofs were measured on
            arm = rng.choice(arms, len(self.base))
        else:
            weights = np.array([self.shares[a] for a in arms], float)
            arm = rng.choice(arms, len(self.base), p=weights / weights.sum())
        effect = np.zeros(len(self.base))
        for key in self.truth.columns:
            given = arm == key
            effect[given] = self.truth[key].to_numpy()[given]
        p = np.clip(self.base + effect, 0.0, 1.0)
        out = self.features.copy()
        out["arm"] = arm
        out["retained"] = (rng.random(len(p)) < p).astype(int)
        return out

    @property
    def arm_weights(self) -> dict[str, float]:
        if self.shares is not None:
            return dict(self.shares)
        return {a: 1.0 for a in [CONTROL, *self.truth.columns]}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bounded(base: np.ndarray, effects: dict[str, np.ndarray]) -> pd.DataFrame:
    """True uplift kept inside [−base, 1 − base] so every potential outcome is a probability."""
    return pd.DataFrame({k: np.clip(v, -base, 1.0 - base) for k, v in effects.items()})


def harmful_world(n: int = 50_000, seed: int = 0) -> World:
    """Five treatments; `push_blast` harms most users (−3 pts) and helps only recent, engaged ones (+8 pts)."""
    if n < 1_000:
        raise UpliftError(f"a world needs at least 1,000 users, got {n}")
    rng = np.random.default_rng(seed)
    recency = rng.exponential(60, n)
    frequency = rng.poisson(3, n) + rng.random(n)
    monetary = rng.lognormal(4, 0.8, n)
    tenure = rng.uniform(0, 1_000, n)
    discount_affinity = rng.beta(2, 3, n)
    tickets = rng.poisson(0.6, n)
    engagement = rng.beta(2, 2, n)
    noise = rng.normal(size=(n, 5))
    features = pd.DataFrame({
        "user_id": [f"h{seed}-{i}" for i in range(n)], "recency_days": recency, "frequency": frequency,
        "monetary": monetary, "tenure_days": tenure, "discount_affinity": discount_affinity,
        "support_tickets": tickets, "email_engagement": engagement,
        **{f"noise_{j}": noise[:, j] for j in range(5)},
    })
    base = _sigmoid(1.2 - recency / 40 + 0.15 * frequency + 0.3 * engagement)
    value_high = np.log(monetary) > 4.5
    effects = {
        "coupon": 0.22 * discount_affinity**2 - 0.01,
        "vip_call": np.where((tickets >= 1) & value_high, 0.20, 0.0) - 0.005,
        "email": 0.06 * engagement * (recency > 30),
        "free_shipping": np.where(frequency < 2.5, 0.08, 0.01),
        "push_blast": np.where((recency < 40) & (engagement > 0.6), 0.08, -0.03),
    }
    costs = {"coupon": 6.0, "vip_call": 20.0, "email": 0.3, "free_shipping": 3.0, "push_blast": 0.1}
    return World("harmful", features, base, _bounded(base, effects), costs, {"vip_call": n // 40}, 2.0)


def interaction_world(n: int = 50_000, seed: int = 0) -> World:
    """Three treatments whose effects come from interactions of two features (a product and AND-rules)."""
    if n < 1_000:
        raise UpliftError(f"a world needs at least 1,000 users, got {n}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    segment = rng.choice(["web", "app", "store"], n, p=[0.5, 0.3, 0.2])
    features = pd.DataFrame({"user_id": [f"i{seed}-{i}" for i in range(n)],
                             **{f"x{j}": x[:, j] for j in range(10)}, "channel": segment})
    base = _sigmoid(0.3 + 0.6 * x[:, 6] - 0.4 * x[:, 7])
    effects = {
        "coupon": 0.16 * _sigmoid(3 * x[:, 0] * x[:, 1]) - 0.06,
        "reco_email": np.where((x[:, 2] > 0) & (x[:, 3] < 0), 0.09, -0.005),
        "vip_call": np.where((x[:, 0] < -0.5) & (segment == "app"), 0.25, 0.0),
    }
    costs = {"coupon": 5.0, "reco_email": 0.5, "vip_call": 15.0}
    return World("interaction", features, base, _bounded(base, effects), costs, {"vip_call": n // 50}, 1.5)


def demo_world(n_users: int = 60_000, seed: int = 7, risk_threshold: float = 0.5) -> World:
    """The demo shop's at-risk users: churn features from their event history; effects from latent traits."""
    from churn.pipeline import demo_as_of_dates, history_features
    from simulator.experiment import DEMO_TREATMENT_ROWS, true_uplift
    from simulator.shop import generate_shop

    shop = generate_shop(n_users, seed=seed)
    users = shop.users[shop.users["p_churn"] >= risk_threshold].reset_index(drop=True)
    as_of = demo_as_of_dates(shop.as_of, shop.horizon_days)["score"]
    history = history_features(shop.events[shop.events["user_id"].isin(users["user_id"])], as_of)
    features = users[["user_id"]].merge(history.reset_index(), on="user_id", how="left")
    truth = true_uplift(users).drop(columns="user_id")
    costs = {key: unit_cost for key, _, _, unit_cost, _ in DEMO_TREATMENT_ROWS}
    capacity = {key: n for key, _, _, _, n in DEMO_TREATMENT_ROWS if n is not None}  # seats for the flagged cohort
    return World(f"demo (seed {seed})", features, 1.0 - users["p_churn"].to_numpy(float), truth, costs, capacity, 5.0)
