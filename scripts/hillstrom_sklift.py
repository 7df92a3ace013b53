"""Score the held-out Hillstrom predictions with scikit-uplift, the metric REFERENCES.md's baselines use.

scikit-uplift is not a Winback dependency (its pins do not suit the project's environment), so this
runs in a throwaway venv on the predictions written by scripts/hillstrom_uplift.py:

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-uplift==0.5.1 pandas pyarrow
    .venv/bin/python scripts/hillstrom_uplift.py
    /tmp/skvenv/bin/python scripts/hillstrom_sklift.py      # writes docs/uplift_hillstrom_sklift.json
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

ROOT = Path(__file__).resolve().parents[1]
PREDICTIONS = Path("/tmp/hillstrom_predictions.parquet")
OUT = ROOT / "docs" / "uplift_hillstrom_sklift.json"
CONTROL = "No E-Mail"


def main() -> None:
    held = pd.read_parquet(PREDICTIONS)
    rows = []
    for (target, seed, learner), part in held.groupby(["target", "seed", "learner"]):
        for column in [c for c in part.columns if c.startswith("uplift_")]:
            treatment = column[len("uplift_"):]
            pair = part[part["arm"].isin([treatment, CONTROL]) & part[column].notna()]
            y, w, u = pair["outcome"].to_numpy(), (pair["arm"] == treatment).to_numpy().astype(int), pair[column].to_numpy()
            rows.append({"outcome": target, "seed": int(seed), "learner": learner, "treatment": treatment,
                         "qini_auc": float(qini_auc_score(y, u, w)), "uplift_auc": float(uplift_auc_score(y, u, w)),
                         "uplift_at_30": float(uplift_at_k(y, u, w, strategy="overall", k=0.3))})
    OUT.write_text(json.dumps(rows, indent=1))
    frame = pd.DataFrame(rows)
    print(frame.groupby(["outcome", "treatment", "learner"])[["qini_auc", "uplift_auc"]].agg(["mean", "std"]).round(4))


if __name__ == "__main__":
    main()
