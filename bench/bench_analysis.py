"""`winback analyze` at warehouse size (issue 24): the CLI against pandas and DuckDB on the same rows, interleaved.

One 5-arm experiment with 3 metrics (retained post; revenue and orders pre and post: 5 outcome rows per user),
deliveries for 90% of the treated users, assignments spread over 14 days. Every route runs as a fresh process;
wall time and that process's peak resident memory (wait4) are taken per run, and the table shows medians over
rounds in which the routes take turns (so a busy machine slows them all alike).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.settings import ENV_FACTS, ENV_SPARK_MASTER
from experiments.db import open_registry, transaction

TITLE = "Experiment analysis at warehouse speed: winback analyze vs pandas and DuckDB on the same outcome rows"
FULL_USERS = 800_000  # x 5 outcome rows = 4M at scale 1
ARMS = ("control", "coupon", "vip", "reco", "care")
COSTS = (0.0, 2.0, 15.0, 0.2, 0.5)
ROUNDS = 3
CHUNK = 200_000
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
DAY = 86_400
START = np.datetime64("2026-10-01T00:00:00", "s")

REGISTRY_ROUTE = f"winback analyze ({ENV_FACTS}=registry)"
SNAPSHOT_ROUTE = "snapshot refresh (take_snapshot: health, report, by-day)"
SPARK_ROUTE = "winback analyze --engine spark (local[2], JVM start included)"
SNAPSHOT = """
import sys
from experiments.db import registry
from experiments.snapshots import take_snapshot
with registry(sys.argv[1]) as database:
    take_snapshot(database, "bench", actor="bench")
"""
NOTES = f"""
- Machine: 2 cores shared with other engineers' CPU-heavy jobs (load average 5 to 7 for most of the issue 24
  session of 2026-12-03, falling to about 1 to 3 for the last runs, the ones shown), hence interleaved rounds and medians; wall times carry that load, ratios within a round less so.
- Routes: `winback analyze bench` is the CLI as a user runs it (`python -m winback.cli`, imports, health checks,
  the report printed), reading the registry's columnar fact mirror (experiments/fact_mirror.py) that the
  import (or the first analysis after a change) brought up to date. `--engine duckdb` is the same command with
  the warehouse engine named. `{ENV_FACTS}=registry` runs the same SQL on SQLite itself (the route before
  issue 24), measured in the first round only, as are the snapshot refresh (what the web UI's refresh button and
  `analyze --save` run: health checks, report, cumulative effect by day) and `--engine spark` on local[2] (it reads
  the mirror's Parquet files; the JVM's start is included). `pandas` reads a CSV of the same 4M rows with each user's arm
  (`pd.read_csv`), keeps the post rows, `groupby(arm, metric)` for count/mean/var, then SciPy's Welch test per
  arm x metric; `duckdb csv` / `duckdb parquet` compute the same count, sum and sum of squares with one
  `GROUP BY` over the CSV / a Parquet file of those rows and run the same Welch tests: they do less than
  `winback analyze` (no health checks, no CUPED-ready sums, no money view, no rendering).
- `ratio to pandas` is the route's median time over the pandas median (<= 1 means at most pandas' time).
  `peak MB` is the process's peak RSS (children included for the CLI: the mirror copies large ranges in a child).
