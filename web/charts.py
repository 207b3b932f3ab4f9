"""The country timeline picture, computed as plain coordinates for an inline SVG (no client script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.models import EVENT_COUNTRY_STANCE_CHANGED
from services.types import Stance

# Top to bottom: the order a reader scans from backing Russia to opposing it; "none" is absence.
LANES = ("supports", "neutral", "undeclared", "opposes", "none")
LANE_LABELS = {
    "supports": "supports",
    "neutral": "neutral",
    "undeclared": "undeclared",
    "opposes": "opposes",
    "none": "not stated",
}
WIDTH = 760
LANE_HEIGHT = 26
LEFT = 92
RIGHT = 16
TOP = 10
BOTTOM = 28


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    stance: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    lanes: list[tuple[str, str, float]]  # (stance, label, y)
    dots: list[Dot]
    step_points: str  # "x,y x,y ..." for a polyline
    ticks: list[tuple[float, str, str]]  # (x, label, text-anchor)
    left: int
    right: int
    plot_bottom: float
    step_label: str


def _lane(stance: Stance | str | None) -> str:
    if stance is None:
        return "none"
    return str(getattr(stance, "value", stance))


def timeline_chart(points: list[tuple[datetime, Stance | None, str]]) -> Chart:
    """Lay out changes (oldest first) as dots per stance lane plus a step line of the latest stance."""
    height = TOP + LANE_HEIGHT * len(LANES) + BOTTOM
    lane_y = {stance: TOP + LANE_HEIGHT * i + LANE_HEIGHT / 2 for i, stance in enumerate(LANES)}
    lanes = [(s, LANE_LABELS[s], lane_y[s]) for s in LANES]
    plot_bottom = TOP + LANE_HEIGHT * len(LANES)
    if not points:
        return Chart(WIDTH, height, lanes, [], "", [], LEFT, WIDTH - RIGHT, plot_bottom, "")
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds()
    inner = WIDTH - LEFT - RIGHT

    def x_of(when: datetime) -> float:
        if span <= 0:
            return LEFT + inner / 2
        return round(LEFT + inner * (when - start).total_seconds() / span, 1)

    dots = [
        Dot(x_of(when), lane_y[_lane(stance)], _lane(stance), f"{when:%Y-%m-%d %H:%M} — {_lane(stance)}")
        for when, stance, _kind in points
    ]
    # The country-level changes are the country's current stance over time; without them, the
    # latest stance any article reported is the best picture we have.
    country_level = [p for p in points if p[2] == EVENT_COUNTRY_STANCE_CHANGED]
    steps = country_level or points
    step_label = "current stance" if country_level else "latest reported stance"
    coords: list[str] = []
    previous_y: float | None = None
    for when, stance, _kind in steps:
        x, y = x_of(when), lane_y[_lane(stance)]
        if previous_y is not None:
            coords.append(f"{x},{previous_y}")
        coords.append(f"{x},{y}")
        previous_y = y
    if previous_y is not None:
        coords.append(f"{WIDTH - RIGHT},{previous_y}")
    if span > 0:
        middle = start + (end - start) / 2
        ticks = [
            (float(LEFT), f"{start:%Y-%m-%d}", "start"),
            (x_of(middle), f"{middle:%Y-%m-%d}", "middle"),
            (float(WIDTH - RIGHT), f"{end:%Y-%m-%d}", "end"),
        ]
    else:
        ticks = [(x_of(start), f"{start:%Y-%m-%d}", "middle")]
    return Chart(
        WIDTH, height, lanes, dots, " ".join(coords), ticks, LEFT, WIDTH - RIGHT, plot_bottom, step_label
    )
