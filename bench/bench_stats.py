"""Experiment analysis end to end: SQL sufficient statistics + stats/ against loading rows into pandas."""
from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps
from tqdm import tqdm

from experiments.analysis import analyze_experiment
from experiments.db import open_registry, transaction

TITLE = "Experiment analysis: SQL GROUP BY + stats/ vs pandas"
FULL_ROWS = 10_000_000
ROWS_PER_USER = 5  # retained (post), revenue (pre, post), orders (pre, post)
ARMS = ["control", "coupon", "vip", "reco", "care"]
CACHE = Path(__file__).resolve().parent / ".cache"
NOW = "2026-11-25T00:00:00.000000Z"
CHUNK = 250_000

NOTES = """
- One experiment, 5 arms (equal weights) × 3 metrics: `retained` (binary, post period only), `revenue`
  and `orders` (continuous, pre and post period), so outcome rows = 5 × users (10M rows = 2M users at
  scale 1). The SQLite file is built once under `bench/.cache/` (numpy + `executemany` in chunks) and
  reused; building it is not timed. Times are wall clock, one run each, warm page cache.
- `winback analyze` is `experiments.analysis.analyze_experiment(...)`: SQL GROUP BY per arm × metric
  (assignments joined to outcomes, users without a row count as 0) then `stats.compare` for 4 arms ×
  3 metrics, Holm/BH, SRM and cost per retained user. `--cuped` adds the pre-period sums.
- `pandas` is the usual alternative: `pd.read_sql_query` of the joined post-period rows, a groupby for
  count/mean/variance per arm × metric and `scipy.stats.ttest_ind_from_stats(equal_var=False)` for
  each arm × metric. It does less work (no zero-filling of missing rows, no CUPED, no money view),
  so the ratio flatters pandas. `pandas time / this` > 1 means the route is faster than pandas.
- Each route runs in a fresh process; `extra memory MB` is the growth of peak RSS during the call
  (after imports), `peak RSS MB` the process peak.
"""


def _build(path: Path, users: int) -> None:
    """Write the bench registry: treatments, metrics, one running 5-arm experiment, assignments, outcomes."""
    rng = np.random.default_rng(2026)
    database = open_registry(path)
    conn = database.conn
    conn.execute("PRAGMA synchronous = OFF")
    with transaction(database):
        conn.executemany("INSERT INTO treatments VALUES (?, ?, 'other', ?, NULL, ?)",
                         [(a, a, cost, NOW) for a, cost in zip(ARMS[1:], (2.0, 15.0, 0.2, 0.5))])
        conn.executemany("INSERT INTO metrics VALUES (?, ?, 1, '')",
                         [("retained", "binary"), ("revenue", "continuous"), ("orders", "continuous")])
        conn.execute("INSERT INTO experiments (key, name, primary_metric, guardrail_metrics, status, created_at) "
                     "VALUES ('bench', 'Bench', 'retained', ?, 'draft', ?)", (json.dumps(["orders"]), NOW))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) VALUES ('bench', ?, ?, ?, 0.2, ?)",
                         [(a, i, None if i == 0 else a, int(i == 0)) for i, a in enumerate(ARMS)])
        conn.execute("UPDATE experiments SET status = 'running'")
    for start in tqdm(range(0, users, CHUNK), desc="bench db", unit="chunk"):
        n = min(CHUNK, users - start)
        ids = np.char.add("u", np.arange(start, start + n).astype(str)).tolist()
        arm = rng.integers(0, len(ARMS), n)
        lift = np.array([0.0, 0.03, 0.05, 0.01, 0.02])[arm]
        retained = (rng.random(n) < 0.3 + lift).astype(float).tolist()
        revenue_pre = rng.gamma(2.0, 20.0, n)
        revenue = (0.6 * revenue_pre + rng.gamma(2.0, 10.0 * (1 + lift), n)).tolist()
        orders_pre = rng.poisson(2.0, n).astype(float)
        orders = (rng.poisson(1.0 + orders_pre * 0.5 + lift)).astype(float).tolist()
        arm_names = np.array(ARMS)[arm].tolist()
        with transaction(database):
            conn.executemany("INSERT INTO assignments VALUES ('bench', ?, ?, ?)", zip(ids, arm_names, [NOW] * n))
            rows = []
            for metric, period, values in (("retained", "post", retained), ("revenue", "pre", revenue_pre.tolist()),
                                           ("revenue", "post", revenue), ("orders", "pre", orders_pre.tolist()),
                                           ("orders", "post", orders)):
                rows.extend(zip(ids, [metric] * n, [period] * n, values, [NOW] * n))
            conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) VALUES ('bench', ?, ?, ?, ?, ?)", rows)
    conn.execute("ANALYZE")
    conn.close()


def _pandas_baseline(path: Path) -> float:
    """Load the joined post-period rows into pandas, aggregate and run Welch tests there; returns seconds."""
    started = time.perf_counter()
    with sqlite3.connect(str(path)) as conn:
        frame = pd.read_sql_query(
            "SELECT a.arm_key, o.metric, o.value FROM outcomes o JOIN assignments a "
            "ON a.experiment_key = o.experiment_key AND a.user_id = o.user_id "
            "WHERE o.experiment_key = 'bench' AND o.period = 'post'", conn)
    summary = frame.groupby(["arm_key", "metric"])["value"].agg(["count", "mean", "var"])
    for metric in ("retained", "revenue", "orders"):
        c = summary.loc[("control", metric)]
        for arm in ARMS[1:]:
            t = summary.loc[(arm, metric)]
            sps.ttest_ind_from_stats(t["mean"], np.sqrt(t["var"]), t["count"], c["mean"], np.sqrt(c["var"]),
                                     c["count"], equal_var=False)
    return time.perf_counter() - started


ROUTES = {
    "winback analyze": {},
    "winback analyze --cuped": {"cuped": True},
    "winback analyze --method sequential": {"method": "sequential"},
    "pandas read_sql + groupby + Welch": None,
}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(route: str, path: str) -> None:
    """Run one route in this (fresh) process and print its wall time and memory as JSON."""
    before = _peak_rss_mb()
    started = time.perf_counter()
    kwargs = ROUTES[route]
    if kwargs is None:
        _pandas_baseline(Path(path))
    else:
        analyze_experiment("bench", path, value_per_retained=60.0, **kwargs)
    seconds = time.perf_counter() - started
    after = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": after, "extra_mb": after - before}))


def run(scale: float) -> list[dict]:
    """Time each route in its own process (fair memory figures) on one cached database."""
    users = max(1000, int(FULL_ROWS * scale / ROWS_PER_USER))
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"stats_{users}.db"
    if not path.exists():
        partial = path.with_suffix(".partial.db")
        partial.unlink(missing_ok=True)
        _build(partial, users)
        partial.rename(path)
    rows_total = users * ROWS_PER_USER
    measured = {}
    for route in tqdm(ROUTES, desc="bench stats", unit="route"):
        code = f"from bench.bench_stats import child; child({route!r}, {str(path)!r})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=str(Path(__file__).resolve().parents[1]))
        measured[route] = json.loads(done.stdout.strip().splitlines()[-1])
    pandas_seconds = measured["pandas read_sql + groupby + Welch"]["seconds"]
    return [{"route": route, "outcome rows": rows_total, "seconds": round(m["seconds"], 2),
             "rows/s": round(rows_total / m["seconds"]), "pandas time / this": round(pandas_seconds / m["seconds"], 2),
             "extra memory MB": round(m["extra_mb"]), "peak RSS MB": round(m["peak_mb"])}
            for route, m in measured.items()]
