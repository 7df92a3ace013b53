"""Jinja filters that turn numbers into text with the shared vocabulary (`common.formatting.PAGE`)."""
from __future__ import annotations

from typing import Any

from flask import Flask

from common.formatting import PAGE
from webui.charts import VERDICT_LEGEND, decile_svg, forest_svg, line_svg, qini_svg, verdict_color
from webui.wording import for_the_page

DASH = PAGE.dash
FEW_USERS = 30  # an arm of a segment with fewer users gets a note: the interval's normal approximation is unreliable
num, count, users, users_interval, pct = PAGE.num, PAGE.count, PAGE.users, PAGE.users_interval, PAGE.pct
money, pvalue, effect, interval, points = PAGE.money, PAGE.pvalue, PAGE.effect, PAGE.interval, PAGE.points
money_interval, when, days_since = PAGE.money_interval, PAGE.when, PAGE.days_since


def init_app(app: Flask) -> None:
    def shop_money(value: Any) -> str:
        return money(value, app.config.get("CURRENCY"))

    def shop_money_interval(low: Any, high: Any) -> str:
        return money_interval(low, high, app.config.get("CURRENCY"))

    for name, fn in {"num": num, "count": count, "pct": pct, "money": shop_money, "pvalue": pvalue, "effect": effect,
                     "interval": interval, "when": when, "points": points, "money_interval": shop_money_interval,
                     "days_since": days_since, "users": users, "users_interval": users_interval}.items():
        app.jinja_env.filters[name] = fn
    app.jinja_env.filters["page_words"] = for_the_page
    app.jinja_env.filters["rate_interval"] = PAGE.rate_interval
    app.jinja_env.globals["few_users"] = FEW_USERS
    app.jinja_env.globals.update(decile_svg=decile_svg, forest_svg=forest_svg, line_svg=line_svg, qini_svg=qini_svg,
                                  verdict_color=verdict_color, verdict_legend=VERDICT_LEGEND)
