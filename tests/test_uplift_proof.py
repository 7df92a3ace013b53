"""Issue 5's done-criteria on the demo shop, whose true effects are known (simulator/experiment.py)."""
from __future__ import annotations

import pytest

from simulator.proof import demo_holdout, prove


@pytest.mark.slow
def test_targeted_allocation_nears_oracle_beats_blankets_and_is_proven_off_policy():
    # ~36,000 flagged users (p_churn >= 0.5 of 60,000), 5 equal arms, 30% held out; S-learner, 100 trees.
    demo = demo_holdout(60_000, seed=8, learner="s", n_estimators=100)
    proof = prove(demo, budget_per_user=5.0, seed=8)
    assert 20_000 <= proof.n_flagged <= 40_000
    # Issue 5: >= 80% of the oracle's incremental retained users (same budget, true effects) ...
    assert proof.share_of_oracle >= 0.80
    # ... and >= 30% more than the best blanket single treatment.
    assert proof.gain_over_best_blanket >= 0.30
    # The IPW and DR intervals cover the policy's true value (mean true uplift of what it assigned).
    assert {e.estimator for e in proof.estimates} == {"ipw", "dr"}
    assert proof.covered
    policies = proof.policies.set_index("policy")
    assert (policies["cost"] <= proof.budget + 1e-6).all()
