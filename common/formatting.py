"""The one vocabulary every door formats numbers with: the CLI, the web pages and the charts read alike.

An undefined value (None, nan) shows as a dash, never as a fake 0; only the dash differs by medium (ASCII `-` in a
terminal, `–` on a page), so `TERMINAL` and `PAGE` are the same formats with their own placeholder.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def undefined(value: Any) -> bool:
    """None, or a number that is not finite."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


@dataclass(frozen=True)
class NumberText:
    """Formats for counts, estimates, effects, p-values and money; `dash` stands for an undefined value."""

    dash: str

    def num(self, value: Any, digits: int = 4) -> str:
        return self.dash if undefined(value) else f"{value:,.{digits}g}"

    def count(self, value: Any) -> str:
        return self.dash if undefined(value) else f"{int(value):,}"

    def users(self, value: Any) -> str:
        """An expected number of users (e.g. extra retained): one decimal, whatever its size (74.1, 0.4, -2.7)."""
        return self.dash if undefined(value) else f"{value:,.1f}"

    def users_interval(self, low: Any, high: Any) -> str:
        return self.dash if undefined(low) and undefined(high) else f"[{self.users(low)}, {self.users(high)}]"

    def pct(self, value: Any, signed: bool = True) -> str:
        return self.dash if undefined(value) else (f"{value:+.2%}" if signed else f"{value:.1%}")

    def money(self, value: Any, currency: str | None = None) -> str:
        """An amount with two decimals and thousands separators, then the shop's currency when one is set."""
        if undefined(value):
            return self.dash
        return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"

    def pvalue(self, value: Any) -> str:
        """Three significant digits, so rounding never moves a p across a threshold (0.0503 is not 0.050)."""
        return self.dash if undefined(value) else ("<0.001" if value < 0.001 else f"{value:#.3g}")

    def effect(self, value: Any, relative: bool = True) -> str:
        return self.pct(value) if relative else (self.dash if undefined(value) else f"{value:+.4g}")

    def interval(self, low: Any, high: Any, relative: bool = True) -> str:
        if undefined(low) and undefined(high):
            return self.dash
        if relative:
            return f"[{self.pct(low)}, {self.pct(high)}]"
        return f"[{self.num(low)}, {self.num(high)}]"

    def rate_interval(self, low: Any, high: Any, relative: bool = True, is_rate: bool = False) -> str:
        """An interval of a relative change of a rate (a binary metric): a rate cannot fall by more than 100%, so a
        normal-approximation bound below -100% shows as the floor it cannot pass."""
        if relative and is_rate and not undefined(low) and low < -1:
            return f"[≥ {self.pct(-1.0)}, {self.pct(high)}]"
        return self.interval(low, high, relative)

    def points(self, value: Any) -> str:
        """An absolute change of a rate, in percentage points."""
        return self.dash if undefined(value) else f"{value * 100:+.2f} pp"

    def money_interval(self, low: Any, high: Any, currency: str | None = None) -> str:
        """[low, high] in money, the currency once after it; a missing end beside a finite one is unbounded."""
        if undefined(low) and undefined(high):
            return self.dash
        bounds = f"[{'−∞' if undefined(low) else self.money(low)}, {'∞' if undefined(high) else self.money(high)}]"
        return f"{bounds} {currency}" if currency else bounds

    def when(self, value: Any) -> str:
        """An ISO timestamp as 'YYYY-MM-DD HH:MM' UTC."""
        return self.dash if not value else str(value)[:16].replace("T", " ")

    def days_since(self, start: Any, end: Any = None) -> str:
        """Whole days between two ISO timestamps (end default: now)."""
        if not start:
            return self.dash
        begin = datetime.fromisoformat(str(start))
        finish = datetime.fromisoformat(str(end)) if end else datetime.now(UTC)
        return str(max((finish - begin).days, 0))


TERMINAL = NumberText("-")
PAGE = NumberText("–")
