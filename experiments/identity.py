"""One identity rule for every id and key, and one name rule for every stored name.

Identity (user ids, experiment, treatment and metric keys) is exact: the registry stores what it is given and
compares byte for byte, so an id is refused - on every path alike (CLI arguments, `--users`, opt-outs, imports,
CSV and Parquet) - when it is empty, has leading or trailing whitespace, or holds a control character. Nothing is
stripped silently: `" e1 "` and `"e1"` are never the same experiment, and a file that says `" e1 "` is an error.

Stored names (models, cohorts) also become file names and appear in URLs, so they follow a stricter rule:
letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64 characters (no `/`, no `..`).

Free text (names, hypotheses, owners, rationales) may hold anything but control characters other than line breaks
and tabs, since the CLI prints it in terminals.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from common.errors import InputRowError
from experiments.errors import ExperimentError, ImportDataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTROL = r"[\x00-\x1f\x7f]"
IDENTITY_RULE = "ids and keys are matched exactly: no surrounding whitespace, no control characters, not empty"


def id_problem(value: object) -> str | None:
    """Why `value` is not a valid id or key, or None when it is."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if value == "" or not value.strip():
        return "empty value"
    if value != value.strip():
        return f"'{value}' has leading or trailing whitespace ({IDENTITY_RULE})"
    if re.search(_CONTROL, value):
        return f"{value!r} holds a control character ({IDENTITY_RULE})"
    return None


def check_id(value: object, what: str) -> str:
    """Return `value` when it is a valid id or key, else raise naming `what` (e.g. 'user id', '--cohort')."""
    problem = id_problem(value)
    if problem:
        raise ExperimentError(f"{what}: {problem}")
    return value  # type: ignore[return-value]


def check_experiment_key(value: object, what: str = "experiment key") -> str:
    """An experiment's (or a recorded plan's) key: a valid id that is also one segment of a web address.

    The key is the hash seed and is otherwise free text, but the web UI and the API name the experiment in
    their paths (`/experiments/KEY/results`): a `/` splits the path and `.`/`..` are resolved away by browsers,
    so such an experiment could be created but never opened.
    """
    check_id(value, what)
    text = str(value)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise ExperimentError(f"{what}: '{text}' cannot name an experiment: no '/' or '\\', and not '.' or '..' "
                              "(the key is part of the experiment's web address)")
    return check_name(text, what)  # the one name rule: 1-64 letters, digits, '-', '_' and '.'


def check_ids(ids: pd.Series | np.ndarray | Sequence[Any], source: str, column: str | None,
              error: type[InputRowError] = ImportDataError) -> None:
    """Raise an InputRowError naming the first bad id (1-based data row) of a column; vectorized over the ids."""
    import numpy as np  # here, not at module top: the CLI imports this module and must start fast
    import pandas as pd

    series = pd.Series(ids, dtype=object) if not isinstance(ids, pd.Series) else ids.reset_index(drop=True)
    bad = _flag_text_ids(series)
    if bad is None:  # not all text (None, NaN, numbers): the slower exact path
        is_text = np.array([type(v) is str for v in series], dtype=bool)
        text = series.where(is_text, "").astype(str)
        bad = ~is_text | text.eq("").to_numpy() | text.ne(text.str.strip()).to_numpy()
        bad |= text.str.contains(_CONTROL, regex=True).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = series.iloc[row]
        problem = "missing value" if value is None or pd.isna(value) else id_problem(value)
        raise error(source, row + 1, column, problem or "invalid id")


def _flag_text_ids(series: pd.Series) -> np.ndarray | None:
    """Bad-id mask computed in one pass of Arrow's C++ kernels, or None when the ids are not all text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(series.to_numpy(dtype=object), type=pa.large_string(), from_pandas=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return None
    if text.null_count:
        return None
    flagged = pc.or_(pc.equal(pc.utf8_length(text), 0), pc.not_equal(pc.utf8_trim_whitespace(text), text))
    mask: np.ndarray = pc.or_(flagged, pc.match_substring_regex(text, _CONTROL)).to_numpy(zero_copy_only=False)
    return mask


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


TEXT_LIMITS = {"short": 200, "long": 5_000}  # a name, owner, layer or label; a hypothesis, rationale or override


def check_text(value: object, what: str, limit: int = TEXT_LIMITS["long"]) -> str:
    """Free text (a name, hypothesis, owner, rationale): any line breaks and tabs, but no other control character.

    Such text is printed by `winback experiment show/audit` in a terminal, where an escape sequence (ESC, or the
    8-bit CSI) could move the cursor, hide lines or retitle the window; line breaks and tabs (a web form sends
    CR LF) are kept.
    """
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise ExperimentError(f"{what}: {len(text):,} characters; at most {limit:,} are kept")
    bad = _TERMINAL_CONTROL.search(text)
    if bad:
        raise ExperimentError(f"{what}: holds the control character {bad.group()!r} at position {bad.start() + 1}; "
                              "only letters, digits, punctuation, spaces, tabs and line breaks are kept")
    return text


def check_name(name: object, what: str) -> str:
    """Return `name` when it follows the stored-name rule, else raise naming `what` (e.g. 'model name')."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ExperimentError(
            f"{what} {name!r} is not allowed: use 1-64 letters, digits, '-', '_' or '.', starting with a letter "
            "or digit (no '/', no spaces)"
        )
    return name
