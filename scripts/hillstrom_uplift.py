"""Held-out Qini/AUUC of every uplift learner on the Hillstrom e-mail experiment, over several seeds.

    .venv/bin/python scripts/hillstrom_uplift.py            # writes docs/uplift_hillstrom.json
    # and the held-out predictions to /tmp/hillstrom_predictions.parquet, which
    # scripts/hillstrom_sklift.py scores with scikit-uplift (in a throwaway venv) for REFERENCES.md's metric.

Mens and Womens E-Mail against No E-Mail, outcomes visit and conversion; 70/30 split stratified on
arm × outcome; LightGBM base models (200 trees) for S/T/X/DR and causalml's KL uplift forest (50 trees).
The known assignment probabilities (one third per arm) are passed to the learners.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from uplift.fitting import fit_uplift

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "data" / "hillstrom.csv"
OUT = ROOT / "docs" / "uplift_hillstrom.json"
PREDICTIONS = Path("/tmp/hillstrom_predictions.parquet")
SEEDS = (0, 1, 2, 3, 4)
LEARNERS = ("s", "t", "x", "dr", "forest")
WEIGHTS = {"No E-Mail": 1 / 3, "Mens E-Mail": 1 / 3, "Womens E-Mail": 1 / 3}


def main() -> None:
    data = pd.read_csv(DATA)
    rows, held = [], []
    for outcome in ("visit", "conversion"):
        for seed in SEEDS:
            started = time.perf_counter()
            fit = fit_uplift(data, treatment_col="segment", outcome_col=outcome, control="No E-Mail",
                             exclude=[c for c in ("visit", "conversion", "spend") if c != outcome],
                             learner="auto", candidates=LEARNERS, arm_weights=WEIGHTS, seed=seed,
                             n_estimators=200, refit=False, progress=False)
            for report in fit.reports:
                for score in report.scores:
                    rows.append({"outcome": outcome, "seed": seed, "learner": report.learner,
                                 "chosen": report.learner == fit.learner, **score.to_dict()})
            for learner, predicted in fit.holdout_predictions.items():
                part = pd.concat([fit.holdout[["arm", "outcome"]], predicted.add_prefix("uplift_")], axis=1)
                held.append(part.assign(target=outcome, seed=seed, learner=learner))
            print(f"{outcome} seed {seed}: chosen {fit.learner} ({time.perf_counter() - started:.0f} s)", flush=True)
    OUT.write_text(json.dumps(rows, indent=1))
    pd.concat(held, ignore_index=True).to_parquet(PREDICTIONS)
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["outcome", "treatment", "learner"])[["qini", "auuc"]].agg(["mean", "std"]).round(4)
    print(summary.to_string())


if __name__ == "__main__":
    main()
