"""One way to say a time or a duration on every page: "0.4 s", "2 min 13 s", "3 minutes ago"
with the absolute time and its zone on hover and on tap."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from dashboard.templatetags.slipway import escaped
from pipelines.durations import describe_duration


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.02, "< 0.1 s"),
        (0.426686, "0.4 s"),
        (4.25, "4.2 s"),
        (45, "45 s"),
        (133, "2 min 13 s"),
        (1800, "30 min"),
        (5400 + 7, "1 h 30 min"),
        (86400 * 2 + 3600 * 3 + 60, "2 d 3 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds, said):
    assert describe_duration(timedelta(seconds=seconds)) == said


def render(source: str, **context) -> str:
    return Template("{% load slipway %}" + source).render(Context(context))


def test_a_time_is_relative_with_the_absolute_time_and_zone_on_hover_and_tap(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    when = timezone.now() - timedelta(minutes=3)
    html = render("{% when t %}", t=when)
    local = timezone.localtime(when)
    absolute = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    assert re.fullmatch(
        rf'<time datetime="{re.escape(when.isoformat())}" title="{absolute}" '
        rf'data-absolute="{absolute}">3\xa0minutes ago</time>',
        html,
    ), html
    assert local.tzname() in ("CET", "CEST")


def test_a_moment_ago_is_just_now_and_a_clock_time_today_is_hours_and_minutes():
    now = timezone.now()
    assert ">just now</time>" in render("{% when t %}", t=now)
    soon = now + timedelta(minutes=5)
    clock = timezone.localtime(soon)
    expected = f"{clock:%H:%M}" if clock.date() == timezone.localtime().date() else None
    html = render('{% when t "clock" "data-expires" %}', t=soon)
    assert " data-expires>" in html
    if expected:
        assert f">{expected}</time>" in html


def test_no_time_is_a_dash():
    assert render("{% when t %}", t=None) == "—"


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script> & \"quoted\"",
        mark_safe("<b>kept as it is</b>"),
        gettext_lazy("a lazy <string>"),
        42,
    ],
)
def test_the_row_tags_escape_what_they_write_exactly_as_django_does(text):
    """status and when write their HTML directly (they run on every row of the long lists):
    what they let through must be what Django's conditional_escape lets through."""
    assert escaped(text) == conditional_escape(text)
    assert render("{% status s label %}", s="failed", label=text) == (
        f'<span class="status status-failed">✗ {conditional_escape(text)}</span>\n'
    )
    html = render('{% when t "relative" attrs %}', t=timezone.now(), attrs=text)
    assert f" {conditional_escape(text)}>just now</time>" in html
