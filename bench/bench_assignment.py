"""Assignment throughput: `experiments.assignment.assign` on 10M ids against the GrowthBook SDK's per-user calls."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from growthbook import Experiment, GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges
from tqdm import tqdm

from experiments.assignment import assign, choose_arm, hash_ids

TITLE = "Assignment throughput (GrowthBook-compatible hashing)"
FULL_SIZE = 10_000_000
SDK_SAMPLE = 200_000
SDK_RUN_SAMPLE = 20_000
NUMPY_ENGINE_SIZE = 2_000_000  # the pure-numpy engine needs a column-major copy: timed on at most this many ids
SEED = "winback-bench"
WEIGHT_SETS = [([0.5, 0.5], 1.0), ([0.2, 0.3, 0.5], 0.9), ([0.1] * 10, 1.0)]

NOTES = f"""
- `M ids/s` is from the wall time of one `assign(...)` call (ids in, arm indices out) on one core: the numba kernel is
  single-threaded and numpy runs single-threaded here. JIT compilation is excluded (a warm-up call runs
  first; numba caches the compiled kernel on disk, so a new process pays about 0.3 s once).
- `input` says what the ids were handed over as. **`list[str]` includes the conversion from Python
  strings** (pyarrow builds UTF-8 bytes + offsets in one C++ pass; a list holding lone surrogates takes
  a `"".join` + UTF-32 path instead); `numpy U array` and `pandas str (Arrow)` start from an already
  built array (its buffer is read in place, no copy). Building those arrays is not timed.
- `engine numpy` is the pure-numpy implementation (one vectorized pass per character column, masked by
  length), timed on the first {NUMPY_ENGINE_SIZE:,} ids to spare memory; it gives identical hashes and
  was measured to choose the default engine (numba, several times faster).
- Timings are best of three on a 2-core machine shared with other jobs, so expect ±30% noise.
- SDK columns: the GrowthBook Python SDK (`growthbook` 4.0) called once per user, timed on the first
  {SDK_SAMPLE:,} ids (or all ids below that) and extrapolated linearly to the full set. `SDK core` is
  `chooseVariation(gbhash(seed, id, v), ranges)` with `getBucketRanges` computed once; `SDK run` is
  the full `GrowthBook(attributes={{"id": id}}).run(Experiment(...))`, timed on {SDK_RUN_SAMPLE:,} ids.
  `diffs` counts users placed differently from the SDK core on that sample (must be 0).
- Ids: `numeric` are customer numbers 1..10^8 as strings, `uuid` are random UUID4-style strings (36 chars).
"""


def _numeric_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """Customer numbers 1..10^8 as decimal strings (numpy 'U8' array)."""
    return rng.integers(1, 10**8, n).astype("U8")


def _uuid_ids(n: int, rng: np.random.Generator, chunk: int = 1_000_000) -> np.ndarray:
    """Random lowercase UUID-shaped strings built directly as a numpy 'U36' array (in chunks, to bound memory)."""
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).astype(np.uint32)
    columns = [c for c in range(36) if c not in (8, 13, 18, 23)]
    codes = np.full((n, 36), ord("-"), dtype=np.uint32)
    for first in range(0, n, chunk):
        nibbles = rng.integers(0, 16, (min(chunk, n - first), 32), dtype=np.uint8)
        codes[first : first + len(nibbles), columns] = hex_digits[nibbles]
    return codes.view("<U36").reshape(n)


def _best_of(repeats: int, call) -> float:
    """Shortest wall time of `repeats` calls."""
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def _sdk_core(ids: list[str], version: int, weights: list[float], coverage: float) -> tuple[float, np.ndarray]:
    """Seconds per user and arms of the SDK's own per-user functions."""
    ranges = getBucketRanges(len(weights), coverage, weights)
    started = time.perf_counter()
    arms = [chooseVariation(gbhash(SEED, user_id, version), ranges) for user_id in ids]
    return (time.perf_counter() - started) / len(ids), np.array(arms)


