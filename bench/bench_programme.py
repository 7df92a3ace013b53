"""A programme's twelve weekly cycles end to end on a generated shop (issue 22: 50,000 users in at most 10 minutes).

Full scale: a 50,000-user shop; its events are loaded, a churn model is trained, a programme (10% holdout) assigns
each week's newly flagged users into a running experiment, and 12 weekly `cycle run`s follow, each flagging with
the churn model, enrolling through the send gate and storing its send list.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

TITLE = "Programme: twelve weekly cycles on a generated shop"
NOTES = """
Set-up (shop, events loaded, churn model) is timed apart from the twelve cycles. Each cycle scores every user with
the churn model as of its date (features in DuckDB), flags at most 5% of the users, enrols the new ones through
the send gate (opt-outs, the holdout, layers, the contact window) and stores the cycle's send list.
"""


def run(scale: float) -> list[dict]:
    import pandas as pd

    from churn.ingest import load_events
    from churn.pipeline import train
    from experiments.catalog import Metric, Treatment, save_metric, save_treatment
    from experiments.definitions import Arm, Experiment, create_experiment
    from experiments.lifecycle import start_experiment
    from experiments.programmes import Programme, save_programme
    from programme.cycles import run_cycle
    from simulator.shop import generate_shop
    from warehouse.engine import open_warehouse

    n_users = max(2_000, int(50_000 * scale))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "registry.db"
        started = time.perf_counter()
        shop = generate_shop(n_users, seed=21)
        wh = open_warehouse(Path(folder) / "warehouse.duckdb", db)
        load_events(shop.events, wh, name="bench shop")
        last = pd.Timestamp(shop.events["ts"].max()).normalize()
        train(wh, last - pd.Timedelta(days=150), 60, "bench-churn", db, warehouse=wh,
              model_dir=Path(folder) / "models")
        save_treatment(Treatment("coupon_10", "10% coupon", "coupon", 8.0), db)
        save_metric(Metric("retained", "binary"), db)
        create_experiment(Experiment(key="wb-weekly", name="weekly", primary_metric="retained", layer="weekly",
                                     arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.5))), db)
        start_experiment("wb-weekly", db)
        save_programme(db, Programme(name="bench", holdout_share=0.1, experiment="wb-weekly",
                                     churn_model="bench-churn", max_users_per_cycle=max(100, n_users // 20)))
        setup = time.perf_counter() - started
        started, sent = time.perf_counter(), 0
        for week in range(12):
            day = str((last - pd.Timedelta(days=7 * (11 - week))).date())
            sent += run_cycle(db, "bench", day, warehouse=wh).sent
        cycles = time.perf_counter() - started
        rows.append({"users": n_users, "events": len(shop.events), "set-up s": setup, "12 cycles s": cycles,
                     "s per cycle": cycles / 12, "users sent": sent, "set-up + cycles s": setup + cycles,
                     "target s (at 50,000 users)": 600})
    return rows
