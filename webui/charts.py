"""Charts drawn on the server as inline SVG (no JavaScript library, no CDN); hovering a mark shows its numbers.

Every text that reaches the SVG is escaped by markupsafe, so hostile names stay text.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeGuard

from markupsafe import Markup, escape

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a")
VERDICT_COLORS = {"pass": "#1a7f37", "fail": "#d1242f", "warn": "#9a6700", "undefined": "#8c959f"}
VERDICT_LEGEND = (("#1f6feb", "primary metric"), ("#1a7f37", "guardrail passes"), ("#9a6700", "guardrail warns"),
                  ("#d1242f", "guardrail fails"))


def _finite(value: object) -> TypeGuard[float]:
    """A finite int or float (numpy floats included); a TypeGuard, so a checked value reads as a float."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(value: float, percent: bool) -> str:
    return f"{value:+.2%}" if percent else f"{value:,.4g}"


def _tick(value: float, percent: bool) -> str:
    return f"{value:+.0%}" if percent else f"{value:,.6g}"


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 × 10^k apart) inside [lo, hi]."""
    raw = (hi - lo) / max(n - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _axis(values: list[float], ends: list[float], zero: bool) -> tuple[float, float]:
    """The x range: every estimate (and 0) always, interval ends only up to 1.5 spans beyond (arrows mark the rest)."""
    core = values + ([0.0] if zero else [])
    if not core:
        return -1.0, 1.0
    lo, hi = min(core), max(core)
    span = max(hi - lo, abs(hi), abs(lo), 1e-9)
    lo = max(min(ends + core), lo - 1.5 * span)
    hi = min(max(ends + core), hi + 1.5 * span)
    if hi - lo < 1e-9:  # one point (or only 0): a unit-wide axis around it
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


DESCENT = 4  # room under the lowest text's baseline (the axis label sits at height - 1) for p, g, y and (


def _svg_open(width: int, height: int) -> str:
    return (f'<svg class="chart" role="img" viewBox="0 0 {width} {height + DESCENT}" width="100%" '
            'xmlns="http://www.w3.org/2000/svg">')


def _open(width: int, height: int, title: str) -> list[str]:
    """The opening <svg> tag and the chart's title, the first parts of every chart."""
    return [_svg_open(width, height)] + ([f'<text x="4" y="16" class="chart-title">{escape(title)}</text>'] if title else [])


def _y_grid(lo: float, hi: float, py: Callable[[float], float], left: float, right: float, percent: bool) -> list[str]:
    """Horizontal grid lines with their tick labels on the left, between x = left and x = right."""
    return [f'<line x1="{left}" x2="{right}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end" class="tick">{escape(_tick(tick, percent))}'
            '</text>' for tick in _ticks(lo, hi)]


def _legend(x: float, top: float, k: int, color: str, name: str) -> str:
    """The k-th legend entry: a colour square and the series name."""
    return (f'<rect x="{x + 10}" y="{top + 14 * k}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 24}" y="{top + 14 * k + 9}" class="tick">{escape(name)}</text>')


