"""Small display helpers shared by the page templates and live partials."""

from django import template

from pipelines.durations import describe_duration

register = template.Library()

# Status is never shown by colour alone: each one has a symbol and a word.
SYMBOLS = {
    "passed": "✓",
    "succeeded": "✓",
    "failed": "✗",
    "interrupted": "⚠",
    "cancelled": "⊘",
    "running": "●",
    "queued": "○",
    "pending": "○",
    "skipped": "–",
}


@register.inclusion_tag("dashboard/partials/status.html")
def status(value: str, label: str = "") -> dict:
    return {"status": value, "symbol": SYMBOLS.get(value, "?"), "label": label or value}


@register.filter
def short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12] if digest else ""


@register.filter
def percent(value) -> str:
    return "" if value is None else f"{value:.1f}%"


@register.filter
def duration(value) -> str:
    """A timedelta for people: "30 min", "1 h 30 min", "45 s"."""
    return "" if value is None else describe_duration(value)
