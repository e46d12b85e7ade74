"""Durations the way pipeline.toml writes them ("30m", "2h", "1h30m", "45s", "1d") and the way
pages say them ("0.4 s", "2 min 13 s", "1 h 30 min")."""

import re
from datetime import timedelta

DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
# (unit in pipeline.toml, unit for people, seconds)
UNITS = (("d", "d", 86400), ("h", "h", 3600), ("m", "min", 60), ("s", "s", 1))


def parse_duration(text: str) -> timedelta | None:
    """ "1h30m" → 1:30:00; units d, h, m, s in that order. None if it is not such a duration."""
    match = DURATION_RE.fullmatch(text.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return duration or None


def format_duration(duration: timedelta) -> str:
    """timedelta(hours=1, minutes=30) → "1h30m", as pipeline.toml writes it."""
    return "".join(f"{count}{unit}" for count, unit, _ in _split(duration)) or "0s"


def describe_duration(duration: timedelta) -> str:
    """A duration for people, to the precision that matters: "0.4 s" and "9.5 s" under ten
    seconds, then whole seconds ("2 min 13 s"), and only the two largest units ("1 h 30 min",
    "2 d 3 h"). static/js/slipway.js says a running deployment's time the same way."""
    seconds = max(duration.total_seconds(), 0.0)
    if seconds < 0.1:
        return "< 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return " ".join(f"{count} {word}" for count, _, word in _split(duration)[:2])


def _split(duration: timedelta) -> list[tuple[int, str, str]]:
    seconds = int(duration.total_seconds())
    parts = []
    for unit, word, size in UNITS:
        if seconds >= size:
            parts.append((seconds // size, unit, word))
            seconds %= size
    return parts