- `mirror rebuild` is the time to copy the registry's fact tables into the mirror from nothing (what a VACUUM or
  a registry copied in from elsewhere costs once); `import N rows` / `import undo` are `winback import outcomes`
  and `winback import undo` of an extra metric on half of the users, each bringing the mirror in step (the undo
  drops that batch's rows from its segments); `analyze after undo` shows the next analysis reads the mirror again.
"""


def _build(path: Path, users: int) -> None:
    """The bench registry by SQL: catalog, one running 5-arm experiment, assignments, deliveries, outcomes."""
    rng = np.random.default_rng(2024)
    database = open_registry(path)
    conn = database.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -4000000")  # 4 GB: the primary-key index of 50M outcome rows stays in memory
    now = "2026-11-25T00:00:00.000000Z"
    with transaction(database):
        conn.executemany("INSERT INTO treatments (key, name, kind, unit_cost, created_at) VALUES (?, ?, 'other', ?, ?)",
                         [(a, a, c, now) for a, c in zip(ARMS[1:], COSTS[1:])])
        conn.executemany("INSERT INTO metrics (key, kind, higher_is_better) VALUES (?, ?, 1)",
                         [("retained", "binary"), ("revenue", "continuous"), ("orders", "continuous"),
                          ("visits", "continuous")])
        conn.execute("INSERT INTO experiments (key, name, primary_metric, guardrail_metrics, status, created_at, "
                     "value_per_retained) VALUES ('bench', 'Bench', 'retained', ?, 'draft', ?, 60)",
                     (json.dumps(["orders"]), now))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
                         "VALUES ('bench', ?, ?, ?, 0.2, ?)",
                         [(a, i, None if i == 0 else a, int(i == 0)) for i, a in enumerate(ARMS)])
        conn.execute("UPDATE experiments SET status = 'running'")
    for start in tqdm(range(0, users, CHUNK), desc="bench registry", unit="chunk"):
        n = min(CHUNK, users - start)
        ids = np.char.add("u", np.arange(start, start + n).astype(str)).astype(object)
        arm = rng.integers(0, len(ARMS), n)
        assigned = START + rng.integers(0, 14 * DAY, n).astype("timedelta64[s]")
        text = np.datetime_as_string(assigned, unit="us").astype(object) + "Z"
        pre_at = np.datetime_as_string(assigned - np.timedelta64(DAY, "s"), unit="us").astype(object) + "Z"
        post_at = np.datetime_as_string(assigned + np.timedelta64(30 * DAY, "s"), unit="us").astype(object) + "Z"
        lift = np.array([0.0, 0.03, 0.05, 0.01, 0.02])[arm]
        retained = (rng.random(n) < 0.3 + lift).astype(float)
        revenue_pre = np.round(rng.gamma(2.0, 20.0, n), 2)
        revenue = np.round(0.6 * revenue_pre + rng.gamma(2.0, 10.0 * (1 + lift), n), 2)
        orders_pre = rng.poisson(2.0, n).astype(float)
        orders = rng.poisson(1.0 + orders_pre * 0.5 + lift).astype(float)
        arm_names = np.array(ARMS, dtype=object)[arm]
        delivered = (arm > 0) & (rng.random(n) < 0.9)
        with transaction(database):
            conn.executemany("INSERT INTO assignments VALUES ('bench', ?, ?, ?)", zip(ids, arm_names, text))
            conn.executemany(
                "INSERT INTO deliveries (experiment_key, user_id, treatment_key, sent_at, cost) VALUES ('bench', ?, ?, ?, ?)",
                zip(ids[delivered], arm_names[delivered], text[delivered], np.array(COSTS)[arm[delivered]]))
            for metric, period, values, at in (("retained", "post", retained, post_at),
                                               ("revenue", "pre", revenue_pre, pre_at),
                                               ("revenue", "post", revenue, post_at),
                                               ("orders", "pre", orders_pre, pre_at),
                                               ("orders", "post", orders, post_at)):
                conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                                 f"VALUES ('bench', ?, '{metric}', '{period}', ?, ?)", zip(ids, values.tolist(), at))
    conn.execute("ANALYZE")
    conn.close()


def _registry(users: int) -> Path:
    """The cached bench registry (built once, not timed)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"analysis_{users}.db"
    if not path.exists():
        partial = path.with_name(path.stem + "_partial.db")
        partial.unlink(missing_ok=True)
        _build(partial, users)
        partial.rename(path)
    return path


def _timed(argv: list[str], env: dict | None = None) -> dict:
    """Run one process under a small wrapper: wall seconds and the peak RSS of the process (and its children)."""
    code = ("import json, os, resource, subprocess, sys, time; t = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); s = time.perf_counter() - t; "
            "sys.stderr.write(p.stderr[-2000:]) if p.returncode else None; "
            "print(json.dumps({'rc': p.returncode, 'seconds': s, "
            "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=str(ROOT), env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"]:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return result


PANDAS = """
import sys, numpy as np, pandas as pd
from scipy import stats
frame = pd.read_csv(sys.argv[1], dtype={"user_id": str, "arm": str, "metric": str, "period": str, "value": float})
post = frame[frame["period"] == "post"]
summary = post.groupby(["arm", "metric"])["value"].agg(["count", "mean", "var"])
for (arm, metric), row in summary.iterrows():
    if arm != "control":
        c = summary.loc[("control", metric)]
        stats.ttest_ind_from_stats(row["mean"], np.sqrt(row["var"]), row["count"], c["mean"], np.sqrt(c["var"]),
                                   c["count"], equal_var=False)
"""
DUCKDB = """
import sys, duckdb, numpy as np
from scipy import stats
source = sys.argv[1]
reader = f"read_csv('{source}', header = true)" if source.endswith(".csv") else f"read_parquet('{source}')"
rows = duckdb.connect().execute(f"SELECT arm, metric, COUNT(*), SUM(value), SUM(value * value) FROM {reader} "
                                "WHERE period = 'post' GROUP BY arm, metric").fetchall()
sums = {(a, m): (n, s, s2) for a, m, n, s, s2 in rows}
for (arm, metric), (n, s, s2) in sums.items():
    if arm != "control":
        cn, cs, cs2 = sums[("control", metric)]
        var, cvar = (s2 - s * s / n) / (n - 1), (cs2 - cs * cs / cn) / (cn - 1)
        stats.ttest_ind_from_stats(s / n, np.sqrt(var), n, cs / cn, np.sqrt(cvar), cn, equal_var=False)
"""


def _export(db: Path, folder: Path, with_csv: bool = True) -> tuple[Path, Path]:
    """A CSV and a Parquet file of the experiment's outcome rows with each user's arm (written by DuckDB)."""
    import duckdb

    from experiments.fact_source import open_facts

    csv, parquet = folder / "outcomes.csv", folder / "outcomes.parquet"
    if (csv.exists() or not with_csv) and parquet.exists():
        return csv, parquet
    database = open_registry(db)
    with open_facts(database.conn) as source:
        duck = source.duck  # type: ignore[attr-defined]
        query = ("SELECT o.user_id, a.arm_key AS arm, o.metric, o.period, o.value FROM outcomes o JOIN assignments a "
                 "ON a.experiment_key = o.experiment_key AND a.user_id = o.user_id WHERE o.experiment_key = 'bench' "
                 "AND o.metric <> 'visits'")
        if with_csv:
            duck.execute(f"COPY ({query}) TO '{csv}' (HEADER, DELIMITER ',')")
        duck.execute(f"COPY ({query}) TO '{parquet}' (FORMAT PARQUET)")
    database.conn.close()
    del duckdb
    return csv, parquet


def run(scale: float) -> list[dict]:
    """Build (cached), bring the mirror up, then take turns over the routes for ROUNDS rounds."""
    return measure(max(2_000, int(FULL_USERS * scale)), ROUNDS, with_imports=True)


LARGE_ROUTES = ("winback analyze", "winback analyze --engine duckdb", "duckdb: parquet GROUP BY + Welch")


def measure(users: int, rounds: int, *, with_imports: bool, large: bool = False) -> list[dict]:
    """The routes on a registry of `users` users (5 outcome rows each), `rounds` turns; import steps if asked.

    `large`: only the routes the issue's large-size targets name (LARGE_ROUTES, interleaved, and the snapshot refresh
    each round), on a mirror brought up to date first rather than rebuilt from nothing (no CSV, pandas or Spark)."""
    from experiments.fact_mirror import mirror_folder

    db = _registry(users)
    cli = [sys.executable, "-m", "winback.cli"]
    rows: list[dict] = []
    import shutil

    sync = ("import sys; from experiments.db import open_registry; "
            "from experiments.fact_source import open_facts; d = open_registry(sys.argv[1]); "
            "s = open_facts(d.conn).__enter__(); assert type(s).__name__ == 'MirrorFacts'")
    if not large:
        shutil.rmtree(mirror_folder(db), ignore_errors=True)
    rebuild = _timed([sys.executable, "-c", sync, str(db)])
    outcome_rows = int(open_registry(db).execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])
    folder = CACHE / f"analysis_{users}_files"
    folder.mkdir(exist_ok=True)
    csv, parquet = _export(db, folder, with_csv=not large)
    routes = {
        "winback analyze": ([*cli, "analyze", "bench", "--db", str(db)], None),
        "winback analyze --engine duckdb": ([*cli, "analyze", "bench", "--db", str(db), "--engine", "duckdb",
                                             "--warehouse", str(folder / "warehouse.duckdb")], None),
        "winback analyze --cuped": ([*cli, "analyze", "bench", "--db", str(db), "--cuped"], None),
        "pandas: read_csv + groupby + Welch": ([sys.executable, "-c", PANDAS, str(csv)], None),
        "duckdb: csv GROUP BY + Welch": ([sys.executable, "-c", DUCKDB, str(csv)], None),
        "duckdb: parquet GROUP BY + Welch": ([sys.executable, "-c", DUCKDB, str(parquet)], None),
    }
    if large:
        routes = {name: routes[name] for name in LARGE_ROUTES}
    measured: dict[str, list[dict]] = {name: [] for name in routes}
    once = {REGISTRY_ROUTE: (routes["winback analyze"][0], {ENV_FACTS: "registry"}),
            SNAPSHOT_ROUTE: ([sys.executable, "-c", SNAPSHOT, str(db)], None),
            SPARK_ROUTE: ([*cli, "analyze", "bench", "--db", str(db), "--engine", "spark"],
                          {ENV_SPARK_MASTER: "local[2]", "SPARK_LOCAL_IP": "127.0.0.1"})}
    if large:
        routes[SNAPSHOT_ROUTE] = once[SNAPSHOT_ROUTE]
        measured[SNAPSHOT_ROUTE] = []
        once = {}
    measured |= {name: [] for name in once}
    for round_ in tqdm(range(rounds), desc="bench analysis", unit="round"):
        names = list(routes)
        names = names[round_ % len(names):] + names[:round_ % len(names)]  # each round starts elsewhere
        for name in names:
            argv, env = routes[name]
            measured[name].append(_timed(argv, env))
        if round_ == 0:
            for name, (argv, env) in once.items():
                measured[name].append(_timed(argv, env))
    reference = "duckdb: parquet GROUP BY + Welch" if large else "pandas: read_csv + groupby + Welch"
    pandas_median = statistics.median(m["seconds"] for m in measured[reference])
    for name, runs in measured.items():
        seconds = statistics.median(m["seconds"] for m in runs)
        rows.append({"route": name, "outcome rows": outcome_rows, "runs": len(runs), "median s": round(seconds, 2),
                     "min s": round(min(m["seconds"] for m in runs), 2), "ratio to pandas": round(seconds / pandas_median, 2),
                     "peak MB": round(statistics.median(m["peak_mb"] for m in runs))})
    rows.append({"route": "mirror " + ("sync check before the runs (once)" if large else
                                       "rebuild (all fact tables, once)"),
                 "outcome rows": outcome_rows, "runs": 1,
                 "median s": round(rebuild["seconds"], 2), "min s": round(rebuild["seconds"], 2),
                 "ratio to pandas": "-", "peak MB": round(rebuild["peak_mb"])})
    if with_imports:
        rows += _import_rows(db, folder, users, cli)
    rows.append(_agreement(db, cli, spark=not large))
    if large:
        for row in rows:
            row["ratio to duckdb parquet"] = row.pop("ratio to pandas")
    return rows


