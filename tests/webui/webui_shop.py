"""A small shop registry built with the services (catalog, cohort, experiment, imports) for the web UI tests."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.cohorts import write_cohort
from experiments.db import registry
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.imports import import_deliveries, import_outcomes
from experiments.lifecycle import start_experiment, stop_experiment
from experiments.targeting import arm_of_users, assign_users
from experiments.users import add_user

PASSWORD = "correct horse battery"
USERS = {"gina": "growth", "finn": "finance", "stella": "strategy", "ada": "admin"}
EXPERIMENT = "wb-q4"
COHORT = "at-risk"
RETAINED = {"control": 0.30, "coupon": 0.42, "reco": 0.36}  # planted retention rate per arm
UNSUBSCRIBED = {"control": 0.02, "coupon": 0.12, "reco": 0.02}  # the coupon arm floods inboxes: a guardrail fails


@dataclass(frozen=True)
class Shop:
    """Where the registry is and the outcomes that were imported into it (for independent checks)."""

    db: Path
    outcomes: pd.DataFrame  # user_id, arm, metric, value


def build_catalog(db: Path, n_users: int, seed: int) -> None:
    """Treatments, metrics, one flagged cohort and one user per role."""
    save_treatment(Treatment("coupon_10", "10% coupon", "coupon", 8.0), db)
    save_treatment(Treatment("reco_email", "Recommendations e-mail", "recommendation", 0.5), db)
    save_metric(Metric("retained", "binary", True, "bought again within 60 days"), db)
    save_metric(Metric("unsubscribed", "binary", False, "unsubscribed from e-mail"), db)
    rng = np.random.default_rng(seed)
    write_cohort(pd.DataFrame({
        "user_id": [f"u{i:05d}" for i in range(n_users)],
        "risk": rng.uniform(0.2, 0.95, n_users).round(4),
        "stage": rng.choice(["new", "active", "lapsing"], n_users),
        "tier": rng.choice(["regular", "high"], n_users, p=[0.8, 0.2]),
        "reason": rng.choice(["price", "service", "assortment"], n_users),
    }), COHORT, db)
    with registry(db) as database:
        for name, role in USERS.items():
            add_user(database, name, PASSWORD, role, actor="test setup")


def run_experiment(db: Path, workdir: Path, seed: int, key: str = EXPERIMENT, name: str = "Win back Q4") -> pd.DataFrame:
    """Create, start and assign the three-arm experiment, import deliveries and outcomes, stop it."""
    arms = (Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.25), Arm("reco", "reco_email", 0.25))
    create_experiment(Experiment(key=key, name=name, primary_metric="retained", arms=arms, owner="gina",
                                 target_cohort=COHORT, guardrail_metrics=("unsubscribed",), layer=f"layer-{key}",
                                 value_per_retained=40.0), db, actor="gina")
    start_experiment(key, db, actor="gina")
    assign_users(key, db=db)
    return import_results(db, workdir, key, seed)


def import_results(db: Path, workdir: Path, key: str, seed: int) -> pd.DataFrame:
    """Deliveries for treated users and Bernoulli outcomes at the planted rates, imported from CSV files."""
    rng = np.random.default_rng(seed + 1)
    assigned = arm_of_users(key, db)
    treatment = {"coupon": ("coupon_10", 8.0), "reco": ("reco_email", 0.5)}
    treated = assigned[assigned["arm_key"] != "control"]
    deliveries = pd.DataFrame({
        "experiment_key": key, "user_id": treated["user_id"],
        "treatment_key": treated["arm_key"].map(lambda a: treatment[a][0]),
        "sent_at": "2026-10-01T09:00:00Z", "cost": treated["arm_key"].map(lambda a: treatment[a][1]),
    })
    rows = []
    for metric, rates in (("retained", RETAINED), ("unsubscribed", UNSUBSCRIBED)):
        p = assigned["arm_key"].map(rates).to_numpy()
        rows.append(pd.DataFrame({"experiment_key": key, "user_id": assigned["user_id"], "metric": metric,
                                  "value": (rng.random(len(assigned)) < p).astype(int),
                                  "observed_at": "2026-11-20T00:00:00Z", "arm": assigned["arm_key"].to_numpy()}))
    outcomes = pd.concat(rows, ignore_index=True)
    deliveries.to_csv(workdir / f"{key}-deliveries.csv", index=False)
    outcomes.drop(columns="arm").to_csv(workdir / f"{key}-outcomes.csv", index=False)
    import_deliveries(workdir / f"{key}-deliveries.csv", db)
    import_outcomes(workdir / f"{key}-outcomes.csv", db)
    return outcomes


def build_shop(workdir: Path, n_users: int = 1200, seed: int = 3, *, experiment: bool = True) -> Shop:
    """The whole small shop: catalog, cohort, users, and (when asked) a stopped experiment with outcomes."""
    db = workdir / "registry.db"
    build_catalog(db, n_users, seed)
    outcomes = pd.DataFrame()
    if experiment:
        outcomes = run_experiment(db, workdir, seed)
        stop_experiment(EXPERIMENT, db, actor="gina")
    return Shop(db, outcomes)


def write_scores(path: Path, n_users: int = 1200, seed: int = 5) -> pd.DataFrame:
    """Uplift scores for the cohort's users, one column per catalog treatment (what `winback uplift score` writes)."""
    rng = np.random.default_rng(seed)
    scores = pd.DataFrame({"user_id": [f"u{i:05d}" for i in range(n_users)],
                           "coupon_10": rng.normal(0.08, 0.05, n_users).round(5),
                           "reco_email": rng.normal(0.02, 0.02, n_users).round(5)})
    scores.to_csv(path, index=False)
    return scores


def copy_registry(source: Path, target: Path) -> None:
    """A consistent copy with SQLite's backup API (includes what still sits in the WAL file)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
