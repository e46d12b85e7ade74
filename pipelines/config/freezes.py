"""Checking `[[pipeline.freezes]]`: scheduled freeze windows (docs/freezes.md).

Each table is either one-off (`start` and `end`, ISO 8601 datetimes) or recurring (`cron`,
when each window starts, and `duration` or `until`, a cron for its end), with a `reason`, a
`timezone` (IANA name, default UTC) and optionally the `environments` it freezes (default:
all of them). The result is what `Pipeline.freezes` stores and pipelines/freeze_windows.py
reads.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.config.reader import Reader, Where
from pipelines.durations import parse_duration
from pipelines.freeze_windows import CronSimError, rule_windows

FREEZE_KEYS = ("reason", "start", "end", "cron", "duration", "until", "timezone", "environments")
MAX_FREEZES = 20
MAX_REASON_CHARS = 200
# No window is longer than this: a freeze meant to last longer is a lock (`slipway lock`).
MAX_WINDOW = timedelta(days=31)
MIN_WINDOW = timedelta(minutes=1)
MAX_CRON_CHARS = 100
# How many starts of a recurring window are checked against the next one's start.
STARTS_CHECKED = 12


def check_freezes(checker: Reader, tables: Any, environments: list[str]) -> tuple[dict, ...]:
    """The checked `[[pipeline.freezes]]`, as stored; ConfigError naming line and key."""
    where = Where(("pipeline",), "[pipeline]")
    tables = checker.tables(
        where, tables, "freezes must be tables written as [[pipeline.freezes]]", key="freezes"
    )
    if len(tables) > MAX_FREEZES:
        checker.fail(where, f"declares more than {MAX_FREEZES} freezes", key="freezes")
    rules = []
    for index, table in enumerate(tables):
        where = Where(("pipeline", "freezes", index), f"[[pipeline.freezes]] #{index + 1}")
        rules.append(_FreezeChecker(checker, where, table, environments).rule())
    return tuple(rules)


class _FreezeChecker:
    def __init__(self, checker: Reader, where: Where, table: dict, environments: list[str]) -> None:
        self.checker, self.where, self.table = checker, where, table
        self.environments = environments

    def fail(self, problem: str, key: str):
        self.checker.fail(self.where, problem, key=key)

    def rule(self) -> dict:
        checker, where, table = self.checker, self.where, self.table
        checker.reject_unknown(where, table, FREEZE_KEYS)
        reason = checker.string(where, table, "reason", required=True, max_length=MAX_REASON_CHARS)
        rule: dict[str, Any] = {
            "reason": " ".join(reason.split()),
            "timezone": self.zone_name(),
            "environments": self.environment_names(),
        }
        if "cron" in table:
            rule.update(self.recurring(rule["timezone"]))
        elif "start" in table or "end" in table:
            rule.update(self.one_off(ZoneInfo(rule["timezone"])))
        else:
            self.fail(
                'give either start and end (one window, e.g. start = "2026-11-27T00:00") or '
                'cron and duration (a recurring one, e.g. cron = "0 16 * * FRI", '
                'duration = "64h")',
                key="reason",
            )
        return rule

    def zone_name(self) -> str:
        name = self.checker.string(self.where, self.table, "timezone", max_length=64) or "UTC"
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(
                f'timezone "{name}" is not an IANA time zone name (like "Europe/Berlin" or "UTC")',
                key="timezone",
            )
        return name

    def environment_names(self) -> list[str]:
        if "environments" not in self.table:
            return []
        names = self.table["environments"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail(
                'environments must be a non-empty array of environment names, like ["live"] '
                "(leave it out to freeze every environment)",
                key="environments",
            )
        for name in names:
            if name not in self.environments:
                self.fail(
                    f'environments: "{name}" is not an environment of this pipeline '
                    f"(have: {', '.join(self.environments)})",
                    key="environments",
                )
        return list(dict.fromkeys(names))

    def one_off(self, zone: ZoneInfo) -> dict:
        for key in ("duration", "until"):
            if key in self.table:
                self.fail(f"{key} goes with cron; a one-off window has start and end", key=key)
        start, end = self.moment("start", zone), self.moment("end", zone)
        if end <= start:
            self.fail(f"end {end.isoformat()} is not after start {start.isoformat()}", key="end")
        self.bounded(end - start, key="end")
        return {"start": start.isoformat(), "end": end.isoformat()}

    def moment(self, key: str, zone: ZoneInfo) -> datetime:
        if key not in self.table:
            self.fail(f"{key} is required with {'end' if key == 'start' else 'start'}", key=key)
        value = self.table[key]
        if isinstance(value, str) and len(value) <= 40:
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
        if not isinstance(value, datetime):
            self.fail(
                f'{key} must be an ISO 8601 date and time, like "2026-11-27T00:00" (in the '
                'timezone) or "2026-11-27T00:00+01:00"',
                key=key,
            )
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)  # a local time of the freeze's zone
        return value.astimezone(zone)

    def recurring(self, zone_name: str) -> dict:
        for key in ("start", "end"):
            if key in self.table:
                self.fail(f"{key} makes a one-off window; a recurring one has cron", key=key)
        rule: dict[str, Any] = {"cron": self.cron("cron")}
        if ("duration" in self.table) == ("until" in self.table):
            self.fail(
                'a cron window needs how long it lasts: duration = "64h", or until = '
                '"0 8 * * MON" (its end, the first match after each start) — one of them',
                key="cron",
            )
        if "until" in self.table:
            rule["until"] = self.cron("until")
        else:
            text = self.checker.string(self.where, self.table, "duration", max_length=20)
            duration = parse_duration(text)
            if duration is None:
                self.fail(
                    f'duration "{text}" is not a duration like "30m", "64h", "2d16h"',
                    key="duration",
                )
            self.bounded(duration, key="duration")
            rule["duration_seconds"] = int(duration.total_seconds())
        self.recurring_bounds({**rule, "timezone": zone_name, "reason": ""})
        return rule

    def cron(self, key: str) -> str:
        text = self.checker.string(self.where, self.table, key, max_length=MAX_CRON_CHARS)
        expression = " ".join(text.split())
        if len(expression.split()) != 5:
            self.fail(
                f'{key} "{text}" must be a cron expression of 5 fields: minute hour '
                'day-of-month month day-of-week, like "0 16 * * FRI"',
                key=key,
            )
        try:
            rule_windows({"cron": expression, "until": expression, "timezone": "UTC"} | _R, _NOW)
        except (CronSimError, StopIteration, ValueError) as exc:
            self.fail(f'{key} "{text}" is not a cron expression cronsim reads: {exc}', key=key)
        return expression

    def recurring_bounds(self, rule: dict) -> None:
        """Each window of the first STARTS_CHECKED is within bounds and ends before the
        next one starts (else the environment would never thaw)."""
        at = datetime.now(UTC)
        for _ in range(STARTS_CHECKED):
            _, window = rule_windows(rule, at)
            _, following = rule_windows(rule, window.start)
            key = "until" if "until" in rule else "duration"
            self.bounded(window.end - window.start, key=key)
            if window.end >= following.start:
                self.fail(
                    f"each window ({window.start:%a %d %b %H:%M} – {window.end:%a %d %b %H:%M}) "
                    f"lasts past the next start ({following.start:%a %d %b %H:%M}): the "
                    "environments would never thaw",
                    key=key,
                )
            at = window.start

    def bounded(self, length: timedelta, *, key: str) -> None:
        if length > MAX_WINDOW:
            self.fail(
                f"a window of {_days(length)} is longer than {MAX_WINDOW.days} days; "
                "for longer, lock the environment (`slipway lock`)",
                key=key,
            )
        if length < MIN_WINDOW:
            self.fail("a window must last at least a minute", key=key)


_R = {"reason": "", "duration_seconds": 60}
_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _days(length: timedelta) -> str:
    return f"{length.total_seconds() / 86400:.1f} days"