def _agreement(db: Path, cli: list[str], spark: bool = True) -> dict:
    """The largest relative difference between the default report and --engine duckdb / spark (JSON numbers), with
    the field it is in; and the largest outside p-values (a p-value of 1e-76 turns a 4e-12 difference in its effect
    into 1e-9: the steep normal tail, not the sums)."""
    reports = {}
    engines = (("default", [], None), ("duckdb", ["--engine", "duckdb"], None),
               ("spark", ["--engine", "spark"], {ENV_SPARK_MASTER: "local[2]"}))
    for name, extra, env in engines[:3 if spark else 2]:
        done = subprocess.run([*cli, "analyze", "bench", "--db", str(db), "--json", "--cuped", *extra], cwd=str(ROOT),
                              env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True)
        reports[name] = json.loads(done.stdout)["report"]
    parts = []
    for name in [n for n in reports if n != "default"]:
        differences = sorted(_differences(reports["default"], reports[name]), reverse=True) or [(0.0, "-")]
        beyond_p = [d for d in differences if not d[1].rsplit(".", 1)[-1].startswith("p_")] or [(0.0, "-")]
        parts.append(f"{name} {differences[0][0]:.1e} ({differences[0][1]}); outside p-values {beyond_p[0][0]:.1e}")
    return {"route": "largest relative difference to the default (--cuped --json)", "outcome rows": "-", "runs": 1,
            "median s": "; ".join(parts), "min s": "-", "ratio to pandas": "-", "peak MB": "-"}


