"""Web UI latency: the experiment list, results and finance pages of a 1M-user experiment, 20 concurrent clients."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import numpy as np

from experiments.db import open_registry, registry, transaction
from experiments.snapshots import take_snapshot
from experiments.users import add_user
from webui.config import resolve_secret_key

TITLE = "Web UI latency: overview, list, results and finance pages of a 1M-user experiment, 20 concurrent clients"
FULL_USERS = 1_000_000
CLIENTS = 20
SECONDS_PER_PAGE = 20.0  # each page is loaded by all clients for this long (bounded in time)
ARMS = (("control", None, 0.5), ("coupon", "coupon_10", 0.25), ("reco", "reco_email", 0.25))
NOW = "2026-11-25T00:00:00.000000Z"
CHUNK = 250_000
PASSWORD = "bench password 1"

NOTES = """
- One stopped experiment with 3 arms (0.5 / 0.25 / 0.25), a binary `retained` primary metric and an
  `unsubscribed` guardrail: 1M assignments, 2M outcome rows and 500k deliveries at scale 1, plus a 1M-user
  cohort. The registry is written with numpy + `executemany` (not timed); the analysis snapshot the pages
  read is made once with `experiments.snapshots.take_snapshot` (timed: `refresh s`, which includes the health
  checks and the cumulative effect by day).
- The server is `winback serve` (waitress, 8 threads) in its own process on 127.0.0.1; the clients are
  20 threads of this process, each logged in with its own session, loading one page back to back for
  20 s (bounded in time). Latency is per request, from sending it to reading the whole body.
- The Overview reads the cohort summaries stored with each cohort version (experiments/cohort_store.py); the
  cohort here is written by SQL, so the warm-up request computes and stores them once.
- Pages read the stored snapshot and never re-aggregate outcomes (the list reads the newest snapshot of
  every experiment, `experiments/listing.py`), so their cost does not grow with the number of users.
- The machine is shared (2 cores, other jobs running), so the figures are an upper bound.
"""


def _build(path: Path, users: int) -> None:
    """Catalog, a stopped 3-arm experiment with assignments, deliveries and outcomes, and the cohort, by SQL."""
    rng = np.random.default_rng(13)
    database = open_registry(path)
    conn = database.conn
    conn.execute("PRAGMA synchronous = OFF")
    ids = np.char.add("u", np.arange(users).astype(str)).astype(object)
    arm_index = rng.choice(3, size=users, p=[a[2] for a in ARMS])
    arm = np.array([a[0] for a in ARMS], dtype=object)[arm_index]
    with transaction(database):
        conn.executemany("INSERT INTO treatments (key, name, kind, unit_cost, created_at) VALUES (?, ?, 'coupon', ?, ?)",
                         [("coupon_10", "10% coupon", 8.0, NOW), ("reco_email", "Recommendations", 0.5, NOW)])
        conn.executemany("INSERT INTO metrics (key, kind, higher_is_better) VALUES (?, 'binary', ?)",
                         [("retained", 1), ("unsubscribed", 0)])
        conn.execute("INSERT INTO experiments (key, name, owner, target_cohort, primary_metric, guardrail_metrics, "
                     "layer, value_per_retained, status, created_at, started_at) VALUES ('bench', 'Bench 1M', "
                     "'growth', 'bench-cohort', 'retained', '[\"unsubscribed\"]', 'retention', 40, 'draft', ?, ?)",
                     (NOW, NOW))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
                         "VALUES ('bench', ?, ?, ?, ?, ?)",
                         [(a, i, t, w, int(i == 0)) for i, (a, t, w) in enumerate(ARMS)])
        conn.execute("UPDATE experiments SET status = 'stopped', stopped_at = ? WHERE key = 'bench'", (NOW,))
        stages = np.array(["new", "active", "lapsing", "at_risk"], dtype=object)[rng.integers(0, 4, users)]
        tiers = np.array(["regular", "high"], dtype=object)[(rng.random(users) < 0.2).astype(int)]
        reasons = np.array(["price", "service", "assortment"], dtype=object)[rng.integers(0, 3, users)]
        risk = rng.uniform(0.2, 0.95, users)
        retained = rng.random(users) < np.array([0.30, 0.34, 0.32])[arm_index]
        unsubscribed = rng.random(users) < np.array([0.02, 0.025, 0.02])[arm_index]
        treated = np.flatnonzero(arm_index > 0)
        for start in range(0, users, CHUNK):
            part = slice(start, start + CHUNK)
            conn.executemany("INSERT INTO cohorts (cohort_key, user_id, risk, stage, tier, reason) "
                             "VALUES ('bench-cohort', ?, ?, ?, ?, ?)",
                             zip(ids[part], risk[part].tolist(), stages[part], tiers[part], reasons[part]))
            conn.executemany("INSERT INTO assignments VALUES ('bench', ?, ?, ?)",
                             ((u, a, NOW) for u, a in zip(ids[part], arm[part])))
            for metric, values in (("retained", retained), ("unsubscribed", unsubscribed)):
                conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                                 "VALUES ('bench', ?, ?, 'post', ?, '2026-11-26T00:00:00Z')",
                                 ((u, metric, float(v)) for u, v in zip(ids[part], values[part])))
        conn.executemany("INSERT INTO deliveries (experiment_key, user_id, treatment_key, sent_at, cost) "
                         "VALUES ('bench', ?, ?, ?, ?)",
                         ((ids[i], ARMS[arm_index[i]][1], NOW, 8.0 if arm_index[i] == 1 else 0.5) for i in treated))
    conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(base: str) -> urllib.request.OpenerDirector:
    """An HTTP client with its own cookie jar, logged in."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base}/login", data=body).read()
    return opener


