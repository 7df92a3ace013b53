"""Run every benchmark in bench/ (modules named bench_*.py), print their tables and write docs/benchmarks.md.

Each benchmark module exposes `TITLE: str` and `run(scale: float) -> list[dict]`; each dict is one
row of its table (same keys in every row). `scale` 1.0 is the issue's full size; smaller values
give a quick smoke run (`make bench SCALE=0.01`).
"""
from __future__ import annotations

import argparse
import importlib
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
DOC = BENCH_DIR.parent / "docs" / "benchmarks.md"
SECTIONS = BENCH_DIR.parent / "docs" / "benchmarks"  # one file per benchmark, assembled into DOC


def _markdown(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes")
    parser.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    args = parser.parse_args()
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n == f"bench_{args.only}"]
    SECTIONS.mkdir(parents=True, exist_ok=True)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        rows = module.run(args.scale)
        elapsed = time.perf_counter() - started
        table = _markdown(rows)
        print(f"\n## {module.TITLE}  ({elapsed:.1f} s)\n{table}", flush=True)
        section = [
            f"## {module.TITLE}",
            "",
            f"`python -m bench.run --only {name[6:]} --scale {args.scale}`: "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"Python {platform.python_version()}, {_cpu_count()} cores, {elapsed:.0f} s in all.",
            "",
            table,
            "",
        ]
        notes = getattr(module, "NOTES", "")
        if notes:
            section += [notes.strip(), ""]
        (SECTIONS / f"{name[6:]}.md").write_text("\n".join(section))
    parts = ["# Benchmarks", "", "Written by `make bench` (`python -m bench.run`); each section says when and how it ran.", ""]
    parts += [p.read_text() for p in sorted(SECTIONS.glob("*.md"))]
    DOC.write_text("\n".join(parts))
    print(f"\nwrote {DOC}")


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
