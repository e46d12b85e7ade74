"""Small charts as inline SVG, drawn on the server: no script, no colour needed to read them.

Every bar carries its value written above it, bars are hatched and outlined (they read the
same in grey or printed), each chart has a title and a text summary for screen readers, and
a week without data says "—" instead of drawing nothing.
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 26, 34  # room for values above and labels below the bars


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar: "2 Mar"
    value: float | None  # None: nothing to show that week
    text: str  # above the bar: "4.5 h", "50%", "—"
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0

    @property
    def middle(self) -> float:
        return self.x + self.width / 2

    @property
    def text_y(self) -> float:
        return self.y - 6


def bar_chart(
    chart_id: str, title: str, points: Sequence[tuple[str, float | None]], fmt: Callable
) -> SafeString:
    """`points` are (label, value); `fmt` writes a value for people."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    top = max((v for _, v in points if v is not None), default=0) or 1
    bars = []
    for index, (label, value) in enumerate(points):
        height = 0 if value is None else max(plot_height * value / top, 1 if value else 0)
        bars.append(
            Bar(
                label=label,
                value=value,
                text="—" if value is None else fmt(value),
                x=round(LEFT + index * slot + slot * 0.15, 1),
                y=round(TOP + plot_height - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
            )
        )
    summary = "; ".join(f"{bar.label}: {bar.text}" for bar in bars)
    context = {
        "id": chart_id,
        "title": title,
        "summary": summary,
        "bars": bars,
        "width": WIDTH,
        "height": HEIGHT,
        "baseline": TOP + plot_height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - BOTTOM + 16,
        "every_label": len(points) <= 8,
    }
    return SafeString(render_to_string("insight/bar_chart.svg", context))


def short_duration(value: float | timedelta) -> str:
    """Seconds (or a timedelta) in one short unit: "45 s", "12 min", "4.5 h", "3.2 d"."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    for size, unit in ((86400 * 2, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            divisor = 86400 if unit == "d" else size
            return f"{seconds / divisor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds:.0f} s"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def count(value: float) -> str:
    return f"{value:g}"


SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 96, 24, 3


def sparkline(chart_id: str, title: str, values: Sequence[float | None], fmt: Callable) -> str:
    """A small line of `values` (oldest first), the last one marked; gaps where None.

    The same inputs draw the same SVG: the board draws two per card on every view, mostly
    unchanged, so the last SPARKLINES_KEPT are kept (`fmt` must be one function, not a new
    lambda each call, for that)."""
    return _sparkline(chart_id, title, tuple(values), fmt)


SPARKLINES_KEPT = 512


@functools.lru_cache(maxsize=SPARKLINES_KEPT)
def _sparkline(chart_id: str, title: str, values: tuple[float | None, ...], fmt: Callable) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(values) - 1, 1)
    points = []
    for index, value in enumerate(values):
        if value is None:
            continue
        x = SPARK_PAD + index * step if len(values) > 1 else SPARK_WIDTH / 2
        middle = SPARK_HEIGHT / 2
        y = (
            middle
            if high == low
            else SPARK_PAD + (high - value) / span * (SPARK_HEIGHT - 2 * SPARK_PAD)
        )
        points.append((round(x, 1), round(float(y), 1)))
    summary = ", ".join("—" if v is None else fmt(v) for v in values)
    context = {
        "id": chart_id,
        "title": title,
        "summary": f"oldest to newest: {summary}",
        "points": " ".join(f"{x},{y}" for x, y in points),
        "last": points[-1],
        "low": fmt(low),
        "high": fmt(high),
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
    }
    return SafeString(render_to_string("insight/sparkline.svg", context))
