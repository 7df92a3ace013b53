"""What the hardening checks cost: audit-log appends and `audit verify`, the identity check, a model's SHA-256.

Full scale: 1,000,000 audit rows verified, 10,000,000 ids checked, a 100 MB model file hashed.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

TITLE = "Hardening checks: audit chain, identity rule, model file hash"
NOTES = """
Audit rows are appended inside one transaction (each append reads the chain head and writes one row);
`verify` recomputes every row's SHA-256 in Python. Ids are checked in one pass of Arrow's string kernels.
The model hash reads the file in 1 MiB chunks before anything is unpickled.
"""


def _timed(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def run(scale: float) -> list[dict]:
    from experiments.audit_log import verify_audit_log
    from experiments.db import audit, open_registry, transaction
    from experiments.identity import check_ids
    from experiments.model_files import file_sha256

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.db"
        database = open_registry(path)
        n = max(1000, int(1_000_000 * scale))

        def append() -> None:
            with transaction(database) as conn:
                for i in range(n):
                    audit(conn, "bench", "experiment", f"e{i % 50}", json.dumps({"i": i}), "bench")

        seconds = _timed(append)
        rows.append({"check": "audit append", "size": f"{n:,} rows", "seconds": seconds,
                     "per item": f"{seconds / n * 1e6:.1f} us/row"})
        check = None

        def verify() -> None:
            nonlocal check
            check = verify_audit_log(database)

        seconds = _timed(verify)
        if check is None or not check.ok:
            raise RuntimeError(f"audit verify failed on the benchmark's own registry: {check}")
        rows.append({"check": "audit verify", "size": f"{check.rows:,} rows", "seconds": seconds,
                     "per item": f"{seconds / check.rows * 1e6:.1f} us/row"})
        database.conn.close()

        m = max(10_000, int(10_000_000 * scale))
        ids = np.array([f"u{i:09d}" for i in range(m)], dtype=object)
        seconds = _timed(lambda: check_ids(ids, "bench", "user_id"))
        rows.append({"check": "identity rule", "size": f"{m:,} ids", "seconds": seconds,
                     "per item": f"{seconds / m * 1e9:.0f} ns/id"})

        size = max(1 << 20, int(100 * (1 << 20) * scale))
        model = Path(folder) / "model.joblib"
        model.write_bytes(np.random.default_rng(0).bytes(size))
        seconds = _timed(lambda: file_sha256(model))
        rows.append({"check": "model SHA-256", "size": f"{size / (1 << 20):.0f} MiB", "seconds": seconds,
                     "per item": f"{size / (1 << 20) / seconds:.0f} MiB/s"})
    return rows
