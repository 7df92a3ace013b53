"""`winback churn features --out f.csv` against DuckDB writing the same features to CSV itself (issue 24).

The demo shop's events for the users below are loaded once into a DuckDB warehouse (not timed). Each route runs in
a fresh process; `cpu s` is its user + system CPU time (all threads, imports included), steadier than wall time on
a shared machine, and the ratio is against raw DuckDB's CPU. Routes take turns over the rounds; medians shown.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

TITLE = "Churn features to CSV: winback churn features vs raw DuckDB COPY of the same SQL"
FULL_USERS = 100_000
ROUNDS = 3
AS_OF = "2026-06-30"
ROOT = Path(__file__).resolve().parents[1]
NOTES = """Raw DuckDB is `COPY (<the feature SQL>) TO 'f.csv'` on the same warehouse file (DuckDB's own number
formatting); `winback churn features --out f.csv` writes the bytes the pandas route wrote before (six decimals per
float), now with DuckDB's COPY too (churn/feature_csv.py); `pandas to_csv` is that former route
(`history_features(...).to_csv(float_format="%.6f")`), and `--out f.parquet` the Parquet path, for reference."""

RAW = """
import sys, duckdb
from churn.features import features_query
from warehouse.engine import Warehouse
wh = Warehouse(sys.argv[1])
sql, params = features_query(wh, sys.argv[2])
wh.execute(f"COPY ({sql}) TO '{sys.argv[3]}' (HEADER)", params)
"""
PANDAS = """
import sys
from churn.pipeline import history_features
from warehouse.engine import Warehouse
history_features(Warehouse(sys.argv[1]), sys.argv[2]).reset_index().to_csv(sys.argv[3], index=False, float_format="%.6f")
"""
WRAP = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); s = time.perf_counter() - t; "
        "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(json.dumps({'rc': p.returncode, 'err': p.stderr[-300:], 'seconds': s, "
        "'cpu': r.ru_utime + r.ru_stime, 'peak_mb': r.ru_maxrss / 1024}))")


def _timed(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", WRAP, *argv], cwd=str(ROOT), capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"]:
        raise RuntimeError(f"{argv[:4]} failed: {result['err']}")
    return result


def run(scale: float) -> list[dict]:
    from bench.bench_warehouse import _write_parquet
    from churn.ingest import load_events
    from warehouse.engine import Warehouse

    users = max(2_000, int(FULL_USERS * scale))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        events = _write_parquet(root / "events", users)
        warehouse = root / "warehouse.duckdb"
        wh = Warehouse(warehouse)
        for i, path in enumerate(sorted((root / "events").glob("*.parquet"))):
            load_events(path, wh, mode="replace" if i == 0 else "append")
        wh.close()
        cli = [sys.executable, "-m", "winback.cli", "churn", "features", "--as-of", AS_OF, "--warehouse", str(warehouse),
               "--db", str(root / "registry.db")]
        routes = {
            "raw DuckDB COPY to CSV": [sys.executable, "-c", RAW, str(warehouse), AS_OF, str(root / "raw.csv")],
            "winback churn features --out f.csv": [*cli, "--out", str(root / "cli.csv")],
            "pandas to_csv (the former route)": [sys.executable, "-c", PANDAS, str(warehouse), AS_OF,
                                                 str(root / "pandas.csv")],
            "winback churn features --out f.parquet": [*cli, "--out", str(root / "cli.parquet")],
        }
        measured: dict[str, list[dict]] = {name: [] for name in routes}
        for round_ in tqdm(range(ROUNDS), desc="bench feature csv", unit="round"):
            names = list(routes)[round_ % len(routes):] + list(routes)[:round_ % len(routes)]
            for name in names:
                measured[name].append(_timed(routes[name]))
        same = (root / "cli.csv").read_bytes() == (root / "pandas.csv").read_bytes()
    raw_cpu = statistics.median(m["cpu"] for m in measured["raw DuckDB COPY to CSV"])
    return [{"route": name, "users": users, "events": events, "runs": len(runs),
             "cpu s": round(statistics.median(m["cpu"] for m in runs), 2),
             "wall s": round(statistics.median(m["seconds"] for m in runs), 2),
             "cpu / raw DuckDB": round(statistics.median(m["cpu"] for m in runs) / raw_cpu, 2),
             "peak MB": round(statistics.median(m["peak_mb"] for m in runs)),
             "same bytes as pandas": same if "csv" in name and "winback" in name else "-"}
            for name, runs in measured.items()]
