"""How fast the front door answers: `--help` of every group and listing commands, as a user types them.

Each command runs as a new process (interpreter start included), best and median of several runs; the heavy
libraries (pandas, scipy, causalml, LightGBM, matplotlib) load only in the commands that use them.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = "CLI start-up: --help and listing commands"
NOTES = """Targets (issue 11): every `--help` under 0.3 s, listing commands under 0.5 s. A process that imports
nothing but Python itself is the floor, shown in the first row."""

COMMANDS = [
    ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
    ("winback --help", ["--help"]),
    ("winback experiment --help", ["experiment", "--help"]),
    ("winback analyze --help", ["analyze", "--help"]),
    ("winback churn train --help", ["churn", "train", "--help"]),
    ("winback uplift fit --help", ["uplift", "fit", "--help"]),
    ("winback allocate --help", ["allocate", "--help"]),
    ("winback experiment list", ["experiment", "list"]),
    ("winback treatment list", ["treatment", "list"]),
    ("winback import list", ["import", "list"]),
]


def _time(argv: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=str(Path(__file__).resolve().parents[1]))
        seconds.append(time.perf_counter() - started)
    return seconds


def run(scale: float) -> list[dict]:
    runs = max(3, int(10 * scale))
    winback = [sys.executable, "-m", "winback.cli"]  # this tree's code (the console script may point elsewhere)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "registry.db")
        subprocess.run([*winback, "treatment", "add", "coupon", "--kind", "coupon", "--unit-cost", "1", "--db", db],
                       check=True, capture_output=True, cwd=str(Path(__file__).resolve().parents[1]))
        for label, args in COMMANDS:
            argv = args if args[0] == sys.executable else [*winback, *args]
            if "list" in args:
                argv = [*argv, "--db", db]
            seconds = _time(argv, runs)
            target = 0.3 if "--help" in args else 0.5
            rows.append({"command": label, "runs": runs, "best s": min(seconds),
                         "median s": statistics.median(seconds),
                         "target s": target if args[0] != sys.executable else "-",
                         "met": ("yes" if statistics.median(seconds) < target else "NO")
                         if args[0] != sys.executable else "-"})
    return rows
