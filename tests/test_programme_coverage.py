"""scripts/programme_coverage.py: per-seed rows, the summary counts, the table, and the committed figures."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("programme_coverage_script", ROOT / "scripts" / "programme_coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_summary_and_table_of_a_small_run() -> None:
    script = _script()
    rows = [row for seed in (1, 2) for row in script.one_seed(seed, n_users=3000, weeks=4)]
    assert len(rows) == 2 * 2 * 2  # seeds x scenarios x tiers
    assert all(r["true_reduction"] == 0.0 for r in rows if r["scenario"] == "null")
    assert all(r["true_reduction"] > 0.0 for r in rows if r["scenario"] == "effect")
    summary = script.summarize(rows)
    assert [(s["scenario"], s["tier"], s["seeds"]) for s in summary] == [
        ("effect", "high_value", 2), ("effect", "regular", 2), ("null", "high_value", 2), ("null", "regular", 2)]
    covered = sum(r["covered"] for r in rows if r["scenario"] == "effect" and r["tier"] == "regular")
    assert summary[1]["covered"] == covered
    assert script.table(summary).count("\n") == 5  # header, rule, four rows


def test_the_committed_figures_meet_the_issue_bar() -> None:
    # docs/programme_coverage.json from `scripts/programme_coverage.py` (seeds 1-20, 50,000 users, 12 weeks):
    # issue 22 asks for coverage in at least 18 of 20 and a null programme flagged in at most 2 of 20.
    summary = json.loads((ROOT / "docs" / "programme_coverage.json").read_text())["summary"]
    for s in summary:
        assert s["seeds"] == 20 and s["covered"] >= 18, s
        if s["scenario"] == "null":
            assert s["significant_reduction"] <= 2, s
