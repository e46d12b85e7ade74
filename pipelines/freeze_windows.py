"""Scheduled freeze windows: when each `[[pipeline.freezes]]` of a pipeline.toml holds.

Plain values (no models), so the runner can ask at the moment it would start a deployment.
A rule is the checked config as stored in `Pipeline.freezes` (pipelines/config/freezes.py):

- one-off: `start` and `end`, ISO 8601 with their UTC offset;
- recurring: `cron` (when each window starts, cronsim's Debian-cron semantics) and either
  `duration_seconds` (wall-clock time in the rule's zone: Friday 16:00 + 64h is Monday 08:00
  whether or not the clocks changed over the weekend) or `until` (a cron: the window ends at
  its first match after the start).

Times are computed in the rule's `timezone` (IANA), so DST moves the windows with the local
clock. See docs/freezes.md.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

__all__ = ["CronSimError", "Window", "active_window", "describe", "next_window", "rule_windows"]


@dataclass(frozen=True)
class Window:
    """One occurrence of a freeze: [start, end) in its zone, why, and where (empty: everywhere)."""

    start: datetime
    end: datetime
    reason: str
    timezone: str
    environments: tuple[str, ...] = ()

    def covers(self, environment: str | None) -> bool:
        """Whether it freezes `environment` (None: any environment of the pipeline)."""
        return environment is None or not self.environments or environment in self.environments

    def holds_at(self, at: datetime) -> bool:
        return self.start <= at < self.end

    @property
    def starts(self) -> str:
        return describe(self.start)

    @property
    def ends(self) -> str:
        return describe(self.end)

    def as_data(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reason": self.reason,
            "timezone": self.timezone,
            "environments": list(self.environments) or None,
        }


def describe(moment: datetime) -> str:
    """ "Mon 30 Nov 08:00 Europe/Berlin": in the window's own zone, as its file says it."""
    return f"{moment:%a %d %b %H:%M} {moment.tzinfo}"


def rule_windows(rule: dict, at: datetime) -> tuple[Window | None, Window | None]:
    """(the window of `rule` holding at `at`, its next window starting after `at`)."""
    zone = ZoneInfo(rule["timezone"])
    common = {
        "reason": rule["reason"],
        "timezone": rule["timezone"],
        "environments": tuple(rule.get("environments") or ()),
    }
    if rule.get("cron"):
        local = at.astimezone(zone)
        # The latest start at or before `at` (cronsim's reverse ticks strictly before).
        previous = next(
            CronSim(rule["cron"], local.replace(microsecond=0) + timedelta(seconds=1), reverse=True)
        )
        upcoming = next(CronSim(rule["cron"], local))
        current = Window(previous, _end_of(rule, previous), **common)
        later = Window(upcoming, _end_of(rule, upcoming), **common)
        return (current if current.holds_at(at) else None), later
    window = Window(
        datetime.fromisoformat(rule["start"]).astimezone(zone),
        datetime.fromisoformat(rule["end"]).astimezone(zone),
        **common,
    )
    if window.holds_at(at):
        return window, None
    return None, (window if window.start > at else None)


Pairs = list[tuple[Window | None, Window | None]]


def evaluate(rules: list[dict], at: datetime) -> Pairs:
    """Each rule's (holding, next) windows at `at`: computed once, asked per environment."""
    at = at.astimezone(UTC)
    return [rule_windows(rule, at) for rule in rules]


def active_in(pairs: Pairs, environment: str | None) -> Window | None:
    """The window freezing `environment` (the one ending last when several hold)."""
    holding = [w for w, _ in pairs if w is not None and w.covers(environment)]
    return max(holding, key=lambda w: w.end, default=None)


def next_in(pairs: Pairs, environment: str | None) -> Window | None:
    """The first window freezing `environment` that starts later."""
    coming = [w for _, w in pairs if w is not None and w.covers(environment)]
    return min(coming, key=lambda w: w.start, default=None)


def active_window(rules: list[dict], environment: str | None, at: datetime) -> Window | None:
    """The window freezing `environment` at `at` (the one ending last when several hold)."""
    return active_in(evaluate(rules, at), environment)


def next_window(rules: list[dict], environment: str | None, at: datetime) -> Window | None:
    """The first window freezing `environment` that starts after `at`."""
    return next_in(evaluate(rules, at), environment)


def _end_of(rule: dict, start: datetime) -> datetime:
    if rule.get("until"):
        return next(CronSim(rule["until"], start))
    # Wall-clock arithmetic in the zone, then normalised through UTC (a time the clocks
    # skipped becomes the real instant after the jump).
    end = start.replace(tzinfo=None) + timedelta(seconds=rule["duration_seconds"])
    return end.replace(tzinfo=start.tzinfo).astimezone(UTC).astimezone(start.tzinfo)
