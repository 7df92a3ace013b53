"""A shop that moves week by week, with a programme holdout and treatments whose true effect is known.

Every user has a weekly churn hazard (a base rate, times `SLIP_FACTOR` during "slipping" spells that
start at random and last `SLIP_WEEKS`) and a spend rate (orders per day × order value). Value tiers are
fixed before week 0 from the 90 days of history: average monthly spend above `high_value_monthly` is
`high_value`, anyone else `regular` (churn/segments.py's names). Each week a programme flags users (the
oracle flags the `treat_share` riskiest by true hazard, holdout included, since the holdout is flagged by
the same rule); a flagged user not contacted in the last `effect_weeks` weeks is sent a treatment unless
they are in the holdout (GrowthBook hash of the user id with `holdout_seed`) or already gone. A treatment
multiplies the hazard by (1 - churn_effect[tier]) and the order rate by (1 + spend_effect[tier]) for
`effect_weeks` weeks.

Truth: given the flag schedule, a user's chance to churn within the run is 1 - Π(1 - h_w·m_w) and their
expected spend Σ S_w·rate_w, so the programme's true effect per tier (against no programme, on the same
users) is exact for any schedule that does not look at realized churn (the oracle's does not).
Vectorized over users with numpy; the only Python loop is over weeks.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.assignment import hash_ids
from stats.programme_effect import GroupTotals

TIERS: tuple[str, ...] = ("high_value", "regular")
HISTORY_DAYS = 90
SLIP_START = 0.03  # weekly chance that a slipping spell starts
SLIP_WEEKS = 3
SLIP_FACTOR = 4.0
MAX_HAZARD = 0.9
EVENT_COLUMNS: tuple[str, ...] = ("user_id", "event_type", "ts", "amount")


@dataclass(frozen=True)
class WeeklyShopConfig:
    """The shop, the programme holdout and the treatments' true effects (relative, per tier)."""

    n_users: int = 50_000
    weeks: int = 12
    seed: int = 0
    start: str = "2026-01-05"
    high_value_monthly: float = 500.0
    base_hazard: float = 0.015  # weekly churn hazard of a median user
    holdout_share: float = 0.10
    holdout_seed: str = "programme"
    treat_share: float = 0.15
    effect_weeks: int = 4
    churn_effect: Mapping[str, float] = field(default_factory=lambda: {"high_value": 0.40, "regular": 0.25})
    spend_effect: Mapping[str, float] = field(default_factory=lambda: {"high_value": 0.30, "regular": 0.30})

    def __post_init__(self) -> None:
        if self.n_users < 1 or self.weeks < 1 or self.effect_weeks < 1:
            raise ValueError("n_users, weeks and effect_weeks must be at least 1")
        if not 0 < self.holdout_share < 1 or not 0 <= self.treat_share <= 1:
            raise ValueError(f"holdout_share must be in (0, 1) and treat_share in [0, 1], got "
                             f"{self.holdout_share} and {self.treat_share}")
        for name in ("churn_effect", "spend_effect"):
            if set(getattr(self, name)) != set(TIERS):
                raise ValueError(f"{name} needs exactly the tiers {TIERS}, got {sorted(getattr(self, name))}")
        if not all(0 <= e <= 1 for e in self.churn_effect.values()):
            raise ValueError(f"churn_effect values must be in [0, 1], got {dict(self.churn_effect)}")


@dataclass(frozen=True)
class Week:
    """One simulated week: its events (the loader's columns) and what happened that the data cannot show."""

    index: int
    start: pd.Timestamp
    events: pd.DataFrame
    sent: np.ndarray  # user ids sent a treatment this week
    churned: np.ndarray  # user ids who churned at the start of this week


@dataclass(frozen=True)
class TierTruth:
    """The programme's true effect in one tier: on churn within the run and on spend per user."""

    tier: str
    users: int
    churn_reduction: float
    ltv_change: float


