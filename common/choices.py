"""Closed choices that front doors list without loading the statistics engine (scipy): declared once, here."""
from __future__ import annotations

from typing import Literal, get_args

Method = Literal["ttest", "sequential", "bayesian"]
METHODS: tuple[str, ...] = get_args(Method)
Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[str, ...] = get_args(Correction)
Verdict = Literal["pass", "warn", "fail", "undefined"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
