"""The targeting proof over every simulated world, written into docs/uplift_proof.json (tables in docs/uplift.md).

    .venv/bin/python scripts/uplift_proof.py [--quick]

Worlds: the demo shop (seeds 7-11), the harmful-treatment world and the interaction world (seeds 0-1).
Each: fit on a randomized experiment of 70 % of the users, plan the budget for the other 30 %, judge
on the true effects (simulator/targeting_proof.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from simulator.targeting_proof import prove_world
from simulator.worlds import demo_world, harmful_world, interaction_world


def main() -> None:
    """Run every world and print one line each; write the JSON beside the docs."""
    quick = "--quick" in sys.argv
    docs = Path(__file__).resolve().parents[1] / "docs"
    out_path = docs / ("uplift_proof_quick.json" if quick else "uplift_proof.json")
    results = json.loads(out_path.read_text()) if out_path.exists() and "--resume" in sys.argv else []
    done = {(r["world"], r["seed"]) for r in results}
    worlds = [(lambda s=s: demo_world(30_000 if quick else 60_000, seed=s), s) for s in (7, 8, 9, 10, 11)]
    worlds += [(lambda s=s: harmful_world(20_000 if quick else 50_000, seed=s), s) for s in (0, 1)]
    worlds += [(lambda s=s: interaction_world(20_000 if quick else 50_000, seed=s), s) for s in (0, 1)]
    for make, seed in worlds:
        world = make()
        if (world.name, seed) in done:
            continue
        proof = prove_world(world, seed=seed)
        results.append(proof.to_dict())
        print(f"{world.name:<16} seed {seed}: {proof.learner:<8} share of oracle {proof.share_of_oracle:.3f}, "
              f"over {proof.best_blanket} {proof.gain_over_blanket:+.1%}, predicted {proof.predicted:.0f} "
              f"[{proof.ci_low:.0f}, {proof.ci_high:.0f}] vs realized {proof.realized:.0f} "
              f"({proof.forecast_error:+.1%}), passed {proof.passed}", flush=True)
        out_path.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
