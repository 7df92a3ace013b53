"""The engine-specific bits of otherwise standard SQL, and how parameters become literals per engine.

Every query in Winback is written once in engine-neutral SQL with `:name` parameters; a `Dialect`
renders the few expressions that differ (days between two timestamps) and binds the parameters as typed
literals, so DuckDB and Spark SQL run the same text. Parameters are values Winback computes (dates,
numbers, keys); text is quoted with doubled single quotes (and, for Spark, doubled backslashes), so a key holding
a quote or a backslash stays one literal.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Dialect:
    """How one engine spells the non-standard parts of the shared SQL."""

    name: EngineName

    def days_between(self, start: str, end: str) -> str:
        """SQL for the (fractional) days from timestamp expression `start` to `end`, as DOUBLE.

        Counted in whole microseconds on both engines: Spark's unix_timestamp drops the fraction of a second,
        so an assignment at 10:00:00.5 put an order 30 days later at 09:59:59 outside a 30-day window on Spark
        and inside it on DuckDB. An exact integer difference divided once rounds the same on both.
        """
        micros = "epoch_us" if self.name == "duckdb" else "unix_micros"
        return f"((CAST({micros}({end}) AS DOUBLE) - CAST({micros}({start}) AS DOUBLE)) / CAST(86400000000 AS DOUBLE))"

    def literal(self, value: object) -> str:
        """A typed SQL literal for a parameter value (timestamps as TIMESTAMP, text quoted)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"cannot bind the non-finite number {value} into SQL")
            return f"CAST({value!r} AS DOUBLE)"
        if isinstance(value, dt.datetime):  # pandas Timestamps are datetimes
            return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}'"
        if isinstance(value, dt.date):
            return f"TIMESTAMP '{value.strftime('%Y-%m-%d')} 00:00:00'"
        text = str(value)
        if self.name == "spark":
            # Spark SQL reads a backslash in a string literal as an escape: `\'` would end the literal early (and
            # let the rest run as SQL) and `\s` would lose its backslash. DuckDB takes backslashes literally.
            text = text.replace("\\", "\\\\")
        return "'" + text.replace("'", "''") + "'"

    def bind(self, sql: str, params: Mapping[str, object] | None = None) -> str:
        """The SQL with every `:name` replaced by its literal; a name without a value is an error."""
        if not params:
            return sql

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in params:
                raise KeyError(f"the query needs a value for :{name}")
            return self.literal(params[name])

        return _PARAM.sub(replace, sql)