@dataclass(frozen=True)
class ProgrammeRun:
    """A finished run: per tier (programme, holdout) totals for stats.programme_effect, and the truth."""

    groups: dict[str, tuple[GroupTotals, GroupTotals]]
    truth: dict[str, TierTruth]


class WeeklyShop:
    """The shop's users at week 0; `step` moves it one week, `weeks` runs the oracle programme."""

    def __init__(self, config: WeeklyShopConfig) -> None:
        self.config = config
        n, rng = config.n_users, np.random.default_rng(config.seed)
        self._rng = rng
        self.start = pd.Timestamp(config.start)
        self.user_ids = np.char.add("w", np.char.zfill(np.arange(n).astype(str), 6))
        monthly = rng.lognormal(np.log(250.0), 0.9, n)  # expected spend per month
        aov = rng.lognormal(np.log(120.0), 0.4, n)
        self._order_rate = monthly / aov / 30.0  # orders per day
        self._aov = aov
        self._base = config.base_hazard * rng.lognormal(0.0, 0.5, n) * (monthly / 250.0) ** -0.3
        self._signup_days = rng.uniform(HISTORY_DAYS, 720.0, n)
        self._history = self._orders(np.arange(n), self.start - pd.Timedelta(days=HISTORY_DAYS), HISTORY_DAYS,
                                     np.ones(n))
        spent = np.bincount(self._history[0], weights=self._history[2], minlength=n)
        self.high_value = spent / (HISTORY_DAYS / 30.0) > config.high_value_monthly
        self.holdout = hash_ids(config.holdout_seed, self.user_ids, 2) < config.holdout_share
        starts = rng.random((n, config.weeks)) < SLIP_START
        spell = np.cumsum(starts, axis=1)
        lagged = np.zeros_like(spell)
        lagged[:, SLIP_WEEKS:] = spell[:, :-SLIP_WEEKS]
        self.hazard = np.minimum(self._base[:, None] * np.where(spell > lagged, SLIP_FACTOR, 1.0), MAX_HAZARD)
        tier_of = np.where(self.high_value, 0, 1)
        self._churn_mult = 1 - np.array([config.churn_effect[t] for t in TIERS])[tier_of]
        self._spend_mult = 1 + np.array([config.spend_effect[t] for t in TIERS])[tier_of]
        self.week = 0
        self.alive = np.ones(n, dtype=bool)
        self.alive_before = np.ones((n, config.weeks), dtype=bool)  # alive at the start of each week, before its churn
        self.driven = False  # True once a real programme's send lists drive the treatments (`step(sent=...)`)
        self.active = np.zeros((n, config.weeks), dtype=bool)  # under a treatment's effect (would-be, all users)
        self.sent = np.zeros((n, config.weeks), dtype=bool)  # actually sent (outside holdout, alive)
        self.spend = np.zeros(n)
        self._last_flag = np.full(n, -config.effect_weeks, dtype=np.int64)

    @property
    def users(self) -> pd.DataFrame:
        """One row per user: user_id, tier, holdout, monthly spend over the history (observed)."""
        spent = np.bincount(self._history[0], weights=self._history[2], minlength=self.config.n_users)
        return pd.DataFrame({"user_id": self.user_ids, "tier": np.where(self.high_value, *TIERS),
                             "holdout": self.holdout, "monthly_spend": spent / (HISTORY_DAYS / 30.0)})

    def history(self) -> pd.DataFrame:
        """The 90 days before week 0: one signup per user before it and every order (user_id, event_type, ts, amount)."""
        signups = pd.DataFrame({"user_id": self.user_ids, "event_type": "signup",
                                "ts": self.start - pd.to_timedelta(self._signup_days, unit="D"), "amount": 0.0})
        users, ts, amount = self._history
        orders = pd.DataFrame({"user_id": self.user_ids[users], "event_type": "order", "ts": ts, "amount": amount})
        return pd.concat([signups, orders], ignore_index=True).sort_values("ts", ignore_index=True)

    def set_treatment(self, users: np.ndarray, churn_mult: np.ndarray | float,
                      spend_mult: np.ndarray | float = 1.0) -> None:
        """Give `users` (a boolean mask) their own treatment: the hazard and order-rate multipliers that apply
        whenever they are under a treatment's effect (instead of their tier's), e.g. the arm of an experiment.
        Set it before the user is first sent anything, so `expected()` stays the truth of every week."""
        mask = np.asarray(users, dtype=bool)
        if mask.shape != self.alive.shape:
            raise ValueError(f"users must be a boolean mask over {self.alive.size} users, got shape {mask.shape}")
        self._churn_mult[mask] = np.broadcast_to(np.asarray(churn_mult, dtype=float), mask.shape)[mask]
        self._spend_mult[mask] = np.broadcast_to(np.asarray(spend_mult, dtype=float), mask.shape)[mask]

    def churn_probability(self, start: int, weeks: int, churn_mult: np.ndarray | float = 1.0) -> np.ndarray:
        """Each user's true chance to churn within `weeks` weeks from week `start`, if alive at its start and under a
        treatment's effect throughout with hazard multiplier `churn_mult` (1: untreated)."""
        if start < 0 or weeks < 1 or start + weeks > self.config.weeks:
            raise ValueError(f"weeks {start}..{start + weeks - 1} are outside the shop's {self.config.weeks} weeks")
        hazard = np.minimum(self.hazard[:, start:start + weeks] * np.reshape(churn_mult, (-1, 1)), 1.0)
        return 1 - np.prod(1 - hazard, axis=1)

    def oracle_flags(self) -> np.ndarray:
        """This week's flags by the oracle: the `treat_share` riskiest users by true hazard (holdout included)."""
        hazard = self.hazard[:, self.week]
        if self.config.treat_share == 0:
            return np.zeros(hazard.size, dtype=bool)
        return hazard >= np.quantile(hazard, 1 - self.config.treat_share)

    def step(self, flagged: np.ndarray | None = None, *, events: bool = True, sent: np.ndarray | None = None) -> Week:
        """Move one week: send to flagged users outside the holdout and the contact window, churn, shop.

        `flagged` is a boolean mask over `user_ids` (holdout users flagged by the same rule); None uses the oracle.
        `sent` (a boolean mask) instead names exactly who a real programme cycle sent a treatment this week: their
        later weeks follow its true effect (`flagged` is then ignored; the holdout's would-be schedule is not kept).
        `events=False` leaves the week's events empty (same random draws, so the same shop, only faster).
        """
        w, cfg = self.week, self.config
        if w >= cfg.weeks:
            raise ValueError(f"the shop runs {cfg.weeks} weeks; all of them have been simulated")
        if sent is not None:
            flags = np.asarray(sent, dtype=bool)
        else:
            flags = self.oracle_flags() if flagged is None else np.asarray(flagged, dtype=bool)
        if flags.shape != self.alive.shape:
            raise ValueError(f"flagged or sent must be a boolean mask over {self.alive.size} users, got shape {flags.shape}")
        if sent is not None:
            flags = flags & self.alive
        self.alive_before[:, w] = self.alive
        contact = flags & (w - self._last_flag >= cfg.effect_weeks)
        self._last_flag[contact] = w
        self.active[:, w] = w - self._last_flag < cfg.effect_weeks
        sent_now = contact & ~self.holdout & self.alive
        self.sent[:, w] = sent_now
        if sent is not None:
            self.driven = True  # from now on only what real cycles sent counts, whatever the simulator's own holdout
        treated = self.active[:, w] if self.driven else self.active[:, w] & ~self.holdout
        hazard = self.hazard[:, w] * np.where(treated, self._churn_mult, 1.0)
        churned = self.alive & (self._rng.random(self.alive.size) < hazard)
        self.alive &= ~churned
        week_start = self.start + pd.Timedelta(weeks=w)
        shoppers = np.flatnonzero(self.alive)
        boost = np.where(treated, self._spend_mult, 1.0)[shoppers]
        users, ts, amount = self._orders(shoppers, week_start, 7, boost)
        self.spend += np.bincount(users, weights=amount, minlength=self.alive.size)
        frame = self._week_events(users, ts, amount, np.flatnonzero(sent_now), week_start, events)
        self.week += 1
        return Week(w, week_start, frame, self.user_ids[sent_now], self.user_ids[churned])

    def weeks(self, *, events: bool = True) -> Iterator[Week]:
        """Run the remaining weeks with the oracle programme."""
        while self.week < self.config.weeks:
            yield self.step(events=events)

    def totals(self) -> dict[str, tuple[GroupTotals, GroupTotals]]:
        """Per tier (programme, holdout) users, churned users and spend over the weeks run so far."""
        churned, out = ~self.alive, {}
        for name, in_tier in self._tiers():
            pair = []
            for group in (in_tier & ~self.holdout, in_tier & self.holdout):
                spend = self.spend[group]
                pair.append(GroupTotals(int(group.sum()), int(churned[group].sum()), float(spend.sum()),
                                        float(np.square(spend).sum())))
            out[name] = (pair[0], pair[1])
        return out

    def _tiers(self) -> list[tuple[str, np.ndarray]]:
        """(tier name, mask over users) for each tier."""
        return [(TIERS[0], self.high_value), (TIERS[1], ~self.high_value)]

    def expected(self) -> pd.DataFrame:
        """Per user, over the weeks run so far: chance to churn and expected spend without and with the programme.

        "With" applies the flag schedule's treatments to everyone flagged, holdout included (what the holdout
        would have had), so the columns are both potential outcomes of every user.
        """
        w = self.week
        hazard, active = self.hazard[:, :w], self.active[:, :w]
        rate = (self._order_rate * self._aov * 7)[:, None]
        p_none, s_none = _churn_and_spend(hazard, rate)
        p_prog, s_prog = _churn_and_spend(hazard * np.where(active, self._churn_mult[:, None], 1.0),
                                          rate * np.where(active, self._spend_mult[:, None], 1.0))
        return pd.DataFrame({"user_id": self.user_ids, "p_churn_without": p_none, "p_churn_with": p_prog,
                             "spend_without": s_none, "spend_with": s_prog})

    def truth(self) -> dict[str, TierTruth]:
        """True effect per tier of the flag schedule so far against no programme, over all the tier's users."""
        exp, out = self.expected(), {}
        for name, in_tier in self._tiers():
            tier = exp[in_tier]
            out[name] = TierTruth(name, int(in_tier.sum()),
                                  float(1 - tier["p_churn_with"].sum() / tier["p_churn_without"].sum()),
                                  float(tier["spend_with"].sum() / tier["spend_without"].sum() - 1))
        return out

    def positions(self, user_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Each id's index into `user_ids`, -1 for an id this shop does not know (pandas' get_indexer)."""
        return pd.Index(self.user_ids).get_indexer(pd.Index(user_ids))

    def window_outcomes(self, users: np.ndarray, first_week: np.ndarray, weeks: int) -> pd.DataFrame:
        """Per user (index into `user_ids`), over `weeks` weeks from `first_week`: the chance of no order at all (the
        report's churn) and the expected spend, under the treatments actually given and under none.

        Alive at the start of week k before its churn draw with S_{k-1}; dying then ends all orders, so
        P(no order) = Σ_k S_{k-1}·h_k·m_k·Π_{j<k} e^{-λ_j} + S_last·Π_j e^{-λ_j}, λ_j = orders expected in week j
        (times the spend boost while treated). A user gone before the window orders nothing in either world.
        """
        users, first = np.asarray(users, dtype=np.int64), np.asarray(first_week, dtype=np.int64)
        if users.size and int(first.max()) + weeks > self.week:
            raise ValueError(f"the windows reach week {int(first.max()) + weeks}; only {self.week} weeks have run")
        cols = first[:, None] + np.arange(weeks)[None, :]
        hazard = self.hazard[users[:, None], cols]
        treated = (self.active if self.driven else self.active & ~self.holdout[:, None])[users[:, None], cols]
        lam = (self._order_rate[users] * 7)[:, None] * np.ones_like(hazard)
        value = self._aov[users][:, None]
        alive = self.alive_before[users, first]
        out = {}
        for label, churn_mult, spend_mult in (("with", self._churn_mult[users][:, None], self._spend_mult[users][:, None]),
                                              ("without", 1.0, 1.0)):
            h = hazard * np.where(treated, churn_mult, 1.0)
            rate = lam * np.where(treated, spend_mult, 1.0)
            survive = np.cumprod(1 - h, axis=1)
            before = np.hstack([np.ones((users.size, 1)), survive[:, :-1]])
            quiet = np.exp(-np.cumsum(rate, axis=1))
            quiet_before = np.hstack([np.ones((users.size, 1)), quiet[:, :-1]])
            no_order = (before * h * quiet_before).sum(axis=1) + survive[:, -1] * quiet[:, -1]
            spend = (survive * rate * value).sum(axis=1)
            out[f"no_order_{label}"] = np.where(alive, no_order, 1.0)
            out[f"spend_{label}"] = np.where(alive, spend, 0.0)
        return pd.DataFrame({"user_id": self.user_ids[users], **out})

    def _orders(self, users: np.ndarray, start: pd.Timestamp, days: float,
                boost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Poisson orders of `users` over `days` from `start`: (user index, ts, amount), gamma order values."""
        counts = self._rng.poisson(self._order_rate[users] * days * boost)
        who = np.repeat(users, counts)
        offsets = pd.to_timedelta(self._rng.uniform(0.0, days * 86400.0, who.size).round(), unit="s")
        amount = np.round(self._rng.gamma(4.0, self._aov[who] / 4.0), 2)
        return who, (start + offsets).as_unit("ns").to_numpy(), amount

    def _week_events(self, users: np.ndarray, ts: np.ndarray, amount: np.ndarray, sent: np.ndarray,
                     week_start: pd.Timestamp, keep: bool) -> pd.DataFrame:
        """Orders, a session before each, and an email open from half the users sent a treatment."""
        opened = sent[self._rng.random(sent.size) < 0.5]
        open_ts = (week_start + pd.to_timedelta(self._rng.uniform(0, 86400.0, opened.size).round(), unit="s"))
        if not keep:
            return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in
                                 zip(EVENT_COLUMNS, ("str", "str", "datetime64[ns]", "float64"), strict=True)})
        session_ts = np.maximum(ts - np.timedelta64(20, "m"), week_start.as_unit("ns").to_datetime64())
        frame = pd.DataFrame({
            "user_id": self.user_ids[np.concatenate([users, users, opened])],
            "event_type": np.repeat(["session_start", "order", "email_open"], [users.size, users.size, opened.size]),
            "ts": np.concatenate([session_ts, ts, open_ts.as_unit("ns").to_numpy()]),
            "amount": np.concatenate([np.zeros(users.size), amount, np.zeros(opened.size)]),
        })
        return frame.sort_values("ts", ignore_index=True)


def _churn_and_spend(hazard: np.ndarray, weekly_spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's chance to churn within the weeks and expected spend (alive in week w with Π_{v<=w}(1 - h_v))."""
    survival = np.cumprod(1 - hazard, axis=1)
    return 1 - survival[:, -1], (survival * weekly_spend).sum(axis=1)


def run_oracle_programme(config: WeeklyShopConfig, *, with_events: bool = False) -> tuple[ProgrammeRun, list[Week]]:
    """Run every week with the oracle programme: the totals for stats.programme_effect, the truth, the weeks.

    With `with_events=False` the weeks' events are left empty (the shop and its totals are the same).
    """
    shop = WeeklyShop(config)
    weeks = list(shop.weeks(events=with_events))
    return ProgrammeRun(shop.totals(), shop.truth()), weeks
