"""The demo pipeline: a synthetic shop through every stage, into one registry with a finished experiment.

generate the shop → load its events into the warehouse → train the churn model and flag the at-risk
cohort → run the 'demo-winback' experiment on that cohort (assign, deliver, observe, stop) → analyse it
and record the winner → fit calibrated uplift on the experiment (`uplift.targeting.fit_targeting`: the
candidate whose plan has the highest out-of-fold doubly robust value), allocate a budget, forecast it, and
score the plan on the true effects next to the oracle allocation and the best blanket treatment.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from churn.flagging import STAGES, FlagSpec
from churn.ingest import load_events
from churn.pipeline import demo_as_of_dates, flag, history_features, train
from churn.segments import TierRule
from experiments.analysis import analyze_experiment
from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.cohorts import read_cohort, write_cohort
from experiments.decisions import recommend_winner
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.imports import import_deliveries, import_outcomes
from experiments.lifecycle import record_decision, start_experiment, stop_experiment
from experiments.plans import guardrail_failures
from experiments.programmes import Programme, save_programme
from experiments.targeting import AssignmentSummary, arm_of_users, assign_users
from programme.cycles import run_cycle
from programme.report import programme_report
from simulator.experiment import (
    DEMO_ARMS,
    DEMO_AS_OF,
    DEMO_METRICS,
    DEMO_TREATMENT_ROWS,
    simulate_deliveries,
    simulate_outcomes,
    true_uplift,
)
from simulator.shop import generate_shop
from uplift.frontier import budget_frontier
from uplift.pipeline import UpliftRun, fit_and_allocate
from warehouse.engine import Warehouse, open_warehouse
from winback.charts import plot_effects

EXPERIMENT_KEY = "demo-winback"
COHORT_KEY = "demo-at-risk"
CHURN_MODEL = "demo-churn"
PROGRAMME = "demo-programme"
PROGRAMME_EXPERIMENT = "demo-weekly"
UPLIFT_MODEL = "demo-uplift"
MARGIN = 0.3  # gross margin on spend: a retained user is worth MARGIN × two months of their spend
BUDGET_PER_USER = 5.0  # retention budget per flagged user


@dataclass(frozen=True)
class DemoSummary:
    """The headline figures of one demo run, one per stage."""

    db: str
    users: int
    events: int
    event_types: int
    churn_validation_auc: float
    flagged: int
    assignment: AssignmentSummary
    winner: str
    winner_rationale: str
    uplift_learner: str
    uplift_candidates: list[dict]  # every candidate's plan value per user (doubly robust, out of fold) and Qini
    budget: float
    plan_cost: float
    plan_forecast: float  # incremental retained users the calibrated uplift predicts for the plan
    plan_forecast_low: float
    plan_forecast_high: float
    plan_retained_true: float
    oracle_retained_true: float
    best_blanket: str
    best_blanket_retained_true: float
    plan_net_value_true: float
    oracle_net_value_true: float
    best_blanket_net_value_true: float
    plan_counts: dict[str, int] = field(default_factory=dict)  # users per treatment in the plan
    left_out: dict[str, list[str]] = field(default_factory=dict)  # treatment -> guardrails it failed: not planned
    lines: list[str] = field(default_factory=list)

    @property
    def share_of_oracle(self) -> float:
        return self.plan_retained_true / self.oracle_retained_true if self.oracle_retained_true else math.nan

    @property
    def gain_over_best_blanket(self) -> float:
        return self.plan_retained_true / self.best_blanket_retained_true - 1 if self.best_blanket_retained_true else math.nan

    def to_dict(self) -> dict:
        return {**asdict(self), "share_of_oracle": self.share_of_oracle,
                "gain_over_best_blanket": self.gain_over_best_blanket}


def run_demo(
    db: str | os.PathLike[str],
    *,
    n_users: int = 20_000,
    seed: int = 7,
    workdir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> DemoSummary:
    """Build a fresh demo registry at `db` (replacing any file there) and run every stage on it."""
    db = Path(db)
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="winback-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stages = tqdm(total=7, desc="demo", unit="stage", disable=not progress)
    lines: list[str] = []

    stages.set_postfix_str("shop")
    shop = generate_shop(n_users, seed=seed)
    warehouse = open_warehouse(None, db)
    load_events(shop.events, warehouse, name="demo shop")
    lines.append(f"shop: {len(shop.users):,} users, {len(shop.events):,} events of "
                 f"{shop.events['event_type'].nunique()} types up to {shop.events['ts'].max().date()}")
    stages.update()

    stages.set_postfix_str("churn")
    dates = demo_as_of_dates(shop.as_of, shop.horizon_days)
    trained = train(warehouse, dates["train"], shop.horizon_days, CHURN_MODEL, db,
                    validate_as_of=dates["validate"], model_dir=workdir / "models")
    # the demo keeps its original cohort: every stage by the per-stage thresholds, the seed's 500-a-month tier
    flagged = flag(CHURN_MODEL, warehouse, dates["score"], db, spec=FlagSpec(rule="stage-thresholds", stages=STAGES),
                   tiers=TierRule(basis="monthly"), clv=None)
    write_cohort(flagged.users, COHORT_KEY, db)
    auc = float(trained.validation.roc_auc)
    lines.append(f"churn: model {CHURN_MODEL} validated as of {dates['validate'].date()}: ROC AUC {auc:.3f}; "
                 f"{flagged.n_flagged:,} of {flagged.n_scored:,} users flagged into cohort {COHORT_KEY} "
                 f"({', '.join(f'{k} {v:,}' for k, v in flagged.flagged_by_stage.items())})")
    stages.update()

    stages.set_postfix_str("experiment")
    cohort_ids = read_cohort(COHORT_KEY, db)["user_id"]
    assignment, outcomes = _run_experiment(db, shop, workdir, seed, _value_per_retained(shop.users, cohort_ids))
    lines.append(f"experiment {EXPERIMENT_KEY}: {assignment.newly_assigned:,} users assigned "
                 f"({', '.join(f'{k} {v:,}' for k, v in assignment.arm_sizes.items())}); deliveries and outcomes imported")
    stages.update()

    stages.set_postfix_str("analysis")
    report = analyze_experiment(EXPERIMENT_KEY, db)
    recommendation = recommend_winner(report)
    winner, rationale = recommendation.winner_arm, recommendation.rationale
    record_decision(EXPERIMENT_KEY, winner, rationale, "winback demo", db)
    chart = plot_effects(report, workdir / f"{EXPERIMENT_KEY}-effects.png")
    lines.append(f"analysis: SRM p = {report.srm_p_value:.3f}; winner {winner}: {rationale} (chart: {chart})")
    stages.update()

    stages.set_postfix_str("uplift")
    run, budget, truth = _run_uplift(db, shop, warehouse, outcomes, dates["score"], workdir, seed,
                                     guardrail_failures(report))
    lines += run.summary_lines()
    # The best blanket by what the plan maximizes: value net of cost (the demo values a retained user).
    blanket = max((k for k in truth if k.startswith("blanket ")), key=lambda k: _net(truth[k]))
    lines.append("on the true effects (known because the shop is simulated), same budget:")
    for policy in ("targeted", "oracle", blanket):
        t = truth[policy]
        lines.append(f"  {policy:<22} {t['incremental_retained']:>9,.1f} incremental retained users, "
                     f"net value {t['incremental_value'] - t['cost']:>11,.0f}, cost {t['cost']:>10,.0f}")
    f, realized = run.forecast, truth["targeted"]["incremental_retained"]
    covered = "inside" if f.ci_low <= realized <= f.ci_high else "outside"
    lines.append(f"  plan share of the oracle {realized / truth['oracle']['incremental_retained']:.1%}; forecast "
                 f"{f.predicted:,.1f} [95% {f.ci_low:,.1f}, {f.ci_high:,.1f}] against {realized:,.1f} realized "
                 f"({f.predicted / realized - 1:+.1%}, {covered} the interval)")
    stages.update()

    stages.set_postfix_str("programme")
    lines += _run_programme(db, warehouse, dates["score"], len(shop.users))
    stages.update()
    stages.close()
    return DemoSummary(
        db=str(db), users=len(shop.users), events=len(shop.events), event_types=int(shop.events["event_type"].nunique()),
        churn_validation_auc=auc, flagged=flagged.n_flagged, assignment=assignment, winner=winner,
        winner_rationale=rationale, uplift_learner=run.fit.learner,
        uplift_candidates=[c.to_dict() for c in run.fit.candidates], budget=budget,
        plan_cost=float(run.allocation.total_cost), plan_forecast=run.forecast.predicted,
        plan_forecast_low=run.forecast.ci_low, plan_forecast_high=run.forecast.ci_high,
        plan_retained_true=truth["targeted"]["incremental_retained"],
        oracle_retained_true=truth["oracle"]["incremental_retained"], best_blanket=blanket.removeprefix("blanket "),
        best_blanket_retained_true=truth[blanket]["incremental_retained"],
        plan_net_value_true=_net(truth["targeted"]), oracle_net_value_true=_net(truth["oracle"]),
        best_blanket_net_value_true=_net(truth[blanket]), plan_counts=dict(run.allocation.counts),
        left_out=dict(run.left_out), lines=lines,
    )


def _run_experiment(db: Path, shop, workdir: Path, seed: int, value: float) -> tuple[AssignmentSummary, pd.DataFrame]:
    """Catalog, experiment definition, assignment, then deliveries and outcomes imported from files."""
    for key, name, treatment_kind, unit_cost, capacity in DEMO_TREATMENT_ROWS:
        save_treatment(Treatment(key, name, treatment_kind, unit_cost, capacity), db)
    for key, kind, higher_is_better, description in DEMO_METRICS:
        save_metric(Metric(key, kind, higher_is_better, description), db)
    arms = tuple(Arm(key, treatment, weight, control) for key, treatment, weight, control in DEMO_ARMS)
    create_experiment(
        Experiment(key=EXPERIMENT_KEY, name="Win back at-risk customers", primary_metric="retained", arms=arms,
                   hypothesis="A treatment matched to why a customer slips retains more of them than doing nothing, "
                              "at a cost below what they are worth.",
                   owner="growth team", target_cohort=COHORT_KEY, guardrail_metrics=("unsubscribed",),
                   layer="retention", value_per_retained=round(value, 2)),
        db,
    )
    start_experiment(EXPERIMENT_KEY, db)
    # The simulated shop has its own clock: users are assigned on its scoring date, before deliveries and outcomes.
    summary = assign_users(EXPERIMENT_KEY, db=db, now=pd.Timestamp(DEMO_AS_OF, tz="UTC").to_pydatetime())
    assignments = arm_of_users(EXPERIMENT_KEY, db)
    deliveries = simulate_deliveries(assignments, seed=seed + 11).assign(experiment_key=EXPERIMENT_KEY)
    outcomes = simulate_outcomes(shop.users, assignments, seed=seed + 12).assign(experiment_key=EXPERIMENT_KEY)
    deliveries.to_csv(workdir / "deliveries.csv", index=False)
    outcomes.to_csv(workdir / "outcomes.csv", index=False)
    import_deliveries(workdir / "deliveries.csv", db)
    import_outcomes(workdir / "outcomes.csv", db)
    stop_experiment(EXPERIMENT_KEY, db)
    return summary, outcomes


def _run_programme(db: Path, warehouse: Warehouse, as_of: pd.Timestamp, n_users: int) -> list[str]:
    """A programme beside the experiment: 10% holdout, twelve weekly cycles assigning newly flagged users into
    a running experiment (its 28-day churn horizon has passed for every cycle, so the report compares them)."""
    create_experiment(Experiment(key=PROGRAMME_EXPERIMENT, name="Weekly win-back (programme)", primary_metric="retained",
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.5)),
                                 layer="programme", owner="growth team"), db)
    start_experiment(PROGRAMME_EXPERIMENT, db)
    save_programme(db, Programme(name=PROGRAMME, holdout_share=0.1, horizon_days=28, experiment=PROGRAMME_EXPERIMENT,
                                 churn_model=CHURN_MODEL, max_users_per_cycle=max(50, n_users // 40),
                                 treatments=("coupon_10",)), actor="winback demo")
    sent = 0
    for week in range(12):
        day = (as_of - pd.Timedelta(days=7 * (16 - week))).date()
        sent += run_cycle(db, PROGRAMME, str(day), warehouse=warehouse).sent
    report = programme_report(db, PROGRAMME, warehouse)
    overall = report.overall
    line = (f"programme {PROGRAMME}: 12 weekly cycles, {sent:,} users sent, the 10% holdout kept out of every send "
            "list")
    if overall:
        line += (f"; churn {overall['churn_programme']:.1%} against {overall['churn_holdout']:.1%} in the holdout "
                 f"(reduction {overall['reduction']:+.1%} [95% {overall['ci_low']:+.1%}, {overall['ci_high']:+.1%}]: "
                 "the simulated shop's events do not react to treatments, so no reduction is the honest answer)")
    return [line]


def _value_per_retained(users: pd.DataFrame, user_ids: pd.Series) -> float:
    """What one retained user is worth on average in the cohort: margin × two months of spend (finance's figure)."""
    spend = users.set_index("user_id").loc[user_ids, "monthly_value"]
    return float(MARGIN * 2 * spend.mean())


def _run_uplift(db: Path, shop, warehouse, outcomes: pd.DataFrame, as_of: pd.Timestamp, workdir: Path, seed: int,
                left_out: dict[str, list[str]]):
    """Fit calibrated uplift on churn features of the experiment's users, allocate the budget (without `left_out`,
    the treatments that failed a guardrail in the experiment), score it on the truth."""
    assignments = arm_of_users(EXPERIMENT_KEY, db).set_index("user_id")
    retained = outcomes[outcomes["metric"] == "retained"].set_index("user_id")["value"]
    features = history_features(warehouse, as_of).reindex(assignments.index)
    data = features.assign(arm_key=assignments["arm_key"], retained=retained.reindex(assignments.index))
    # Worth of a retained user: margin on two months of their average monthly spend over their whole tenure.
    months = (data["tenure_days"].fillna(0) / 30.4).clip(lower=1.0)
    data["value"] = MARGIN * 2 * (data["spend"].fillna(0).clip(lower=0) / months)
    data = data.rename_axis("user_id").reset_index()
    costs = {key: unit_cost for key, _, _, unit_cost, _ in DEMO_TREATMENT_ROWS}
    capacity = {key: n for key, _, _, _, n in DEMO_TREATMENT_ROWS if n is not None}
    budget = BUDGET_PER_USER * len(data)
    run: UpliftRun = fit_and_allocate(
        data, treatment_col="arm_key", outcome_col="retained", control="control", id_col="user_id", costs=costs,
        budget=budget, value_per_retained="value", capacity=capacity,
        arm_weights={key: weight for key, _, weight, _ in DEMO_ARMS}, name=UPLIFT_MODEL,
        experiment_key=EXPERIMENT_KEY, db=str(db), model_dir=str(workdir / "models"), seed=seed, progress=False,
        left_out=left_out,  # what failed a guardrail is not sent, as allocate --model
    )
    # Score plan, oracle and blankets on the true effects (known only because the shop is simulated), all over the
    # treatments the plan may give.
    treatments = run.planned_treatments
    truth = true_uplift(shop.users.set_index("user_id").loc[data["user_id"]].reset_index())[treatments]
    value = data["value"].to_numpy(float)
    checks = budget_frontier(run.scores[treatments], {t: costs[t] for t in treatments}, [budget], value,
                             {t: n for t, n in capacity.items() if t in treatments}, truth=truth, seed=seed)
    return run, budget, checks.set_index("policy").to_dict(orient="index")


def _net(totals: dict) -> float:
    """Incremental value minus cost of one policy's totals."""
    return float(totals["incremental_value"] - totals["cost"])
