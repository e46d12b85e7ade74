"""Small display helpers shared by the page templates and live partials."""

from django import template

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
    """A timedelta as people say it: '30 min', '2 h', '1 h 30 min', '45 s', '1 d'."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts) or "0 s"


@register.filter
def duration_text(value) -> str:
    """timedelta(minutes=30) → "30m", as pipeline.toml writes it."""
    from pipelines.checklist import format_duration

    return format_duration(value) if value else ""
