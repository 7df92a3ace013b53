"""Who the programme reached and who its holdout is, cycle by cycle, and what they did over the churn horizon.

Each cycle flags users by the same rule whether or not they are in the holdout, so the flagged users of a cycle
split like for like into the programme's population and the holdout's. A user counts once, in the first cycle that
flagged them (intention to treat: programme users the gate or the budget left unsent still count as programme).
Their outcome comes from the warehouse: churned = no order in the `horizon_days` after the cycle's date, spend = the
order amounts in that window (the LTV measure); cycles whose horizon has not passed yet are marked `matured=False`.
"""
from __future__ import annotations

import os

import pandas as pd

from experiments.db import open_registry
from experiments.programmes import Programme, in_holdout
from warehouse.engine import Warehouse, open_warehouse
from warehouse.events_table import event_time_range

GROUPS = ("programme", "holdout")
PLAN_TIER = {"high_value": "high", "regular": "regular", "prospect": "regular"}  # the plan's two tiers


def flagged_population(db: str | os.PathLike[str] | None, programme: Programme) -> pd.DataFrame:
    """user_id, cycle, as_of, tier (the plan's: high or regular), stage and group, each user at first flagging."""
    database = open_registry(db)
    frame = pd.read_sql_query(
        "SELECT c.user_id, y.number AS cycle, y.as_of, c.tier, c.stage FROM cycles y JOIN cohorts c "
        "ON c.cohort_key = y.cohort_key AND c.version = y.cohort_version WHERE y.programme = ? AND y.step = 'finished' "
        "ORDER BY y.number, c.user_id", database.conn, params=(programme.name,), dtype={"user_id": str})
    frame = frame.drop_duplicates("user_id", keep="first").reset_index(drop=True)
    frame["tier"] = frame["tier"].map(PLAN_TIER).fillna("regular")
    frame["group"] = pd.Series(in_holdout(programme, frame["user_id"]), dtype=bool).map(
        {True: "holdout", False: "programme"}).to_numpy()
    return frame


def population_outcomes(db: str | os.PathLike[str] | None, programme: Programme,
                        warehouse: str | os.PathLike[str] | Warehouse | None = None) -> pd.DataFrame:
    """The flagged population with churned (0/1), spend over the horizon, and whether the horizon has passed."""
    users = flagged_population(db, programme)
    wh = open_warehouse(warehouse, db)
    _, last = event_time_range(wh)
    if users.empty:
        return users.assign(churned=pd.Series(dtype=float), spend=pd.Series(dtype=float),
                            matured=pd.Series(dtype=bool))
    wh.put_frame("programme_users", users[["user_id", "as_of"]])
    window = wh.query_frame(
        "SELECT p.user_id, COUNT(e.user_id) AS orders, COALESCE(SUM(e.amount), 0) AS spend FROM programme_users p "
        "LEFT JOIN events e ON e.user_id = p.user_id AND e.event_type = 'order' "
        "AND e.ts >= CAST(p.as_of AS TIMESTAMP) AND e.ts < CAST(p.as_of AS TIMESTAMP) + to_days(:horizon) "
        "GROUP BY p.user_id", {"horizon": int(programme.horizon_days)})
    out = users.merge(window, on="user_id", how="left")
    out["churned"] = (out["orders"].fillna(0) == 0).astype(float)
    out["spend"] = out["spend"].fillna(0.0).astype(float)
    ends = pd.to_datetime(out["as_of"]) + pd.Timedelta(days=programme.horizon_days)
    out["matured"] = (ends <= pd.Timestamp(last)) if last is not None else False
    return out.drop(columns="orders")


def sufficient_statistics(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per cycle × tier × group (matured users only): users, churned, spend sum and sum of squares."""
    grown = outcomes[outcomes["matured"]].assign(spend_sq=lambda f: f["spend"] ** 2)
    return (grown.groupby(["cycle", "tier", "group"], as_index=False)
            .agg(users=("user_id", "size"), churned=("churned", "sum"), spend_sum=("spend", "sum"),
                 spend_sum_squares=("spend_sq", "sum")))
