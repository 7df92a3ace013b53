"""A real programme run end to end on a shop that moves week by week, with the truth to check its report against.

Each week the real `cycle run` loads last week's events (a CSV file, as a CRM export would arrive), flags with the
programme's churn model, enrols through the send gate into a running experiment and writes its send list; the users
it sent a treatment (not its control arm) then follow that treatment's true effect in the simulated shop
(`WeeklyShop.step(sent=...)`). After the last cycle the shop runs on until every cycle's churn horizon has passed,
and the programme report is read as a user would. The truth is the report's own estimand on the programme's users:
1 - Σ P(no order in the horizon | the treatments given) / Σ P(no order | none), per value tier as the report labels it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from churn.ingest import load_events
from churn.pipeline import train
from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.errors import ExperimentError
from experiments.lifecycle import start_experiment
from experiments.programmes import Programme, get_programme, save_programme
from programme.cycles import run_cycle
from programme.population import population_outcomes
from programme.report import ProgrammeReport, programme_report
from simulator.weekly import WeeklyShop, WeeklyShopConfig
from warehouse.engine import Warehouse, open_warehouse

NAME = "weekly"
EXPERIMENT = "wb-weekly"


@dataclass(frozen=True)
class EndToEndRun:
    """The report the programme printed, the true effect per tier beside it, and where the registry lies."""

    report: ProgrammeReport
    truth: pd.DataFrame  # tier, users, true_reduction, true_ltv_change
    sent: int  # users sent a treatment (the experiment's control arm is sent nothing)
    db: Path
    levels: pd.DataFrame  # per programme user: no_order_with/without, spend_with/without, tier

    def comparison(self) -> pd.DataFrame:
        """Per tier: the reported reduction and its interval against the true one, and whether it covers it."""
        reported = pd.DataFrame(self.report.tiers)
        if reported.empty:
            return reported
        both = reported[["tier", "users_programme", "users_holdout", "reduction", "ci_low", "ci_high", "verdict",
                         "ltv_change", "ltv_ci_low", "ltv_ci_high"]].merge(self.truth, on="tier", how="left")
        both["covered"] = (both["ci_low"] <= both["true_reduction"]) & (both["true_reduction"] <= both["ci_high"])
        both["ltv_covered"] = ((both["ltv_ci_low"] <= both["true_ltv_change"])
                               & (both["true_ltv_change"] <= both["ltv_ci_high"]))
        return both


def run_weekly_programme(folder: str | os.PathLike[str], config: WeeklyShopConfig, *, cycles: int = 12,
                         horizon_days: int = 28, control_share: float = 0.2, max_users_per_cycle: int | None = None,
                         target_precision: float = 0.4, flag_tier_share: float = 0.1, progress: bool = False) -> EndToEndRun:
    """Run `cycles` weekly cycles of a programme (holdout `config.holdout_share`) on a simulated shop, then the
    horizon, and return the report with the truth. `config.weeks` is set to cover the cycles and the horizon. Each
    cycle flags the riskiest `flag_tier_share` of each value tier (0: the riskiest users while their mean risk stays
    at `target_precision`; churn here is no order in four weeks, rarer than the 0.7 a default model aims for)."""
    if horizon_days % 7:
        raise ValueError(f"horizon_days must be whole weeks, got {horizon_days}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db, horizon_weeks = folder / "registry.db", horizon_days // 7
    programme = Programme(name=NAME, holdout_share=config.holdout_share, horizon_days=horizon_days,
                          experiment=EXPERIMENT, churn_model=f"{NAME}-churn", retrain_days=0,
                          high_value_monthly=config.high_value_monthly, treatments=("coupon_10",),
                          contact_window_days=7 * config.effect_weeks, max_users_per_cycle=max_users_per_cycle,
                          flag_tier_share=flag_tier_share, value_per_retained=150.0)
    config = replace(config, weeks=cycles + horizon_weeks + 1, holdout_seed=programme.hash_seed)
    shop = WeeklyShop(config)
    wh = open_warehouse(None, db)  # beside the registry, where `winback serve --db` finds it
    load_events(shop.history(), wh, name="history", mode="append")
    train(wh, shop.start - pd.Timedelta(days=horizon_days + 1), horizon_days, programme.churn_model or "", db,
          warehouse=wh, model_dir=folder / "models", target_precision=target_precision)
    save_treatment(Treatment("coupon_10", "10% coupon", "coupon", 8.0), db)
    save_metric(Metric("retained", "binary"), db)
    create_experiment(Experiment(key=EXPERIMENT, name="Weekly win-back", primary_metric="retained", layer=NAME,
                                 arms=(Arm("control", None, control_share, True),
                                       Arm("coupon", "coupon_10", 1 - control_share))), db)
    start_experiment(EXPERIMENT, db)
    save_programme(db, programme, actor="simulator")
    sent_total, files = 0, list[str]()
    for week in tqdm(range(config.weeks), desc="weeks", unit="week", disable=not progress):
        sent = np.zeros(shop.user_ids.size, dtype=bool)
        if week < cycles:
            day = str((shop.start + pd.Timedelta(weeks=week)).date())
            result = run_cycle(db, NAME, day, events=files[-1:], warehouse=wh)
            treated = result.send_list.loc[result.send_list["treatment_key"].notna(), "user_id"]
            sent[shop.positions(treated)] = True
            sent_total += int(sent.sum())
        elif files:
            load_events(files[-1], wh, name=files[-1], mode="append")
        frame = shop.step(sent=sent).events
        path = folder / f"events-week-{week:02d}.csv"
        frame.to_csv(path, index=False)
        files.append(str(path))
    load_events(files[-1], wh, name=files[-1], mode="append")
    report = programme_report(db, NAME, warehouse=wh)
    levels = programme_levels(shop, db, get_programme(db, NAME), wh)
    wh.close()
    return EndToEndRun(report, _truth(levels), sent_total, db, levels)


def programme_levels(shop: WeeklyShop, db: str | os.PathLike[str] | None, programme: Programme,
                     warehouse: Warehouse | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Per matured programme user (at first flagging, tier as the report labels it): the chance of no order in the
    horizon and the expected spend in it, with the treatments given and with none."""
    if programme.horizon_days % 7:
        raise ExperimentError(f"programme '{programme.name}': the weekly shop knows whole weeks; its horizon of "
                         f"{programme.horizon_days} days is not one")
    users = population_outcomes(db, programme, warehouse)
    users = users[users["matured"] & (users["group"] == "programme")]
    positions = shop.positions(users["user_id"])
    unknown = users.loc[positions < 0, "user_id"]
    if len(unknown):
        raise ExperimentError(f"programme '{programme.name}' flagged {len(unknown):,} users this shop does not know "
                         f"(e.g. {unknown.iloc[0]!r}): is it the shop the programme ran on?")
    weeks = ((pd.to_datetime(users["as_of"]) - shop.start).dt.days // 7).to_numpy()
    try:
        chances = shop.window_outcomes(positions, weeks, programme.horizon_days // 7)
    except ValueError as error:  # the registry's events reach further than this shop has run
        raise ExperimentError(f"programme '{programme.name}': {error}") from None
    chances["tier"] = users["tier"].to_numpy()
    return chances


def programme_truth(shop: WeeklyShop, db: str | os.PathLike[str] | None, programme: Programme,
                    warehouse: Warehouse | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Per tier and pooled (`all`): the programme's true churn reduction and LTV change on its matured users."""
    return _truth(programme_levels(shop, db, programme, warehouse))


def _truth(chances: pd.DataFrame) -> pd.DataFrame:
    """Per tier and pooled (`all`): the true relative churn reduction and LTV change."""
    rows = []
    for tier, part in [*chances.groupby("tier"), ("all", chances)]:
        rows.append({"tier": tier, "users": len(part),
                     "true_reduction": float(1 - part["no_order_with"].sum() / part["no_order_without"].sum()),
                     "true_ltv_change": float(part["spend_with"].sum() / part["spend_without"].sum() - 1)})
    return pd.DataFrame(rows)
