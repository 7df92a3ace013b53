"""Cells a spreadsheet will not run: the one rule every CSV written for people follows (OWASP's CSV injection advice).

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@` as a formula, and a leading
tab or carriage return can hide such a start. A user id, experiment name, hypothesis or rationale is text someone
else typed, so in a CSV meant to be opened by a person such a cell gets a leading single quote: the spreadsheet
shows the text and runs nothing. A plain number (`-0.12`, `+3`, `-1e-05`) is left as it is, so numbers stay numbers.

Only text cells change; numeric columns, JSON and Parquet are never touched. Files Winback reads back itself
(scores, churn scores) are not escaped, since their ids must match the registry byte for byte.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def inert_cell(value: Any) -> Any:
    """`value` as a spreadsheet shows it without evaluating it: text that starts like a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) are inert; numeric columns are left alone."""
    from pandas.api.types import infer_dtype

    text_columns = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) in ("string", "str")]
    safe = frame.copy()
    for column in text_columns:  # vectorized: a send list has a row per user (non-text cells give NA, left alone)
        cells = frame[column]
        if infer_dtype(cells, skipna=True) not in ("string", "mixed", "mixed-integer", "empty"):
            continue  # an object column with no text in it (numbers, booleans): nothing can start a formula
        formula = (cells.str.startswith(FORMULA_STARTS, na=False)
                   & ~cells.str.fullmatch(_PLAIN_NUMBER.pattern, na=False).astype(bool))
        safe[column] = cells.astype(object).mask(formula, "'" + cells[formula].astype(str))
    safe.columns = [inert_cell(c) for c in frame.columns]
    return safe
