"""A simulated online shop: users with latent traits and lifecycles, and 20+ kinds of behaviour events.

Churn is a latent process: every user is healthy until a "slip" time, slips for a few weeks (fewer
orders, and signals that depend on the reason: coupon hunting for the price sensitive; returns,
complaints and chats for the unhappy; browsing in a new category for those whose needs changed), then
is gone. `p_churn` is the exact probability, under this process, of no order in the horizon after
`as_of`, so a churn model trained on the history has a real signal to find. Everything is vectorized
with numpy (no per-user loop): 1M users are feasible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from warehouse.event_vocabulary import EVENT_TYPES

DEMO_EVENT_TYPES: tuple[str, ...] = EVENT_TYPES
CATEGORIES: tuple[str, ...] = ("electronics", "fashion", "home", "beauty", "sports", "grocery", "toys", "books")
CHANNELS: tuple[str, ...] = ("app", "web", "push", "email", "service")
REASONS: tuple[str, ...] = ("none", "price_sensitive", "unhappy_service", "needs_changed")
STATES: tuple[str, ...] = ("healthy", "slipping", "churned")
HISTORY_DAYS = 540  # events start about 18 months before as_of
ITEMS_PER_CATEGORY = 400

# The latent churn process (rates per day).
BASE_HAZARD = 1 / 700  # slip hazard of a user with weak traits
TRAIT_HAZARD_SLOPE = 3.0  # hazard grows exp(slope * (strongest trait - 0.3))
EARLY_HAZARD = 1 / 80  # extra hazard of brand-new users ("one and done"), decaying with EARLY_TAU
EARLY_TAU = 30.0
REASON_THRESHOLD = 0.42  # strongest weighted trait below this: reason 'none'
SLIP_ORDER_FACTOR = 0.3  # order rate while slipping, relative to healthy
GONE_ORDER_FACTOR = 0.015  # order rate after churning (rare comebacks)
SLIP_DAYS = (20.0, 75.0)
DRIFT_LEAD_DAYS = 30.0  # needs-changed users start browsing elsewhere this long before slipping

_TYPE = {name: code for code, name in enumerate(EVENT_TYPES)}
_CHANNEL = {name: code for code, name in enumerate(CHANNELS)}
_MINUTE = 1 / 1440


@dataclass(frozen=True)
class DemoShop:
    """A generated shop: one row per user (with the hidden truth) and the event history up to as_of."""

    users: pd.DataFrame
    events: pd.DataFrame
    as_of: pd.Timestamp
    horizon_days: int

    def to_dict(self) -> dict:
        return {"n_users": len(self.users), "n_events": len(self.events), "as_of": str(self.as_of.date()),
                "horizon_days": self.horizon_days}


@dataclass(frozen=True)
class SimulatedEvents:
    """Events as numpy codes (cheap for millions of rows); `to_frame` turns them into strings."""

    user: np.ndarray  # int index into the users
    ts: np.ndarray  # datetime64[s]
    event_type: np.ndarray  # code into EVENT_TYPES
    amount: np.ndarray
    category: np.ndarray  # code into CATEGORIES, -1 = none
    channel: np.ndarray  # code into CHANNELS
    item: np.ndarray  # code, -1 = none

    def to_frame(self, user_ids: np.ndarray) -> pd.DataFrame:
        """The contract's event frame: user_id, event_type, ts, amount, item, category, channel."""
        items = np.array([f"{c[:3]}-{k:04d}" for c in CATEGORIES for k in range(ITEMS_PER_CATEGORY)])
        return pd.DataFrame({
            "user_id": pd.Categorical.from_codes(self.user, pd.Index(user_ids)).astype(str),
            "event_type": pd.Categorical.from_codes(self.event_type, pd.Index(EVENT_TYPES)).astype(str),
            "ts": self.ts.astype("datetime64[ns]"),
            "amount": self.amount,
            "item": pd.Series(pd.Categorical.from_codes(self.item, pd.Index(items))).astype("str"),
            "category": pd.Series(pd.Categorical.from_codes(self.category, pd.Index(CATEGORIES))).astype("str"),
            "channel": pd.Categorical.from_codes(self.channel, pd.Index(CHANNELS)).astype(str),
        })


