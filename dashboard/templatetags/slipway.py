"""Small display helpers shared by the page templates and live partials."""

from django import template
from django.template.defaulttags import querystring

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


@register.simple_tag(takes_context=True)
def keyset_query(context, param: str, direction: str, key: int) -> str:
    """This page's query string pointing list `param` at the rows `direction` ("before" or
    "after") `key` (dashboard/keyset.py), the rest (filters, another list's page) kept."""
    other = "after" if direction == "before" else "before"
    return querystring(context, **{f"{param}_{direction}": key, f"{param}_{other}": None})


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