def forest_svg(items: Sequence[dict], *, percent: bool = True, title: str = "", zero: bool = True,
               width: int = 640, x_label: str = "", legend: Sequence[tuple[str, str]] = ()) -> Markup:
    """Horizontal effect bars: each item {label, value, low, high, color?, note?}; a line at 0 when `zero`;
    `x_label` titles the axis (what is measured, in which unit), `legend` names the colours as (colour, meaning)."""
    drawn = [i for i in items if _finite(i.get("value"))]
    if items and not drawn:
        # Nothing to place on an axis: say why per row in text rather than drawing an empty axis under clipped notes.
        reasons = "".join(f'<li>{escape(i.get("label", ""))}: {escape(i.get("note") or "undefined")}</li>' for i in items)
        return Markup(f'<div class="chart-empty"><p class="muted">{escape(title)}: no estimate to draw.</p>'
                      f'<ul class="muted">{reasons}</ul></div>')
    row_h, left, right, top = 26, 190, 24, 26 if title else 8
    legend_h = 16 if legend else 0
    top += legend_h
    height = top + row_h * max(len(items), 1) + 28 + (16 if x_label else 0)
    ends = [v for i in drawn for v in (i.get("low"), i.get("high")) if _finite(v)]
    lo, hi = _axis([i["value"] for i in drawn], ends, zero)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (width - left - right)

    parts = _open(width, height, title)
    axis_y = height - (16 if x_label else 0)
    for k, (color, meaning) in enumerate(legend):
        offset = left + 150 * k
        parts.append(f'<rect x="{offset}" y="{top - legend_h + 2}" width="10" height="10" fill="{escape(color)}"/>'
                     f'<text x="{offset + 14}" y="{top - legend_h + 11}" class="tick">{escape(meaning)}</text>')
    for tick in _ticks(lo, hi):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{axis_y - 24}" class="grid"/>'
                     f'<text x="{x(tick):.1f}" y="{axis_y - 8}" text-anchor="middle" class="tick">'
                     f'{escape(_tick(tick, percent))}</text>')
    if x_label:
        parts.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 1}" text-anchor="middle" '
                     f'class="axis-label">{escape(x_label)}</text>')
    if zero and lo < 0 < hi:
        parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top}" y2="{axis_y - 24}" class="zero"/>')
    for row, item in enumerate(items):
        y = top + row * row_h + row_h / 2
        color = item.get("color") or PALETTE[0]
        label = escape(item.get("label", ""))
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" class="label">{label}</text>')
        value, low, high = item.get("value"), item.get("low"), item.get("high")
        if not _finite(value):
            # The note is cut to the plot's width (about 6 px a character); the full note is the hover text.
            note = f'no estimate: {item.get("note") or "undefined"}'
            room = max(int((width - left - right) / 6), 12)
            shown = note if len(note) <= room else note[:room - 1].rstrip() + "…"
            parts.append(f'<text x="{left + 4}" y="{y + 4:.1f}" class="tick"><title>{escape(note)}</title>'
                         f'{escape(shown)}</text>')
            continue
        tip = f'{item.get("label", "")}: {_fmt(value, percent)}'
        if _finite(low) or _finite(high):
            # A missing end is unbounded (e.g. a Fieller interval when the uplift may be 0): it runs off the axis.
            tip += f" [{_fmt(low, percent) if _finite(low) else '−∞'}, {_fmt(high, percent) if _finite(high) else '∞'}]"
            left_end = max(x(low), x(lo)) if _finite(low) else x(lo)
            right_end = min(x(high), x(hi)) if _finite(high) else x(hi)
            parts.append(f'<line x1="{left_end:.1f}" x2="{right_end:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                         f'stroke-width="3"/>')
            if not _finite(high) or high > hi:
                parts.append(f'<path d="M{right_end - 7:.1f},{y - 5:.1f} L{right_end:.1f},{y:.1f} '
                             f'L{right_end - 7:.1f},{y + 5:.1f}" fill="none" stroke="{color}" stroke-width="2"/>')
            if not _finite(low) or low < lo:
                parts.append(f'<path d="M{left_end + 7:.1f},{y - 5:.1f} L{left_end:.1f},{y:.1f} '
                             f'L{left_end + 7:.1f},{y + 5:.1f}" fill="none" stroke="{color}" stroke-width="2"/>')
        if item.get("note"):
            tip += f' ({item["note"]})'
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="5" fill="{color}"><title>{escape(tip)}</title>'
                     f'</circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_svg(series: Sequence[dict], *, percent: bool = True, title: str = "", x_label: str = "",
             zero: bool = True, width: int = 720, height: int = 240) -> Markup:
    """Lines over a numeric or date x: each series {name, x: [...], y: [...], low?: [...], high?: [...], color?,
    dashed? (a reference line such as a target)}."""
    left, right, top, bottom = 64, 170, 24 if title else 8, 34
    xs = [i for s in series for i in range(len(s.get("y", [])))]
    ys = [v for s in series for key in ("y", "low", "high") for v in s.get(key, []) if _finite(v)]
    if not xs or not ys:
        return Markup(f'<p class="muted">{escape(title)}: nothing to draw yet.</p>')
    n_max = max(len(s.get("y", [])) for s in series)
    y_lo, y_hi = min(ys + ([0.0] if zero else [])), max(ys + ([0.0] if zero else []))
    if y_hi - y_lo < 1e-12:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    # Numeric x values (e.g. budgets) are placed by value; anything else (days, labels) evenly by position.
    numeric = all(_finite(v) for s in series for v in s.get("x", [])) and any(s.get("x") for s in series)
    x_values = [v for s in series for v in s.get("x", [])] if numeric else []
    x_lo, x_hi = (min(x_values), max(x_values)) if numeric else (0.0, float(max(n_max - 1, 1)))
    if x_hi - x_lo < 1e-12:
        x_hi = x_lo + 1

    def px_value(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * (width - left - right)

    def px_of(s: dict, i: int) -> float:
        return px_value(s["x"][i]) if numeric else px_value(float(i))

    def px(i: int) -> float:
        return px_value(float(i))

    def py(v: float) -> float:
        return top + (1 - (v - y_lo) / (y_hi - y_lo)) * (height - top - bottom)

    parts = _open(width, height, title) + _y_grid(y_lo, y_hi, py, left, width - right, percent)
    if zero and y_lo < 0 < y_hi:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" class="zero"/>')
    if numeric:
        for tick in _ticks(x_lo, x_hi):
            parts.append(f'<text x="{px_value(tick):.1f}" y="{height - 12}" text-anchor="middle" class="tick">'
                         f'{escape(_tick(tick, False))}</text>')
    else:
        labels = series[0].get("x", [])
        for i in sorted({0, n_max - 1, (n_max - 1) // 2}):
            if i < len(labels):
                parts.append(f'<text x="{px(i):.1f}" y="{height - 12}" text-anchor="middle" class="tick">'
                             f'{escape(str(labels[i]))}</text>')
    if x_label:
        parts.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 1}" text-anchor="middle" '
                     f'class="tick">{escape(x_label)}</text>')
    for k, s in enumerate(series):
        color = s.get("color") or PALETTE[k % len(PALETTE)]
        low, high = s.get("low") or [], s.get("high") or []
        band = [(i, lo_, hi_) for i, (lo_, hi_) in enumerate(zip(low, high)) if _finite(lo_) and _finite(hi_)]
        if len(band) > 1:
            path = ([f"{px_of(s, i):.1f},{py(h):.1f}" for i, _, h in band]
                    + [f"{px_of(s, i):.1f},{py(lo_):.1f}" for i, lo_, _ in reversed(band)])
            parts.append(f'<polygon points="{" ".join(path)}" fill="{color}" opacity="0.13"/>')
        points = [(i, v) for i, v in enumerate(s.get("y", [])) if _finite(v)]
        if len(points) > 1:
            dash = ' stroke-dasharray="6 4"' if s.get("dashed") else ""
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="'
                         + " ".join(f"{px_of(s, i):.1f},{py(v):.1f}" for i, v in points) + '"/>')
        xl = s.get("x", [])
        for i, v in points:
            tip = f'{s.get("name", "")} {xl[i] if i < len(xl) else i}: {_fmt(v, percent)}'
            if i < len(low) and i < len(high) and _finite(low[i]) and _finite(high[i]):
                tip += f" [{_fmt(low[i], percent)}, {_fmt(high[i], percent)}]"
            parts.append(f'<circle cx="{px_of(s, i):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"><title>{escape(tip)}'
                         f'</title></circle>')
        parts.append(_legend(width - right, top, k, color, s.get("name", "")))
    parts.append("</svg>")
    return Markup("".join(parts))


