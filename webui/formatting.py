"""Jinja filters that turn numbers into text: undefined values show as '–', never as a fake 0."""
from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from webui.charts import decile_svg, forest_svg, line_svg, qini_svg, verdict_color

DASH = "–"


def _undefined(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: Any, digits: int = 4) -> str:
    return DASH if _undefined(value) else f"{value:,.{digits}g}"


def count(value: Any) -> str:
    return DASH if _undefined(value) else f"{int(value):,}"


def users(value: Any) -> str:
    """An expected number of users (e.g. extra retained): one decimal, whatever its size (74.1, 0.4, -2.7)."""
    return DASH if _undefined(value) else f"{value:,.1f}"


def users_interval(low: Any, high: Any) -> str:
    return DASH if _undefined(low) and _undefined(high) else f"[{users(low)}, {users(high)}]"


def pct(value: Any, signed: bool = True) -> str:
    return DASH if _undefined(value) else (f"{value:+.2%}" if signed else f"{value:.1%}")


def money(value: Any, currency: str | None = None) -> str:
    """An amount with two decimals, followed by the shop's currency when one is set (WINBACK_CURRENCY)."""
    if _undefined(value):
        return DASH
    return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"


def pvalue(value: Any) -> str:
    """Three significant digits, so rounding never moves a p across a threshold (0.0503 is not shown as 0.050)."""
    return DASH if _undefined(value) else ("<0.001" if value < 0.001 else f"{value:#.3g}")


def effect(value: Any, relative: bool = True) -> str:
    return pct(value) if relative else (DASH if _undefined(value) else f"{value:+.4g}")


def interval(low: Any, high: Any, relative: bool = True) -> str:
    if _undefined(low) and _undefined(high):
        return DASH
    fmt = pct if relative else num
    return f"[{fmt(low)}, {fmt(high)}]"


def points(value: Any) -> str:
    """An absolute change of a rate, in percentage points."""
    return DASH if _undefined(value) else f"{value * 100:+.2f} pp"


def money_interval(low: Any, high: Any, currency: str | None = None) -> str:
    """[low, high] in money, the currency once after it; a missing end with a finite other end is unbounded."""
    if _undefined(low) and _undefined(high):
        return DASH
    bounds = f"[{'−∞' if _undefined(low) else money(low)}, {'∞' if _undefined(high) else money(high)}]"
    return f"{bounds} {currency}" if currency else bounds


def when(value: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' UTC."""
    return DASH if not value else str(value)[:16].replace("T", " ")


def days_since(start: Any, end: Any = None) -> str:
    """Whole days between two ISO timestamps (end default: now)."""
    if not start:
        return DASH
    begin = datetime.fromisoformat(str(start))
    finish = datetime.fromisoformat(str(end)) if end else datetime.now(UTC)
    return str(max((finish - begin).days, 0))


def init_app(app: Flask) -> None:
    def shop_money(value: Any) -> str:
        return money(value, app.config.get("CURRENCY"))

    def shop_money_interval(low: Any, high: Any) -> str:
        return money_interval(low, high, app.config.get("CURRENCY"))

    for name, fn in {"num": num, "count": count, "pct": pct, "money": shop_money, "pvalue": pvalue, "effect": effect,
                     "interval": interval, "when": when, "points": points, "money_interval": shop_money_interval,
                     "days_since": days_since, "users": users, "users_interval": users_interval}.items():
        app.jinja_env.filters[name] = fn
    app.jinja_env.globals.update(decile_svg=decile_svg, forest_svg=forest_svg, line_svg=line_svg, qini_svg=qini_svg,
                                  verdict_color=verdict_color)
