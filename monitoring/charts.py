"""Server-rendered SVG line charts: time axis, units, legend, gaps and deployment markers.

Why SVG from the server rather than a chart library: the page needs a few small line charts,
not interaction; SVG written here costs no JavaScript, no vendored bundle, renders before any
script runs, follows the page's light/dark colours through CSS, and tests can read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 26
COLOURS = 4  # .series-0 … .series-3 in monitoring.css


@dataclass
class SeriesData:
    label: str
    stat: str
    points: list[tuple[int, float]]  # (epoch seconds, value), oldest first
    unavailable: str = ""

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None


@dataclass(frozen=True)
class Marker:
    at: int  # epoch seconds
    label: str  # short, drawn on the chart
    title: str  # the full sentence, shown on hover
    kind: str  # deploy | scale | failed


def nice_max(value: float) -> float:
    """A round top for the y axis (1, 2, 2.5 or 5 × 10^n) at or above `value`."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return top
    return 10 ** (exponent + 1)


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no data"
    text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"
    return f"{text} {unit}".strip() if unit not in ("count", "") else text


def _time_label(ts: int, span: int) -> str:
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%a %d %H:%M" if span > 2 * 86400 else "%H:%M")


class _Scale:
    def __init__(self, start: int, end: int, top: float):
        self.start, self.end, self.top = start, end, top
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def x(self, ts: float) -> float:
        return round(LEFT + (ts - self.start) / (self.end - self.start) * self.plot_w, 1)

    def y(self, value: float) -> float:
        return round(TOP + self.plot_h - value / self.top * self.plot_h, 1)


def _segments(points: list[tuple[int, float]], start: int, end: int, period: int) -> list[list]:
    """Split a series where buckets are missing, so a gap is drawn as a gap, not a line."""
    by_time = dict(points)
    segments, current = [], []
    for ts in range(start, end, period):
        if ts in by_time:
            current.append((ts, by_time[ts]))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    return segments


def _axes(scale: _Scale, unit: str) -> list[str]:
    parts = []
    for fraction in (0, 0.5, 1):
        value = scale.top * fraction
        y = scale.y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
            f"{escape(format_value(value, unit))}</text>"
        )
    span = scale.end - scale.start
    for i in range(5):
        ts = scale.start + span * i // 4
        x = scale.x(ts)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(
            f'<text class="tick" x="{x}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(_time_label(ts, span))}</text>"
        )
    return parts


def _lines(scale: _Scale, series: list[SeriesData], start: int, end: int, period: int) -> list:
    parts = []
    for index, s in enumerate(series):
        css = f"series series-{index % COLOURS}"
        for segment in _segments(s.points, start, end, period):
            if len(segment) == 1:  # a lone point has no line; draw a dot so it is seen
                ts, value = segment[0]
                parts.append(
                    f'<circle class="{css}" cx="{scale.x(ts + period / 2)}" '
                    f'cy="{scale.y(value)}" r="2"/>'
                )
                continue
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{scale.x(ts + period / 2)},{scale.y(value)}"
                for i, (ts, value) in enumerate(segment)
            )
            parts.append(f'<path class="{css}" d="{path}"/>')
    return parts


def _markers(scale: _Scale, markers: list[Marker]) -> list[str]:
    parts = []
    for marker in markers:
        if not scale.start <= marker.at <= scale.end:
            continue
        x = scale.x(marker.at)
        parts.append(
            f'<g class="marker marker-{marker.kind}"><title>{escape(marker.title)}</title>'
            f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text x="{x + 3}" y="{TOP + 9}">{escape(marker.label)}</text></g>'
        )
    return parts


def render_svg(
    *,
    title: str,
    unit: str,
    series: list[SeriesData],
    markers: list[Marker],
    start: int,
    end: int,
    period: int,
) -> SafeString:
    """One chart as inline SVG; the legend is rendered by the template next to it."""
    values = [v for s in series for _, v in s.points]
    scale = _Scale(start, end, nice_max(max(values, default=0)))
    body = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'preserveAspectRatio="none" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        *_axes(scale, unit),
        *_lines(scale, series, start, end, period),
        *_markers(scale, markers),
    ]
    if not values:
        body.append(
            f'<text class="nodata" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "No data in this range</text>"
        )
    body.append("</svg>")
    return mark_safe("".join(body))  # noqa: S308 — every text above is escaped
