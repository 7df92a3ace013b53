"""Multiple testing across arms × metrics: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate).

The adjusted p-values are statsmodels' `multipletests(method="holm" | "fdr_bh")[1]`, computed by the same array
operations in the same order (so equal to the last bit; tests/stats compare them), without importing statsmodels and
pandas into every analysis (issue 24)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stats.choices import Correction
from stats.errors import StatsError

_STATSMODELS = {"holm": "holm", "bh": "fdr_bh"}


def adjust_p_values(p_values: Sequence[float], method: Correction = "holm") -> list[float]:
    """Adjusted p-values in input order; nan inputs (e.g. Bayesian reads) stay nan and are not counted."""
    if method not in _STATSMODELS:
        raise StatsError(f"correction must be one of {', '.join(_STATSMODELS)}, got {method!r}")
    values = np.asarray(p_values, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if ((values[finite] < 0) | (values[finite] > 1)).any():
        raise StatsError(f"p-values must lie in [0, 1], got {list(p_values)}")
    if finite.any():
        out[finite] = _holm(values[finite]) if method == "holm" else _bh(values[finite])
    return [float(v) for v in out]


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (statsmodels.stats.multitest.multipletests, method 'holm')."""
    order = np.argsort(p)
    ranked = np.take(p, order)
    corrected = np.maximum.accumulate(ranked * np.arange(len(ranked), 0, -1))
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[order] = corrected
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg's step-up adjustment (statsmodels' fdrcorrection, method 'indep')."""
    order = np.argsort(p)
    ranked = np.take(p, order)
    ecdf = np.arange(1, len(ranked) + 1) / float(len(ranked))
    corrected = np.minimum.accumulate((ranked / ecdf)[::-1])[::-1]
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[order] = corrected
    return out