def generate_shop(
    n_users: int = 20_000, *, seed: int = 7, as_of: str = "2026-06-30", horizon_days: int = 60
) -> DemoShop:
    """Simulate `n_users` users and their events up to `as_of`; deterministic for a given seed."""
    users, events = simulate(n_users, seed=seed, as_of=as_of, horizon_days=horizon_days)
    return DemoShop(
        users=users, events=events.to_frame(users["user_id"].to_numpy()),
        as_of=pd.Timestamp(as_of), horizon_days=int(horizon_days),
    )


def simulate(
    n_users: int, *, seed: int, as_of: str, horizon_days: int, extra_days: float = 0.0, id_offset: int = 0
) -> tuple[pd.DataFrame, SimulatedEvents]:
    """Users and coded events up to as_of + extra_days (extra_days > 0 shows the 'future', for checks)."""
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")
    rng = np.random.default_rng(seed)
    as_of_ts = pd.Timestamp(as_of)
    origin = as_of_ts - pd.Timedelta(days=HISTORY_DAYS)
    lat = _latent(rng, n_users)
    p_churn = _p_churn(lat, float(HISTORY_DAYS), float(horizon_days))
    events = _events(rng, lat, until=HISTORY_DAYS + float(extra_days), origin=origin)
    state = np.where(lat["slip"] > HISTORY_DAYS, 0, np.where(lat["gone"] > HISTORY_DAYS, 1, 2))
    ids = np.char.zfill((np.arange(n_users) + id_offset).astype(str), 7)
    users = pd.DataFrame({
        "user_id": pd.array(ids, dtype="str"),
        "signup_date": (origin + pd.to_timedelta(np.floor(lat["signup"]), unit="D")).as_unit("ns"),
        "price_sensitivity": lat["price"],
        "service_unhappy": lat["unhappy"],
        "needs_changed": lat["needs"],
        "monthly_value": np.round(lat["opm"] * lat["aov"], 2),
        "p_churn": p_churn,
        "true_reason": np.asarray(REASONS)[lat["reason"]],
        "true_state": np.asarray(STATES)[state],
        "orders_per_month": lat["opm"],
        "avg_order_value": lat["aov"],
        "main_category": np.asarray(CATEGORIES)[lat["main_cat"]],
    })
    return users, events


