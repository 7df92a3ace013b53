"""stats.compare against GrowthBook's gbstats 0.8.0 on 120 generated cases (scripts/gbstats_vectors.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stats import Moments, RatioMoments, compare

VECTORS = json.loads((Path(__file__).parent / "gbstats_vectors.json").read_text())


def _moments(kind: str, arm: dict):
    return RatioMoments(**arm) if kind == "ratio" else Moments(**arm)


@pytest.mark.parametrize(
    "case", VECTORS["cases"],
    ids=[f"{c['kind']}-{c['method']}-{'rel' if c['relative'] else 'abs'}-{'prior' if c['prior'] else 'flat'}-{i}"
         for i, c in enumerate(VECTORS["cases"])],
)
def test_matches_gbstats(case: dict) -> None:
    # expected: gbstats 0.8.0 output stored in gbstats_vectors.json by scripts/gbstats_vectors.py
    prior = case["prior"] or {}
    result = compare(
        _moments(case["kind"], case["control"]), _moments(case["kind"], case["treatment"]),
        relative=case["relative"], method=case["method"], cuped=case["cuped"], tuning=5000,
        prior_mean=prior.get("mean", 0.0), prior_variance=prior.get("variance"),
    )
    for field, expected in case["expected"].items():
        assert getattr(result, field) == pytest.approx(expected, rel=1e-6, abs=1e-9), field
