"""One JSON encoding for every report: finite numbers or null with the reason beside it."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from common.jsonable import dumps, to_jsonable


@dataclass(frozen=True)
class Result:
    effect: float
    ci_high: float
    n: int
    reason: str = ""


def test_non_finite_numbers_become_null_with_their_reason():
    data = to_jsonable({"rows": [Result(math.nan, math.inf, np.int64(3), "no users in arm b")],
                        "p": np.float64(0.25), "flags": np.array([1.0, np.nan])})
    assert data == {"rows": [{"effect": None, "ci_high": None, "n": 3, "reason": "no users in arm b",
                              "undefined": {"effect": "no users in arm b", "ci_high": "+infinite (no users in arm b)"}}],
                    "p": 0.25, "flags": [1.0, None]}


def test_dumps_is_strict_json():
    text = dumps({"x": -math.inf, "y": [math.nan]})
    assert json.loads(text) == {"x": None, "y": [None], "undefined": {"x": "-infinite"}}
