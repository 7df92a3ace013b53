"""Reading the table files users hand to the registry (imports, `--users`, opt-outs) as text, or one clear error.

Every cell comes back as text exactly as written (ids keep leading zeros and spaces, which the identity rule
then judges), Parquet nulls as None. A file that is missing, empty, binary, not UTF-8, corrupt Parquet, has rows
with more or fewer fields than its header, or has a header and no rows raises an InputRowError naming the file
(and the data row, counted from 1 with the header excluded, where one is to blame). Nothing is guessed.
"""
from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd

from common.errors import InputRowError

PARQUET_SUFFIXES = (".parquet", ".pq")
SNIFF_BYTES = 1 << 16
MAX_COLUMNS = 1_000  # a table of ids, arms, metrics or scores; a wider file is refused before it is parsed
MAX_TABLE_BYTES = 4 << 30  # 4 GiB: a file larger than this (or endless, like /dev/zero) is refused unread


def read_text_table(path: str | os.PathLike[str], *, allow_empty: bool = False,
                    error: type[InputRowError] = InputRowError) -> pd.DataFrame:
    """A CSV (UTF-8, optional BOM) or Parquet file as a frame of str/None cells; raises `error` on bad input."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise error(source, None, None, "file not found")
    if path.is_dir():
        raise error(source, None, None, "is a directory, not a file")
    if not path.is_file():
        raise error(source, None, None, "is not a regular file (a pipe or a device cannot be imported)")
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise error(source, None, None, f"is {size:,} bytes; at most {MAX_TABLE_BYTES:,} bytes are read")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = _read_parquet(path, error)
    else:
        frame = _read_csv(path, error)
    if frame.columns.duplicated().any():
        duplicate = frame.columns[frame.columns.duplicated()][0]
        raise error(source, None, str(duplicate), "the header names this column twice")
    if frame.empty and not allow_empty:
        raise error(source, None, None, "has a header but no data rows" if len(frame.columns) else "is empty")
    return frame


def _read_parquet(path: Path, error: type[InputRowError]) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        width = len(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file; all mean the same here
        raise error(str(path), None, None, f"cannot be read as Parquet ({type(exc).__name__}: {exc})") from exc
    _check_width(str(path), width, error)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file; all mean the same here
        raise error(str(path), None, None, f"cannot be read as Parquet ({type(exc).__name__}: {exc})") from exc
    frame.columns = [str(c) for c in frame.columns]
    text = frame.astype(object)
    return text.where(frame.notna(), None).map(lambda v: v if v is None or isinstance(v, str) else str(v))


def _read_csv(path: Path, error: type[InputRowError]) -> pd.DataFrame:
    source = str(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise error(source, None, None, "is empty")
    if b"\x00" in raw[:SNIFF_BYTES]:
        raise error(source, None, None, "is binary, not a UTF-8 CSV file (it holds NUL bytes; UTF-16 files do too)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n")  # 0 = the header
        raise error(source, line or None, None,
                    f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from exc
    if not text.strip():
        raise error(source, None, None, "is empty")
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    try:
        header = next(csv.reader(io.StringIO(first_line)), [])
    except csv.Error as exc:  # e.g. a header field over the csv module's 131,072-character limit
        raise error(source, None, None, f"the header cannot be read as CSV ({exc})") from None
    _check_width(source, len(header), error)
    counts = Counter(header)
    duplicates = sorted(name for name, n in counts.items() if n > 1)
    if duplicates:
        raise error(source, None, duplicates[0], "the header names this column twice")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
        row, problem = _field_count_problem(text)
        if problem:
            raise error(source, row, None, problem) from exc
        raise error(source, None, None, f"cannot be read as CSV ({exc})") from exc
    if any(str(c).startswith("Unnamed: ") for c in frame.columns):
        raise error(source, None, None, "the header has an empty column name")
    row, problem = _field_count_problem(text) if _ragged_possible(frame) else (None, "")
    if problem:
        raise error(source, row, None, problem)
    return frame


def _check_width(source: str, width: int, error: type[InputRowError]) -> None:
    """Refuse a file wider than MAX_COLUMNS before any cell is parsed (a wide upload cannot tie up a worker)."""
    if width > MAX_COLUMNS:
        raise error(source, None, None, f"has {width:,} columns; at most {MAX_COLUMNS:,} are read (a table of ids, "
                                        "arms, metrics or scores needs far fewer)")


def _ragged_possible(frame: pd.DataFrame) -> bool:
    """pandas pads short rows with '' silently; only then is the slow field count worth running."""
    return bool(len(frame)) and bool(frame.iloc[:, -1].eq("").any())


def _field_count_problem(text: str) -> tuple[int | None, str]:
    """The first data row whose field count differs from the header's (only run on a suspect file)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
        for number, fields in enumerate(reader, start=1):
            if fields and len(fields) != len(header):
                word = "more" if len(fields) > len(header) else "fewer"
                return number, f"has {len(fields)} fields, {word} than the {len(header)} columns of the header"
    except csv.Error as exc:
        match = re.search(r"line (\d+)", str(exc))
        return (int(match.group(1)) - 1 if match else None), f"cannot be read as CSV ({exc})"
    return None, ""
