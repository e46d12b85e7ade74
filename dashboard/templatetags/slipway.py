"""Small display helpers shared by the page templates and live partials."""

from datetime import datetime, timedelta
from html import escape as escape_text

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template.defaultfilters import truncatechars
from django.template.defaulttags import querystring
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pipelines import roles
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


def escaped(text) -> str:
    """Django's conditional_escape (safe text kept, the rest escaped alike) without the lazy
    wrappers around escape and mark_safe: the tags below run on every row of the long lists,
    where format_html cost more than the rest of the tag (docs/architecture.md)."""
    if isinstance(text, Promise):
        text = str(text)
    return text.__html__() if hasattr(text, "__html__") else escape_text(str(text))


@register.simple_tag
def status(value: str, label: str = "") -> str:
    """The status pill (symbol and word), written here rather than by a partial: the long
    lists show one on every row, and rendering a template each time was most of their cost."""
    symbol = SYMBOLS.get(value, "?")
    return SafeString(
        f'<span class="status status-{escaped(value)}">{symbol} {escaped(label or value)}</span>\n'
    )


@register.simple_tag(takes_context=True)
def keyset_query(context, param: str, direction: str, key: int) -> str:
    """This page's query string pointing list `param` at the rows `direction` ("before" or
    "after") `key` (dashboard/keyset.py), the rest (filters, another list's page) kept."""
    other = "after" if direction == "before" else "before"
    return querystring(context, **{f"{param}_{direction}": key, f"{param}_{other}": None})


@register.filter
def group_names(user) -> list[str]:
    """The header's "who": the user's groups, read once with their roles (pipelines.roles)."""
    return roles.group_names(user)


@register.filter
def build_choice(build) -> str:
    """A build as the deploy form's list names it. One filter, not five variables: the list
    holds fifty builds, and each variable costs the page more than the text it writes."""
    branch = build.branch or "no branch"
    return f"{build.short_sha} · {branch} · {build.status} · {truncatechars(build.subject, 60)}"


@register.filter
def short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12] if digest else ""


@register.filter
def percent(value) -> str:
    return "" if value is None else f"{value:.1f}%"


@register.filter
def duration(value: timedelta | None) -> str:
    """A timedelta for people: "0.4 s", "2 min 13 s", "1 h 30 min"."""
    return "" if value is None else describe_duration(value)


@register.filter
def for_roles(items: list, roles) -> list:
    """The checklist item states (pipelines.checklist.ItemState) signed by one of `roles`
    (a set, or one role's name)."""
    roles = {roles} if isinstance(roles, str) else roles
    return [state for state in items or () if state.item.role in roles]


@register.filter
def counting(items: list) -> bool:
    """At least one of these checklist item states, and all of them, count now."""
    return bool(items) and all(state.counts for state in items)


# The one way pages say a time. The words are relative ("3 min ago", "in 12 min") or a clock
# ("12:58"); the absolute time with its zone is the title (hover) and what a tap shows
# (static/js/slipway.js), and `datetime` carries it for machines.
@register.simple_tag
def when(value: datetime | None, style: str = "relative", attrs: str = "") -> str:
    """{% when release.deployed_at %} → "3 minutes ago"; {% when t "clock" %} → "12:58"
    (with the date when it is not today). `attrs` adds e.g. "data-expires" to the element."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    absolute = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    if style == "clock":
        today = timezone.localtime().date() == local.date()
        words = f"{local:%H:%M}" if today else f"{local:%b} {local.day}, {local:%H:%M}"
    else:
        words = naturaltime(value)
        words = "just now" if words == "now" else words
    absolute, extra = escaped(absolute), format_html(" {}", attrs) if attrs else ""
    return SafeString(
        f'<time datetime="{escaped(value.isoformat())}" title="{absolute}" '
        f'data-absolute="{absolute}"{extra}>{escaped(words)}</time>'
    )
