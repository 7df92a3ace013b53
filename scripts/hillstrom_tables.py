"""Print the markdown tables of docs/uplift.md from the JSON written by the two Hillstrom scripts.

    .venv/bin/python scripts/hillstrom_tables.py
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = ["s", "t", "x", "dr", "forest"]


def _pm(frame: pd.DataFrame, column: str) -> pd.Series:
    grouped = frame.groupby(["outcome", "treatment", "learner"])[column]
    return grouped.mean().map("{:.4f}".format) + " ± " + grouped.std().map("{:.4f}".format)


def main() -> None:
    causal = pd.DataFrame(json.loads((DOCS / "uplift_hillstrom.json").read_text()))
    sklift_path = DOCS / "uplift_hillstrom_sklift.json"
    table = pd.DataFrame({"causalml qini": _pm(causal, "qini"), "causalml auuc": _pm(causal, "auuc")})
    if sklift_path.exists():
        sk = pd.DataFrame(json.loads(sklift_path.read_text()))
        table["sklift qini_auc"] = _pm(sk, "qini_auc")
        table["sklift uplift@30%"] = _pm(sk, "uplift_at_30")
    chosen = causal[causal["chosen"]].groupby(["outcome", "treatment"])["learner"].agg(lambda s: ", ".join(s))
    table = table.reset_index()
    table["learner"] = pd.Categorical(table["learner"], ORDER, ordered=True)
    table = table.sort_values(["outcome", "treatment", "learner"])
    print("| outcome | treatment | learner | " + " | ".join(table.columns[3:]) + " |")
    print("|" + " --- |" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")
    print()
    print("auto choice per seed (seeds 0-4):")
    for (outcome, treatment), learners in chosen.items():
        print(f"- {outcome}, {treatment}: {learners}")


if __name__ == "__main__":
    main()