def _differences(a: object, b: object, path: str = "") -> list[tuple[float, str]]:
    """(relative difference, JSON path) of every float that differs between two reports of the same shape."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and a != b:
        return [(abs(a - b) / max(abs(a), abs(b)), path.lstrip("."))]
    return []


def _import_rows(db: Path, folder: Path, users: int, cli: list[str]) -> list[dict]:
    """Import an extra metric for half of the users, analyse, undo it, analyse again (each step timed)."""
    import pandas as pd

    extra = folder / "visits.csv"
    half = users // 2
    pd.DataFrame({"experiment_key": "bench", "user_id": [f"u{i}" for i in range(half)], "metric": "visits",
                  "value": np.arange(half) % 7, "observed_at": "2026-11-20T00:00:00Z"}).to_csv(extra, index=False)
    steps = [("import outcomes", [*cli, "import", "outcomes", str(extra), "--db", str(db)]),
             ("analyze after import", [*cli, "analyze", "bench", "--db", str(db)])]
    rows = []
    for label, argv in steps:
        result = _timed(argv)
        rows.append({"route": f"{label} ({half:,} rows)", "outcome rows": "-", "runs": 1,
                     "median s": round(result["seconds"], 2), "min s": round(result["seconds"], 2),
                     "ratio to pandas": "-", "peak MB": round(result["peak_mb"])})
    batch = open_registry(db).execute("SELECT MAX(id) FROM import_batches").fetchone()[0]
    for label, argv in [("import undo", [*cli, "import", "undo", str(batch), "--yes", "--db", str(db)]),
                        ("analyze after undo", [*cli, "analyze", "bench", "--db", str(db)])]:
        result = _timed(argv)
        rows.append({"route": f"{label} ({half:,} rows)", "outcome rows": "-", "runs": 1,
                     "median s": round(result["seconds"], 2), "min s": round(result["seconds"], 2),
                     "ratio to pandas": "-", "peak MB": round(result["peak_mb"])})
    return rows
