"""Multiple testing across arms × metrics: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

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
        out[finite] = multipletests(values[finite], method=_STATSMODELS[method])[1]
    return [float(v) for v in out]