def _load(openers: list, url: str, seconds: float) -> dict:
    """Every client loads `url` back to back for `seconds`; latencies of all requests, and errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(opener) -> None:
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                with opener.open(url, timeout=60) as response:
                    response.read()
                    ok = response.status == 200
            except OSError:
                ok = False
            mine.append(time.perf_counter() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(o,)) for o in openers]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "errors": errors[0], "req/s": len(ms) / elapsed,
            "p50 ms": float(np.percentile(ms, 50)), "p95 ms": float(np.percentile(ms, 95)),
            "max ms": float(ms.max())}


def run(scale: float = 1.0) -> list[dict]:
    users = max(int(FULL_USERS * scale), 3000)
    seconds = max(SECONDS_PER_PAGE * min(scale, 1.0), 3.0)
    workdir = Path(tempfile.mkdtemp(prefix="winback-bench-webui-"))
    db = workdir / "registry.db"
    _build(db, users)
    with registry(db) as database:
        add_user(database, "bench", PASSWORD, "admin", actor="bench")
        started = time.perf_counter()
        snapshot = take_snapshot(database, "bench", actor="bench")
        refresh = time.perf_counter() - started
    port = _free_port()
    resolve_secret_key(db, create=True)  # the session key `winback serve` reads beside the registry
    server = subprocess.Popen([sys.executable, "-m", "winback.cli", "serve", "--db", str(db), "--port", str(port),
                               "--threads", "8"], cwd=str(Path(__file__).resolve().parents[1]),  # this tree's code
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("winback serve did not start") from None
                time.sleep(0.3)
        openers = [_client(base) for _ in range(CLIENTS)]
        rows = []
        pages = {"overview": "/overview", "experiment list": "/experiments", "results": "/experiments/bench/results",
                 "finance": "/experiments/bench/finance", "results JSON (API)": "/api/v1/experiments/bench/results"}
        for name, path in pages.items():
            _load(openers[:2], base + path, 1.0)  # warm up
            figures = _load(openers, base + path, seconds)
            rows.append({"page": name, "assigned users": f"{users:,}", "clients": CLIENTS,
                         "seconds": round(seconds, 1), **figures, "p95 < 300 ms": figures["p95 ms"] < 300,
                         "refresh s": round(refresh, 2), "snapshot": snapshot.id})
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)  # the registry, its key and its fact mirror folder


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.01), indent=2))