def _latent(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw each user's traits, spending, categories and the (hidden) slip and churn times, in days."""
    price = rng.beta(2.0, 3.5, n)
    unhappy = rng.beta(1.3, 4.0, n)
    needs = rng.beta(1.3, 4.0, n)
    weighted = np.column_stack([0.9 * price, unhappy, needs])
    strength = weighted.max(axis=1)
    reason = np.where(strength >= REASON_THRESHOLD, weighted.argmax(axis=1) + 1, 0)
    opm = np.clip(rng.lognormal(np.log(1.0), 0.6, n), 0.15, 8.0)  # orders per month when healthy
    aov = np.round(rng.lognormal(np.log(210.0), 0.6, n), 2)
    signup = rng.uniform(0.0, HISTORY_DAYS - 1.0, n)
    mu = BASE_HAZARD * np.exp(TRAIT_HAZARD_SLOPE * (strength - 0.3))
    # Slip time = first of two competing risks: a constant hazard and an early, decaying one.
    t_const = rng.exponential(1.0 / mu)
    e_early = rng.exponential(1.0, n)
    cap = EARLY_HAZARD * EARLY_TAU
    with np.errstate(divide="ignore", invalid="ignore"):
        t_early = np.where(e_early < cap, -EARLY_TAU * np.log1p(-e_early / cap), np.inf)
    slip = signup + np.minimum(t_const, t_early)
    slip_len = rng.uniform(*SLIP_DAYS, n)
    main_cat = rng.integers(0, len(CATEGORIES), n)
    second_cat = (main_cat + rng.integers(1, len(CATEGORIES), n)) % len(CATEGORIES)
    new_cat = (main_cat + rng.integers(1, len(CATEGORIES), n)) % len(CATEGORIES)
    new_cat = np.where(new_cat == second_cat, (new_cat + 1) % len(CATEGORIES), new_cat)
    new_cat = np.where(new_cat == main_cat, (new_cat + 1) % len(CATEGORIES), new_cat)
    return {
        "price": price, "unhappy": unhappy, "needs": needs, "reason": reason, "opm": opm, "aov": aov,
        "lam": opm / 30.4, "mu": mu, "signup": signup, "slip": slip, "slip_len": slip_len,
        "gone": slip + slip_len, "engagement": rng.gamma(2.0, 0.5, n), "prefers_app": rng.random(n) < 0.6,
        "main_cat": main_cat, "second_cat": second_cat, "new_cat": new_cat,
    }


def _p_churn(lat: dict[str, np.ndarray], now: float, horizon: float, grid: int = 48) -> np.ndarray:
    """Exact P(no order in (now, now + horizon]) given each user's latent state at `now`."""
    lam, rho, eps = lat["lam"], SLIP_ORDER_FACTOR, GONE_ORDER_FACTOR
    slip, gone, w = lat["slip"], lat["gone"], lat["slip_len"]
    p = np.empty_like(lam)
    dead = gone <= now
    p[dead] = np.exp(-lam[dead] * eps * horizon)
    slipping = (slip <= now) & ~dead
    r = gone[slipping] - now
    p[slipping] = np.exp(-lam[slipping] * (rho * np.minimum(r, horizon) + eps * np.maximum(horizon - r, 0.0)))
    healthy = slip > now
    for chunk in np.array_split(np.flatnonzero(healthy), max(1, int(healthy.sum()) // 200_000 + 1)):
        la, mu, wc = lam[chunk, None], lat["mu"][chunk, None], w[chunk, None]
        age = now - lat["signup"][chunk, None]
        step = horizon / grid
        s = (np.arange(grid) + 0.5)[None, :] * step  # midpoints: time from now until the slip starts
        early = EARLY_HAZARD * np.exp(-(age + s) / EARLY_TAU)
        surv = np.exp(-mu * s - EARLY_HAZARD * EARLY_TAU * (np.exp(-age / EARLY_TAU) - np.exp(-(age + s) / EARLY_TAU)))
        left = horizon - s
        no_order = np.exp(-la * (s + rho * np.minimum(wc, left) + eps * np.maximum(left - wc, 0.0)))
        surv_h = np.exp(-mu[:, 0] * horizon - EARLY_HAZARD * EARLY_TAU
                        * (np.exp(-age[:, 0] / EARLY_TAU) - np.exp(-(age[:, 0] + horizon) / EARLY_TAU)))
        p[chunk] = ((mu + early) * surv * no_order).sum(axis=1) * step + surv_h * np.exp(-lam[chunk] * horizon)
    return np.clip(p, 0.0, 1.0)


def _column(value, n: int, fill, dtype) -> np.ndarray:
    """A length-n column from a scalar, an array, or None (the fill value)."""
    return np.full(n, fill, dtype) if value is None else np.broadcast_to(value, n).astype(dtype)


class _Buffer:
    """Collects coded event columns from each generator, then sorts them by user and time."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, user, t, etype, amount=None, category=None, channel=None, item=None) -> None:
        n = len(user)
        self.parts.append((
            user.astype(np.int32), t.astype(np.float64), _column(etype, n, 0, np.int8),
            _column(amount, n, 0.0, np.float64), _column(category, n, -1, np.int16),
            _column(channel, n, 0, np.int8), _column(item, n, -1, np.int32),
        ))

    def build(self, until: float, origin: pd.Timestamp) -> SimulatedEvents:
        cols = [np.concatenate(c) for c in zip(*self.parts)]
        keep = (cols[1] >= 0) & (cols[1] < until)
        cols = [c[keep] for c in cols]
        order = np.lexsort((cols[1], cols[0]))
        user, t, etype, amount, category, channel, item = (c[order] for c in cols)
        ts = origin.to_datetime64().astype("datetime64[s]") + (t * 86400).astype("timedelta64[s]")
        return SimulatedEvents(user, ts, etype, np.round(amount, 2), category, channel, item)


def _poisson_times(rng, lo, hi, rate) -> tuple[np.ndarray, np.ndarray]:
    """Times of a Poisson process with a per-user rate on [lo, hi): (user index, time) pairs."""
    length = np.clip(hi - lo, 0.0, None)
    k = rng.poisson(rate * length)
    user = np.repeat(np.arange(len(lo)), k)
    return user, lo[user] + rng.random(user.size) * length[user]


def _phase_times(rng, lat, until, rates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Poisson process whose rate depends on the phase (0 healthy, 1 slipping, 2 gone): user, t, phase."""
    bounds = [(lat["signup"], np.minimum(lat["slip"], until)),
              (np.minimum(lat["slip"], until), np.minimum(lat["gone"], until)),
              (np.minimum(lat["gone"], until), np.full_like(lat["gone"], until))]
    users, times, phases = [], [], []
    for phase, ((lo, hi), rate) in enumerate(zip(bounds, rates)):
        u, t = _poisson_times(rng, lo, hi, np.broadcast_to(rate, lo.shape))
        users.append(u)
        times.append(t)
        phases.append(np.full(u.size, phase, np.int8))
    return np.concatenate(users), np.concatenate(times), np.concatenate(phases)


def _categories(rng, lat, user, t) -> np.ndarray:
    """Category of a view or order: mostly the user's own; a new one for needs-changed users from a
    month before they slip (their needs change first, then they drift away)."""
    u = rng.random(user.size)
    drifting = (t >= lat["slip"][user] - DRIFT_LEAD_DAYS) & (lat["reason"][user] == 3)
    usual = np.where(u < 0.7, lat["main_cat"][user],
                     np.where(u < 0.9, lat["second_cat"][user], rng.integers(0, len(CATEGORIES), user.size)))
    drift = np.where(u < 0.8, lat["new_cat"][user],
                     np.where(u < 0.9, lat["main_cat"][user], rng.integers(0, len(CATEGORIES), user.size)))
    return np.where(drifting, drift, usual).astype(np.int16)


def _items(rng, category) -> np.ndarray:
    """A popular-skewed item of the given category."""
    return category.astype(np.int32) * ITEMS_PER_CATEGORY + (ITEMS_PER_CATEGORY * rng.random(category.size) ** 2).astype(np.int32)


def _events(rng: np.random.Generator, lat: dict[str, np.ndarray], until: float, origin: pd.Timestamp) -> SimulatedEvents:
    """Every event of every user, generated phase by phase with vectorized Poisson processes."""
    buf = _Buffer()
    n = lat["lam"].size
    app, web, push, email, service = (_CHANNEL[c] for c in CHANNELS)
    home = np.where(lat["prefers_app"], app, web).astype(np.int8)
    everyone = np.arange(n)
    buf.add(everyone, lat["signup"], _TYPE["signup"], channel=home)
    lam, price, unhappy = lat["lam"], lat["price"], lat["unhappy"]
    is_price, is_unhappy = lat["reason"] == 1, lat["reason"] == 2

    # Orders and their funnel.
    u, t, ph = _phase_times(rng, lat, until, (lam, lam * SLIP_ORDER_FACTOR, lam * GONE_ORDER_FACTOR))
    slip_unhappy = (ph > 0) & is_unhappy[u]
    cat = _categories(rng, lat, u, t)
    item = _items(rng, cat)
    amount = np.round(lat["aov"][u] * rng.lognormal(-0.06, 0.35, u.size), 2)
    chan = np.where(rng.random(u.size) < 0.85, home[u], np.where(home[u] == app, web, app)).astype(np.int8)
    for etype, lag, amt in (("session_start", 14, None), ("product_view", 10, None), ("add_to_cart", 7, amount),
                            ("begin_checkout", 4, amount), ("payment", 1, amount), ("order", 0, amount)):
        buf.add(u, t - lag * _MINUTE, _TYPE[etype], amt, cat, chan, None if etype == "session_start" else item)
    login = rng.random(u.size) < 0.25
    buf.add(u[login], t[login] - 15 * _MINUTE, _TYPE["login"], channel=chan[login])
    coupon_p = np.where((ph > 0) & is_price[u], 0.9, 0.03 + 0.55 * price[u])
    used = rng.random(u.size) < coupon_p
    buf.add(u[used], t[used], _TYPE["coupon_redeem"], np.round(amount[used] * rng.choice([0.1, 0.15, 0.2], used.sum()), 2),
            cat[used], chan[used])

    # After-sale: ratings, reviews, returns, refunds, complaints, chats (worse for the unhappy).
    stars = np.clip(np.round(4.6 - 3.0 * unhappy[u] - 1.5 * slip_unhappy + rng.normal(0, 0.7, u.size)), 1, 5)
    rated = rng.random(u.size) < 0.2
    buf.add(u[rated], t[rated] + rng.uniform(1, 10, rated.sum()), _TYPE["rating"], stars[rated], cat[rated], chan[rated], item[rated])
    reviewed = rng.random(u.size) < 0.06 + 0.1 * slip_unhappy
    buf.add(u[reviewed], t[reviewed] + rng.uniform(1, 10, reviewed.sum()), _TYPE["review"], None, cat[reviewed], chan[reviewed], item[reviewed])
    returned = rng.random(u.size) < 0.02 + 0.15 * unhappy[u] + 0.35 * slip_unhappy
    t_return = t[returned] + rng.uniform(2, 20, returned.sum())
    buf.add(u[returned], t_return, _TYPE["return_request"], amount[returned], cat[returned], chan[returned], item[returned])
    refunded = rng.random(returned.sum()) < 0.85
    buf.add(u[returned][refunded], t_return[refunded] + rng.uniform(1, 7, refunded.sum()), _TYPE["refund"],
            amount[returned][refunded], cat[returned][refunded], service, item[returned][refunded])
    for etype, base, slope, slip_extra in (("complaint", 0.01, 0.1, 0.3), ("service_chat", 0.02, 0.12, 0.35)):
        hit = rng.random(u.size) < base + slope * unhappy[u] + slip_extra * slip_unhappy
        buf.add(u[hit], t[hit] + rng.uniform(0, 15, hit.sum()), _TYPE[etype], None, cat[hit], service, item[hit])

    # Browsing sessions without an order.
    browse = 0.5 * lam * lat["engagement"] + 0.006
    u, t, ph = _phase_times(rng, lat, until, (browse, browse * 0.45, browse * 0.04))
    cat = _categories(rng, lat, u, t)
    chan = np.where(rng.random(u.size) < 0.85, home[u], np.where(home[u] == app, web, app)).astype(np.int8)
    buf.add(u, t, _TYPE["session_start"], channel=chan)
    views = 1 + rng.poisson(0.5, u.size)
    vu = np.repeat(np.arange(u.size), views)
    vcat = cat[vu]
    buf.add(u[vu], t[vu] + rng.uniform(0, 20 * _MINUTE, vu.size), _TYPE["product_view"], None, vcat, chan[vu], _items(rng, vcat))
    for etype, p, lag in (("search", 0.45, 1), ("add_to_cart", 0.15, 12), ("wishlist_add", 0.08, 15),
                          ("share", 0.03, 18), ("login", 0.3, -1)):
        hit = rng.random(u.size) < p
        amt = np.round(lat["aov"][u[hit]] * rng.lognormal(-0.5, 0.4, hit.sum()), 2) if etype == "add_to_cart" else None
        it = _items(rng, cat[hit])
        buf.add(u[hit], t[hit] + lag * _MINUTE, _TYPE[etype], amt, cat[hit], chan[hit],
                None if etype in ("search", "login") else it)
        if amt is not None:  # an add_to_cart, the only one of these with an amount
            dropped = rng.random(hit.sum()) < 0.35
            buf.add(u[hit][dropped], t[hit][dropped] + 19 * _MINUTE, _TYPE["remove_from_cart"], amt[dropped],
                    cat[hit][dropped], chan[hit][dropped], it[dropped])

    # Messaging, coupons and service contacts outside orders.
    eng = lat["engagement"]
    for etype, chan_code, rates in (
        ("push_open", push, (0.015 * eng, 0.006 * eng, 0.001 * eng)),
        ("email_open", email, (0.012 * eng, 0.008 * eng, 0.003 * eng)),
        ("coupon_claim", app, (0.002 + 0.03 * price, np.where(is_price, 0.12, 0.02 * price), 0.006 * price)),
        ("complaint", service, (0.0008 * unhappy, np.where(is_unhappy, 0.04, 0.002), 0.0005 * unhappy)),
        ("service_chat", service, (0.002 + 0.006 * unhappy, np.where(is_unhappy, 0.05, 0.004), 0.0005)),
    ):
        u, t, ph = _phase_times(rng, lat, until, rates)
        amt = rng.choice([5.0, 10.0, 15.0, 20.0], u.size) if etype == "coupon_claim" else None
        buf.add(u, t, _TYPE[etype], amt, None, chan_code)
    for etype, chan_code, unsubscribe_rates in (("push_unsubscribe", push, (0.0004, 0.006, 0.001)),
                                                ("email_unsubscribe", email, (0.0003, 0.004, 0.001))):
        u, t, _ = _phase_times(rng, lat, until, unsubscribe_rates)
        order = np.lexsort((t, u))
        u, t = u[order], t[order]
        first = np.r_[True, u[1:] != u[:-1]]  # one unsubscribe per user: the first
        buf.add(u[first], t[first], _TYPE[etype], None, None, chan_code)
    return buf.build(until, origin)
