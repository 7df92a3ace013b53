"""The targeting proof on a real randomized experiment (Hillstrom's e-mails): fit on 70 %, judge on 30 %.

    .venv/bin/python scripts/hillstrom_targeting.py            # writes docs/uplift_hillstrom_targeting.json
    .venv/bin/python scripts/hillstrom_targeting.py --tables   # the table in docs/uplift.md

No true effects are known, so the 30 % of users the model never saw are the judge (`uplift.holdout_proof`):
the plan's incremental visits per held-out user (doubly robust, known propensities of one third), each
blanket e-mail sent to random users with the same budget, the paired gain over each, and the fit's own
forecast. An e-mail is taken to cost 0.10 (an assumption: the data set has no cost), and the budget mails
30 % of the users.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from uplift.holdout_proof import prove_on_holdout

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "hillstrom.csv"
OUT = ROOT / "docs" / "uplift_hillstrom_targeting.json"
SEEDS = (0, 1, 2, 3, 4)
WEIGHTS = {"No E-Mail": 1 / 3, "Mens E-Mail": 1 / 3, "Womens E-Mail": 1 / 3}
COSTS = {"Mens E-Mail": 0.10, "Womens E-Mail": 0.10}
MAILED_SHARE = 0.3


def table(results: list[dict]) -> str:
    """Markdown: per seed, the fit's forecast, the held-out value and the paired gain over each blanket."""
    def fmt(e: dict) -> str:
        return f"{e['value_per_user']:+.4f} [{e['ci_low']:+.4f}, {e['ci_high']:+.4f}]"

    lines = ["| seed | chosen | mailed | forecast per user (fit, out of fold) | held-out value per user | "
             "forecast − held out | blanket Mens | blanket Womens | gain over blanket Mens | gain over blanket Womens |",
             "|" + " --- |" * 10]
    for r in results:
        gains = {g["policy"].removeprefix("targeted - blanket "): g for g in r["gains"]}
        blankets = {b["policy"].removeprefix("blanket "): b for b in r["blankets"]}
        gap, low, high = r["forecast_gap"]
        lines.append(f"| {r['seed']} | {r['learner']} | {r['treated']:,} of {r['n_plan']:,} | {fmt(r['forecast'])} | "
                     f"{fmt(r['targeted'])} | {gap:+.4f} [{low:+.4f}, {high:+.4f}] | {fmt(blankets['Mens E-Mail'])} | "
                     f"{fmt(blankets['Womens E-Mail'])} | {fmt(gains['Mens E-Mail'])} | {fmt(gains['Womens E-Mail'])} |")
    return "\n".join(lines)


def main() -> None:
    if "--tables" in sys.argv:
        print(table(json.loads(OUT.read_text())))
        return
    data = pd.read_csv(DATA).drop(columns=["history_segment", "conversion", "spend"])
    results = []
    for seed in SEEDS:
        proof = prove_on_holdout(data, treatment_col="segment", outcome_col="visit", control="No E-Mail",
                                 costs=COSTS, budget_per_user=0.10 * MAILED_SHARE, arm_weights=WEIGHTS, seed=seed)
        results.append({"seed": seed, **proof.to_dict()})
        t, f = proof.targeted, proof.forecast
        print(f"seed {seed}: {proof.learner}, mails {proof.treated:,} of {proof.n_plan:,}; forecast {f.value_per_user:+.4f} "
              f"[{f.ci_low:+.4f}, {f.ci_high:+.4f}], held out {t.value_per_user:+.4f} [{t.ci_low:+.4f}, {t.ci_high:+.4f}]; "
              + "; ".join(f"{g.policy} {g.value_per_user:+.4f} [{g.ci_low:+.4f}, {g.ci_high:+.4f}]" for g in proof.gains),
              flush=True)
        OUT.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