def _sdk_run(ids: list[str], version: int, weights: list[float], coverage: float) -> float:
    """Seconds per user of the SDK's full `GrowthBook.run` (a GrowthBook context per user, as in an app)."""
    experiment = Experiment(key=SEED, variations=list(range(len(weights))), weights=weights,
                            coverage=coverage, hashVersion=version)
    started = time.perf_counter()
    for user_id in ids:
        GrowthBook(attributes={"id": user_id}).run(experiment)
    return (time.perf_counter() - started) / len(ids)


def run(scale: float) -> list[dict]:
    """One row per id kind x hash version x weights x input form x engine."""
    n = max(1000, int(FULL_SIZE * scale))
    rng = np.random.default_rng(20261125)
    assign(["warm", "ü😀"], seed=SEED, weights=[0.5, 0.5])  # JIT compile / load outside the timings
    assign(pd.Series(["warm", "up"]), seed=SEED, weights=[0.5, 0.5])
    assign(np.array(["warm", "up"]), seed=SEED, weights=[0.5, 0.5])
    rows = []
    plan = [(kind, v) for kind in ("numeric", "uuid") for v in (2, 1)]
    for kind, version in tqdm(plan, desc="assignment bench", unit="config"):
        array = (_numeric_ids if kind == "numeric" else _uuid_ids)(n, rng)
        sample = array[:SDK_SAMPLE].tolist()
        sdk = {}
        for weights, coverage in WEIGHT_SETS if version == 2 else WEIGHT_SETS[:1]:
            sdk_seconds, sdk_arms = _sdk_core(sample, version, weights, coverage)
            run_seconds = _sdk_run(sample[:SDK_RUN_SAMPLE], version, weights, coverage)
            diffs = int((assign(sample, seed=SEED, weights=weights, coverage=coverage, hash_version=version)
                         != sdk_arms).sum())
            sdk[len(weights)] = (sdk_seconds, run_seconds, diffs)
            seconds = _best_of(3, lambda: assign(array, seed=SEED, weights=weights, coverage=coverage,
                                                 hash_version=version))
            rows.append(_row(kind, version, weights, coverage, "numpy U array", "numba", n, seconds,
                             *sdk[len(weights)]))
        weights, ranges = [0.5, 0.5], [(0.0, 0.5), (0.5, 1.0)]
        # One input form in memory at a time (10M uuids are 1.4 GB as 'U36', ~1 GB as Python strings).
        forms = [("list[str]", array.tolist), ("pandas str (Arrow)", lambda: pd.Series(array, dtype="str"))]
        for label, build in forms:
            ids = build()
            seconds = _best_of(3, lambda: assign(ids, seed=SEED, weights=weights, hash_version=version))
            rows.append(_row(kind, version, weights, 1.0, label, "numba", n, seconds, *sdk[2]))
            del ids
        subset = array[:NUMPY_ENGINE_SIZE]
        seconds = _best_of(1, lambda: choose_arm(hash_ids(SEED, subset, version, engine="numpy"), ranges))
        rows.append(_row(kind, version, weights, 1.0, "numpy U array", "numpy", subset.size, seconds, *sdk[2]))
        del array, subset
    return rows


def _row(kind, version, weights, coverage, label, engine, n, seconds, sdk_seconds, run_seconds, diffs) -> dict:
    """One table row; rates in ids per second, SDK times extrapolated from its sample."""
    rate = n / seconds
    return {
        "ids": f"{n:,} {kind}",
        "hash": f"v{version}",
        "weights": f"{len(weights)} arms" + (f", coverage {coverage}" if coverage != 1.0 else ""),
        "input": label,
        "engine": engine,
        "seconds": round(seconds, 3),
        "M ids/s": round(rate / 1e6, 2),
        "SDK core ids/s": round(1 / sdk_seconds),
        "SDK core s (extrapolated)": round(n * sdk_seconds, 1),
        "x SDK core": round(rate * sdk_seconds),
        "SDK run ids/s": round(1 / run_seconds),
        "x SDK run": round(rate * run_seconds),
        "diffs": diffs,
    }
