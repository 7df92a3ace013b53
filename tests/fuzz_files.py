"""Generators of bad input files for the CLI fuzz test: one valid table per input kind, then every way to break it.

Each `InputKind` names a valid table (a few rows, as text), which columns are ids, numbers and timestamps, and the
file name it is given on the command line. `bad_files(kind)` yields (case name, file name, bytes) for: an empty
file, blank lines, a byte order mark alone, header only, a duplicated column, a NUL in a cell, binary noise,
UTF-16 and latin-1 encodings, corrupt and truncated Parquet, each required column
missing, an extra field in one row and in every row, inf / -inf / NaN / ±1e308 / text in each number column, far
past and far future in each timestamp column, surrounding spaces in each id column and a null id in Parquet.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class InputKind:
    """One CLI input: a valid table and the roles of its columns."""

    name: str
    rows: list[dict[str, str]]
    ids: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    parquet: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0])


def csv_bytes(columns: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """A CSV file's bytes, written by the csv module (quoting only where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A Parquet file's bytes (pyarrow)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _table(kind: InputKind, change=None) -> tuple[list[str], list[list[str]]]:
    rows = [dict(r) for r in kind.rows]
    if change:
        change(rows)
    columns = list(rows[0])
    return columns, [[row[c] for c in columns] for row in rows]


def _set(column: str, value: str, row: int = 1):
    def change(rows):
        rows[row][column] = value
    return change


def bad_files(kind: InputKind) -> Iterator[tuple[str, str, bytes]]:
    """Every bad variant of `kind` as (case, file name, content)."""
    columns, rows = _table(kind)
    good = csv_bytes(columns, rows)
    yield "empty", "in.csv", b""
    yield "blank lines", "in.csv", b"\n\n\n"
    yield "header only", "in.csv", csv_bytes(columns, [])
    yield "byte order mark only", "in.csv", b"\xef\xbb\xbf"
    yield "duplicate column", "in.csv", csv_bytes(columns + [columns[0]], [r + [r[0]] for r in rows])
    yield "NUL in a cell", "in.csv", good.replace(b"\n", b"\x00\n", 2)
    yield "binary", "in.csv", bytes(range(256)) * 8
    yield "utf-16", "in.csv", csv_bytes(columns, rows, "utf-16")
    latin = [[v + "\u00e9" if c in kind.ids else v for c, v in zip(columns, r)] for r in rows]
    yield "latin-1", "in.csv", csv_bytes(columns, latin, "latin-1")
    lines = good.decode().splitlines()
    yield "extra field in one row", "in.csv", "\n".join([*lines[:2], lines[2] + ",surplus", *lines[3:]]).encode()
    yield "extra field in every row", "in.csv", "\n".join([lines[0], *(line + ",surplus" for line in lines[1:])]).encode()
    yield "missing field", "in.csv", "\n".join([*lines[:2], lines[2].rsplit(",", 1)[0], *lines[3:]]).encode()
    for column in kind.required:
        kept = [c for c in columns if c != column]
        yield f"no column {column}", "in.csv", csv_bytes(kept, [[r[columns.index(c)] for c in kept] for r in rows])
    for column in kind.numbers:
        for value in ("inf", "-inf", "nan", "1e308", "-1e308", "twelve"):
            yield f"{column} = {value}", "in.csv", csv_bytes(*_table(kind, _set(column, value)))
    for column in kind.times:
        for value in ("1800-01-01", "2999-12-31", "0001-01-01T00:00:00"):
            yield f"{column} = {value}", "in.csv", csv_bytes(*_table(kind, _set(column, value)))
    for column in kind.ids:
        yield f"{column} with spaces", "in.csv", csv_bytes(*_table(kind, _set(column, f" {kind.rows[1][column]} ")))
    if kind.parquet:
        frame = pd.DataFrame(rows, columns=columns)
        yield "corrupt parquet", "in.parquet", b"PAR1" + bytes(range(200)) + b"PAR1"
        yield "truncated parquet", "in.parquet", parquet_bytes(frame)[:-40]
        for column in kind.ids:
            nulled = frame.astype(object)
            nulled.loc[1, column] = None
            yield f"parquet null {column}", "in.parquet", parquet_bytes(nulled)
            yield f"parquet {column} with spaces", "in.parquet", parquet_bytes(
                frame.assign(**{column: [f" {v} " for v in frame[column]]}))


def bad_json_files() -> Iterator[tuple[str, str, bytes]]:
    """Bad costs files (JSON treatment -> unit cost)."""
    good = {"coupon": 2.0, "call": 5.0}
    yield "empty", "costs.json", b""
    yield "binary", "costs.json", bytes(range(256)) * 4
    yield "utf-16", "costs.json", json.dumps(good).encode("utf-16")
    yield "latin-1", "costs.json", '{"coup\u00e9n": 2.0}'.encode("latin-1")
    yield "not json", "costs.json", b"coupon=2"
    yield "a list", "costs.json", b"[2.0, 5.0]"
    yield "text cost", "costs.json", json.dumps({"coupon": "two", "call": 5.0}).encode()
    yield "negative cost", "costs.json", json.dumps({"coupon": -2.0, "call": 5.0}).encode()
    yield "infinite cost", "costs.json", b'{"coupon": Infinity, "call": 5.0}'
    yield "nan cost", "costs.json", b'{"coupon": NaN, "call": 5.0}'
    yield "huge cost", "costs.json", b'{"coupon": 1e308, "call": 5.0}'
    yield "boolean cost", "costs.json", b'{"coupon": true, "call": 5.0}'
    yield "unknown treatment only", "costs.json", json.dumps({"gift": 2.0}).encode()
