"""The guardrail rule of the analysis (the stricter of the relative and the absolute read), checked by simulation."""
from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.frame_analysis import analyze_frame

N_PER_ARM = 2000


def _fail_rate(p_control: float, p_treatment: float, reps: int, seed: int) -> float:
    """Share of simulated experiments whose unsubscribe guardrail (lower is better, base rate ~1 %) fails."""
    rng = np.random.default_rng(seed)
    arm = np.repeat(["control", "treatment"], N_PER_ARM)
    p = np.where(arm == "control", p_control, p_treatment)
    fails = 0
    for _ in range(reps):
        frame = pd.DataFrame({"user_id": np.arange(arm.size), "arm": arm, "retained": (rng.random(arm.size) < 0.3).astype(int),
                              "unsubscribed": (rng.random(arm.size) < p).astype(int)})
        report = analyze_frame(frame, metrics={"retained": "binary", "unsubscribed": "binary"},
                               guardrails=["unsubscribed"], lower_is_better=["unsubscribed"])
        fails += next(r for r in report.results if r.metric == "unsubscribed").guardrail == "fail"
    return fails / reps


def test_a_rare_guardrail_fails_at_the_nominal_rate_in_aa_and_catches_a_tripling():
    # A 95 % interval wholly on the bad side happens in 2.5 % of A/A experiments (one tail). Taking the stricter
    # of two reads could inflate that; 4,000 A/A runs at 1 % / 2,000 users an arm (scripts/guardrail_simulation.py):
    # relative read 0.0 % (the delta method's interval is too wide at this rate), absolute 2.3 %, stricter 2.3 %.
    assert _fail_rate(0.01, 0.01, reps=250, seed=11) <= 0.05
    # Unsubscribes tripling (1 % → 3 %, as reco_email does in the demo shop) fail in nearly every experiment.
    assert _fail_rate(0.01, 0.03, reps=40, seed=12) >= 0.9
