"""`winback analyze --engine spark` on local[2] at the issue's Spark size: 20M users x 5 outcome rows (100M).

The same registry recipe as the other analysis benches (bench_analysis.py, cached under bench/.cache/); the default
route and the Spark route take turns, then the `--cuped --json` reports of both are compared number by number.
"""
from __future__ import annotations

import statistics
import sys

from tqdm import tqdm

from bench.bench_analysis import SPARK_ROUTE, _agreement, _registry, _timed
from common.settings import ENV_SPARK_MASTER
from experiments.db import open_registry
from experiments.fact_mirror import mirror_folder

TITLE = "Experiment analysis on Spark (local[2]) at 20M users x 5 outcome rows (100M at scale 1)"
FULL_USERS = 20_000_000
ROUNDS = 2
SYNC = ("import sys; from experiments.db import open_registry; from experiments.fact_source import open_facts; "
        "d = open_registry(sys.argv[1]); s = open_facts(d.conn).__enter__(); assert type(s).__name__ == 'MirrorFacts'")
NOTES = f"""
- Routes: `winback analyze bench` (the default: DuckDB over the registry's Parquet fact mirror) and the same command
  with `--engine spark` and `{ENV_SPARK_MASTER}=local[2]` (Spark reads the mirror's Parquet files and runs the same
  fact SQL; the JVM's start, about 5 s, is included). Each runs as a fresh process, {ROUNDS} rounds taking turns.
- `mirror first build` is the one-off copy of the registry's fact tables into the mirror (what the first analysis
  after building the registry by SQL pays; an import pays its own rows only): 957 s at 100M rows on 2026-12-03
  (the machine shared with two CPU-bound proof runs), peak 339 MB (the copy streams row groups of 1M rows). A later
  run finds the mirror built and shows its sync check.
- `largest relative difference`: every number of the `--cuped --json` report of each engine against the default's,
  with the field it is in, and the largest outside p-values; the issue's bar is 1e-9. Spark's TOTAL() is a
  compensated sum (experiments/spark_facts.py: each value's part to 6 decimals summed exactly as DECIMAL, the rest
  as doubles), as DuckDB's fsum and SQLite's TOTAL are, so the engines agree exactly here. With Spark's plain SUM of
  doubles (the first run of 2026-12-03) Spark took 28.3 s and agreed to 4.1e-12 outside p-values, but a p-value of
  1.7e-76 differed by 1.3e-9: the sums' order moved the effects in their 12th digit and the normal tail magnified
  that about z² times. The exact DECIMAL sums cost Spark 2.6x (72.9 s against 28.3 s, both on a quiet machine).
- The registry is built by SQL, not through `winback import` (a 100M-row import is measured nowhere else here).
"""


def run(scale: float) -> list[dict]:
    """Build (cached), bring the mirror up once (timed), then default and Spark in turns, then their agreement."""
    users = max(2_000, int(FULL_USERS * scale))
    db = _registry(users)
    cli = [sys.executable, "-m", "winback.cli"]
    built = (mirror_folder(db) / "manifest.json").exists()
    first = _timed([sys.executable, "-c", SYNC, str(db)])
    outcome_rows = int(open_registry(db).execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])
    routes = {"winback analyze": ([*cli, "analyze", "bench", "--db", str(db)], None),
              SPARK_ROUTE: ([*cli, "analyze", "bench", "--db", str(db), "--engine", "spark"],
                            {ENV_SPARK_MASTER: "local[2]", "SPARK_LOCAL_IP": "127.0.0.1"})}
    measured: dict[str, list[dict]] = {name: [] for name in routes}
    for round_ in tqdm(range(ROUNDS), desc="bench analysis spark", unit="round"):
        names = list(routes)[round_ % 2:] + list(routes)[:round_ % 2]
        for name in names:
            argv, env = routes[name]
            measured[name].append(_timed(argv, env))
    default = statistics.median(m["seconds"] for m in measured["winback analyze"])
    rows = [{"route": name, "outcome rows": outcome_rows, "runs": len(runs),
             "median s": round(statistics.median(m["seconds"] for m in runs), 2),
             "min s": round(min(m["seconds"] for m in runs), 2),
             "ratio to default": round(statistics.median(m["seconds"] for m in runs) / default, 2),
             "peak MB": round(statistics.median(m["peak_mb"] for m in runs))} for name, runs in measured.items()]
    once = "mirror sync check (once; built by an earlier run)" if built else "mirror first build (once)"
    rows.append({"route": once, "outcome rows": outcome_rows, "runs": 1,
                 "median s": round(first["seconds"], 2), "min s": round(first["seconds"], 2),
                 "ratio to default": "-", "peak MB": round(first["peak_mb"])})
    agreement = _agreement(db, cli, spark=True)
    agreement["ratio to default"] = agreement.pop("ratio to pandas")
    rows.append(agreement)
    return rows
