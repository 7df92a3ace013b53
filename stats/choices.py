"""The statistics engine's closed choices (declared in common.choices so the CLI can list them cheaply)."""
from __future__ import annotations

from common.choices import CORRECTIONS, METHODS, VERDICTS, Correction, Method, Verdict

__all__ = ["CORRECTIONS", "METHODS", "VERDICTS", "Correction", "Method", "Verdict"]
