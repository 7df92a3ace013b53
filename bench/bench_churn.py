"""Churn at scale on SQLite: load events, compute the SQL features, score every user; time and peak memory.

Scale 1.0 is the issue's size: 1M users of the demo shop (about 60 events each: ~60M events). Events
are generated and loaded in chunks of users; the risk model is trained on a 20k-user shop of the same
calendar (training is not the part that must scale), then scores all users.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tqdm.auto import tqdm

from bench.peak_memory import PeakMemory
from churn.features import compute_features
from churn.ingest import fingerprint_events, load_events
from churn.pipeline import demo_as_of_dates, score, train
from simulator.shop import generate_shop, simulate
from warehouse.engine import Warehouse
from warehouse.events_table import write_events

TITLE = "Churn: SQL features and risk scores for 1M users / ~60M events in the warehouse"
NOTES = ("Peak memory is the process's resident set size sampled every 50 ms during the step (psutil); "
         "the warehouse is the default engine's file on local disk (DuckDB since issue 14; SQLite, indexed on "
         "(user_id, ts), before it).")
FULL_USERS = 1_000_000
CHUNK_USERS = 50_000
WRITE_ROWS = 500_000


def _load_chunks(wh: Warehouse, n_users: int) -> int:
    """Generate the shop chunk by chunk (distinct seeds and ids) and append each chunk to the warehouse."""
    total = 0
    for start in tqdm(range(0, n_users, CHUNK_USERS), desc="generate + load", unit="chunk"):
        size = min(CHUNK_USERS, n_users - start)
        users, coded = simulate(size, seed=1000 + start // CHUNK_USERS, as_of="2026-06-30", horizon_days=60,
                                id_offset=start)
        frame = coded.to_frame(users["user_id"].to_numpy())
        frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        batches = (frame.iloc[i: i + WRITE_ROWS] for i in range(0, len(frame), WRITE_ROWS))
        write_events(wh, batches, source=f"bench-{start}", fingerprint=fingerprint_events(frame), mode="append")
        total += len(frame)
    return total


def run(scale: float) -> list[dict]:
    n_users = max(2_000, int(FULL_USERS * scale))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wh = Warehouse(root / "warehouse.db")
        dates = demo_as_of_dates("2026-06-30", 60)
        with PeakMemory() as mem:
            started = time.perf_counter()
            n_events = _load_chunks(wh, n_users)
            rows.append({"step": "generate + load events", "users": n_users, "events": n_events,
                         "seconds": time.perf_counter() - started, "peak_rss_mb": mem.peak_mb})
        # the model: trained on a 20k-user shop of the same calendar, in its own warehouse
        shop = generate_shop(20_000, seed=7)
        train_wh = Warehouse(root / "train.db")
        load_events(shop.events, train_wh, name="train shop")
        train(train_wh, dates["train"], 60, "bench", root / "registry.db", validate_as_of=dates["validate"],
              model_dir=root / "models")
        with PeakMemory() as mem:
            started = time.perf_counter()
            features = compute_features(wh, dates["score"])
            rows.append({"step": "features (SQL GROUP BY)", "users": len(features), "events": n_events,
                         "seconds": time.perf_counter() - started, "peak_rss_mb": mem.peak_mb})
        del features
        with PeakMemory() as mem:
            started = time.perf_counter()
            scored = score("bench", wh, dates["score"], root / "registry.db")
            rows.append({"step": "features + risk + segments (score)", "users": len(scored), "events": n_events,
                         "seconds": time.perf_counter() - started, "peak_rss_mb": mem.peak_mb})
        rows.append({"step": "warehouse file size (MB)", "users": n_users, "events": n_events,
                     "seconds": float("nan"), "peak_rss_mb": (root / "warehouse.db").stat().st_size / 2**20})
        del scored
        wh.close(), train_wh.close()
    return rows