def decile_svg(rows: Sequence[dict], *, percent: bool = False, title: str = "", width: int = 720,
               height: int = 260) -> Markup:
    """Observed uplift per decile with its interval as a whisker, the predicted value beside it and the calibrated
    value as a dash: rows {decile, observed, ci_low, ci_high, predicted, calibrated, n?, gated?} (decile 1 first)."""
    left, right, top, bottom = 64, 170, 24 if title else 8, 34
    values = [r.get(k) for r in rows for k in ("observed", "ci_low", "ci_high", "predicted", "calibrated")]
    ys = [v for v in values if _finite(v)] + [0.0]
    if not rows or len(ys) == 1:
        return Markup(f'<p class="muted">{escape(title)}: nothing to draw yet.</p>')
    y_lo, y_hi = min(ys), max(ys)
    pad = (y_hi - y_lo) * 0.06 or 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad
    slot = (width - left - right) / len(rows)

    def py(v: float) -> float:
        return top + (1 - (v - y_lo) / (y_hi - y_lo)) * (height - top - bottom)

    marks = (("observed (95% CI)", PALETTE[0]), ("predicted", PALETTE[6]), ("calibrated", PALETTE[2]))
    parts = _open(width, height, title) + _y_grid(y_lo, y_hi, py, left, width - right, percent)
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" class="zero"/>')
    for i, row in enumerate(rows):
        cx = left + slot * (i + 0.5)
        decile = row.get("decile", i + 1)
        parts.append(f'<text x="{cx:.1f}" y="{height - 18}" text-anchor="middle" class="tick">{escape(str(decile))}'
                     '</text>')
        size = f" (n = {row['n']:,})" if isinstance(row.get("n"), int) else ""
        observed, low, high = row.get("observed"), row.get("ci_low"), row.get("ci_high")
        if _finite(observed):
            tip = f"decile {decile} observed: {_fmt(observed, percent)}"
            if _finite(low) and _finite(high):
                tip += f" [{_fmt(low, percent)}, {_fmt(high, percent)}]"
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{py(low):.1f}" y2="{py(high):.1f}" '
                             f'stroke="{PALETTE[0]}" stroke-width="2"/>'
                             f'<line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{py(low):.1f}" y2="{py(low):.1f}" '
                             f'stroke="{PALETTE[0]}" stroke-width="2"/>'
                             f'<line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{py(high):.1f}" y2="{py(high):.1f}" '
                             f'stroke="{PALETTE[0]}" stroke-width="2"/>')
            parts.append(f'<circle cx="{cx:.1f}" cy="{py(observed):.1f}" r="4" fill="{PALETTE[0]}">'
                         f'<title>{escape(tip + size)}</title></circle>')
        predicted = row.get("predicted")
        if _finite(predicted):
            px = cx - slot * 0.25
            parts.append(f'<rect x="{px - 3.5:.1f}" y="{py(predicted) - 3.5:.1f}" width="7" height="7" '
                         f'fill="{PALETTE[6]}"><title>{escape(f"decile {decile} predicted: {_fmt(predicted, percent)}")}'
                         '</title></rect>')
        calibrated = row.get("calibrated")
        if _finite(calibrated):
            px = cx + slot * 0.25
            gate = " (gated to 0: not significantly positive)" if row.get("gated") else ""
            parts.append(f'<line x1="{px - 6:.1f}" x2="{px + 6:.1f}" y1="{py(calibrated):.1f}" '
                         f'y2="{py(calibrated):.1f}" stroke="{PALETTE[2]}" stroke-width="4">'
                         f'<title>{escape(f"decile {decile} calibrated: {_fmt(calibrated, percent)}{gate}")}</title>'
                         '</line>')
    parts.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 1}" text-anchor="middle" class="tick">'
                 'decile of predicted uplift (1 = highest)</text>')
    for k, (name, color) in enumerate(marks):
        parts.append(_legend(width - right, top, k, color, name))
    parts.append("</svg>")
    return Markup("".join(parts))


def qini_svg(curves: Sequence[dict], *, title: str = "", width: int = 720, height: int = 260) -> Markup:
    """Qini curves of one treatment, one line per candidate {learner, chosen, share, gain, random}, and random targeting
    (the straight line to the first curve's end)."""
    series = [{"name": c["learner"] + (" (chosen)" if c.get("chosen") else ""), "x": c["share"], "y": c["gain"]}
              for c in curves]
    if curves:
        series.append({"name": "random", "x": [0.0, 1.0], "y": [0.0, curves[0]["gain"][-1]], "color": PALETTE[6]})
    return line_svg(series, percent=False, title=title, x_label="share of users targeted, highest predicted uplift first",
                    zero=True, width=width, height=height)


def verdict_color(verdict: str | None) -> str:
    """The colour of a guardrail verdict (blue when not a guardrail)."""
    return VERDICT_COLORS.get(verdict or "", PALETTE[0])
