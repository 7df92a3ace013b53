"""The uplift proof on the demo shop over five seeds, and the budget-frontier chart, written into docs/.

    .venv/bin/python scripts/uplift_proof.py
"""
from __future__ import annotations

from simulator.proof import demo_frontier, demo_holdout, prove


def main() -> None:
    """python scripts/uplift_proof.py: the proof over five seeds (auto learner) and the frontier chart, into docs/."""
    import json
    from pathlib import Path

    from uplift.frontier import plot_frontier

    docs = Path(__file__).resolve().parents[1] / "docs"
    proofs, first = [], None
    for seed in (7, 8, 9, 10, 11):
        demo = demo_holdout(60_000, seed=seed, learner="auto")
        first = first or demo
        proof = prove(demo, seed=seed)
        proofs.append({"seed": seed, **proof.to_dict()})
        print(f"seed {seed}: learner {proof.learner}, share of oracle {proof.share_of_oracle:.3f}, gain over "
              f"{proof.best_blanket} {proof.gain_over_best_blanket:+.1%}, covered {proof.covered}", flush=True)
    (docs / "uplift_demo.json").write_text(json.dumps(proofs, indent=1, default=float))
    frontier = demo_frontier(first)
    frontier.to_csv(docs / "uplift_frontier.csv", index=False)
    plot_frontier(frontier, docs / "uplift_frontier.png", title="Demo shop: held-out users, true effects")
    print(frontier.to_string())




if __name__ == "__main__":
    main()
