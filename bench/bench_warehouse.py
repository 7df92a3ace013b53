"""Events → churn features on the two warehouse engines: DuckDB (embedded) and Spark local[2].

For each size the demo shop's events are generated in chunks into Parquet files; DuckDB loads them
(DuckDB's Parquet reader, the same validation as `winback churn load`) and writes every user's features
as Parquet; Spark reads the same Parquet files and writes the features with the same SQL. Peak memory is
the resident set of this process and its children (Spark's JVM included), sampled every 50 ms.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tqdm.auto import tqdm

from bench.peak_memory import PeakMemory
from churn.features import write_features
from churn.ingest import load_events
from churn.pipeline import demo_as_of_dates
from simulator.shop import simulate
from warehouse.engine import Warehouse

TITLE = "Warehouse engines: events → features on DuckDB and Spark local[2]"
NOTES = ("Sizes are 1M, 10M and 64M events × scale (about 64 events per user, the demo shop's mix; 64M events = "
         "1M users, the size of the SQLite figures in issue 14: 508 s to load, 331 s for features), as Parquet "
         "files of 50,000 users each. Spark runs on every size. "
         "DuckDB: load = the rules checked by SQL over DuckDB's Parquet reader, then INSERT ... SELECT into the DuckDB "
         "file (warehouse/event_files.py), one file after another, DuckDB's memory_limit set to 2GB; features = the feature SQL "
         "written to Parquet. Spark: master local[2] on loopback, events read from the same Parquet files, "
         "features written to Parquet by the executors (session start-up and one warm-up query not counted). "
         "All DuckDB runs come first, before the JVM starts; peak RSS covers this process and its children "
         "(the JVM for Spark).\n\n![events → features: seconds by engine and size](benchmarks/warehouse.svg)")
FULL_EVENTS = (1_000_000, 10_000_000, 64_000_000)
DUCKDB_MEMORY_LIMIT = "2GB"  # DuckDB spills past it; without a cap the features at 64M events peaked at 5.7 GB
SPARK_MAX_FULL_EVENTS = 64_000_000  # every size, Spark included
EVENTS_PER_USER = 64
CHUNK_USERS = 50_000


def _write_parquet(folder: Path, n_users: int) -> int:
    """The shop's events for n_users, chunk by chunk, as Parquet files in `folder`; returns the event count."""
    folder.mkdir(parents=True)
    total = 0
    for start in tqdm(range(0, n_users, CHUNK_USERS), desc=f"generate {n_users} users", unit="chunk"):
        size = min(CHUNK_USERS, n_users - start)
        users, coded = simulate(size, seed=2000 + start // CHUNK_USERS, as_of="2026-06-30", horizon_days=60,
                                id_offset=start)
        frame = coded.to_frame(users["user_id"].to_numpy())
        frame.to_parquet(folder / f"part-{start // CHUNK_USERS:05d}.parquet", index=False,
                         coerce_timestamps="us", allow_truncated_timestamps=True)  # Spark reads no nanoseconds
        total += len(frame)
    return total


def _timed(label: str, step, engine: str, n_users: int, n_events: int, rows: list[dict]) -> None:
    with PeakMemory() as mem:
        started = time.perf_counter()
        step()
        rows.append({"engine": engine, "events": n_events, "users": n_users,
                     "step": label, "seconds": time.perf_counter() - started, "peak_rss_mb": mem.peak_mb})


def run(scale: float) -> list[dict]:
    """DuckDB on every size first (no JVM alive), then Spark local[2] after one untimed warm-up query."""
    from warehouse.spark_engine import SparkWarehouse, spark_session

    as_of = demo_as_of_dates("2026-06-30", 60)["score"]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = []
        for k, full in enumerate(FULL_EVENTS):
            n_users = max(1_000, int(full * scale / EVENTS_PER_USER))
            folder = root / f"events-{k}"
            sizes.append((folder, n_users, _write_parquet(folder, n_users)))
        for k, (folder, n_users, n_events) in enumerate(sizes):
            wh = Warehouse(root / f"warehouse-{k}.duckdb", memory_limit=DUCKDB_MEMORY_LIMIT)

            def load(wh=wh, folder=folder) -> None:
                for i, path in enumerate(sorted(folder.glob("*.parquet"))):
                    load_events(path, wh, mode="replace" if i == 0 else "append")

            _timed("load", load, "duckdb", n_users, n_events, rows)
            _timed("features", lambda wh=wh, k=k: write_features(wh, as_of, root / f"features-{k}.parquet"),
                   "duckdb", n_users, n_events, rows)
            wh.close()
        spark = spark_session("local[2]", app_name="winback-bench", shuffle_partitions=4)
        try:
            write_features(SparkWarehouse(spark, events=sizes[0][0]), as_of, root / "warm-up")  # JIT, not timed
            for k, (folder, n_users, n_events) in enumerate(sizes):
                if FULL_EVENTS[k] > SPARK_MAX_FULL_EVENTS:
                    continue
                spark_wh = SparkWarehouse(spark, events=folder)
                _timed("features", lambda w=spark_wh, k=k: write_features(w, as_of, root / f"features-spark-{k}"),
                       "spark local[2]", n_users, n_events, rows)
        finally:
            spark.stop()
    _chart(rows)
    return rows


def _chart(rows: list[dict]) -> None:
    """Seconds for features vs events per engine, log-log, in docs/benchmarks/warehouse.svg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for (engine, step), part in frame.groupby(["engine", "step"]):
        ax.plot(part["events"], part["seconds"], marker="o", label=f"{engine}: {step}")
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("events"), ax.set_ylabel("seconds"), ax.legend(), ax.grid(True, which="both", alpha=0.3)
    ax.set_title("events → features")
    out = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "warehouse.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(), fig.savefig(out), plt.close(fig)
