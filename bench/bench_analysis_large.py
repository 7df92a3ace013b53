"""`winback analyze` at the issue's large size: 10M users x 5 outcome rows (50M) at scale 1, one round.

The same routes as bench_analysis.py (its notes apply), plus the snapshot refresh and `--engine spark`, without
the import steps; every route runs once, so a busy machine shows more than in the 4M table.
"""
from __future__ import annotations

from bench.bench_analysis import NOTES as ANALYSIS_NOTES
from bench.bench_analysis import measure

TITLE = "Experiment analysis at the large size (10M users x 5 outcome rows at scale 1), one round"
FULL_USERS = 10_000_000
NOTES = ("Built like the 4M table (one registry by SQL, cached under bench/.cache/); every route once. The issue's "
         "target at 50M rows: within 2x of `duckdb: parquet`, a snapshot refresh in at most 15 s.\n" + ANALYSIS_NOTES)


def run(scale: float) -> list[dict]:
    return measure(max(2_000, int(FULL_USERS * scale)), 1, with_imports=False)
