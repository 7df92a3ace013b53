"""`winback analyze` at the issue's large size: 10M users x 5 outcome rows (50M) at scale 1, interleaved rounds.

The routes the large-size targets name (bench_analysis.py's notes apply): `winback analyze`, `--engine duckdb`, DuckDB
computing the same sufficient statistics from one Parquet file, and the snapshot refresh, taking turns for ROUNDS
rounds on a mirror brought up to date first (its first build at this size is a one-off, paid at import).
"""
from __future__ import annotations

from bench.bench_analysis import NOTES as ANALYSIS_NOTES
from bench.bench_analysis import measure

TITLE = "Experiment analysis at the large size (10M users x 5 outcome rows at scale 1), interleaved rounds"
FULL_USERS = 10_000_000
ROUNDS = 3
NOTES = ("Built like the 4M table (one registry by SQL, cached under bench/.cache/); the routes take turns for "
         f"{ROUNDS} rounds and the table shows medians. The issue's targets at 50M rows: within 2x of "
         "`duckdb: parquet` (the ratio column), a snapshot refresh in at most 15 s.\n" + ANALYSIS_NOTES)


def run(scale: float) -> list[dict]:
    return measure(max(2_000, int(FULL_USERS * scale)), ROUNDS, with_imports=False, large=True)
