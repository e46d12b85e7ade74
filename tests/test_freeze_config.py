"""[[pipeline.freezes]] in pipeline.toml: what is refused (file, line, key), and when the
windows hold across daylight saving time changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipelines.config import parse_pipeline_text
from pipelines.errors import ConfigError
from pipelines.freeze_windows import active_window, next_window
from tests.conftest import EXAMPLE_TOML

REPO_LINE = 'repository_url = "https://github.com/acme/webshop"\n'
BERLIN = ZoneInfo("Europe/Berlin")


def freezes_of(table: str):
    text = EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + "\n[[pipeline.freezes]]\n" + table)
    return parse_pipeline_text(text, "pipeline.toml").freezes


def line_of(table: str, needle: str) -> int:
    text = EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + "\n[[pipeline.freezes]]\n" + table)
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_weekend_and_a_black_friday_are_read_as_stored():
    weekend = (
        'reason = "Weekend"\ncron = "0 16 * * FRI"\nuntil = "0 8 * * MON"\n'
        'timezone = "Europe/Berlin"\n'
    )
    assert freezes_of(weekend) == (
        {
            "reason": "Weekend",
            "timezone": "Europe/Berlin",
            "environments": [],
            "cron": "0 16 * * FRI",
            "until": "0 8 * * MON",
        },
    )
    black_friday = (
        'reason = "Black Friday"\nstart = 2026-11-27T00:00:00\nend = "2026-11-30T08:00"\n'
        'environments = ["live"]\n'
    )
    assert freezes_of(black_friday)[0] == {
        "reason": "Black Friday",
        "timezone": "UTC",
        "environments": ["live"],
        "start": "2026-11-27T00:00:00+00:00",
        "end": "2026-11-30T08:00:00+00:00",
    }


REFUSALS = [
    (
        'reason = "x"\ncron = "0 16 * * FRYDAY"\nduration = "2h"\n',
        "cron",
        "is not a cron expression",
    ),
    ('reason = "x"\ncron = "0 16 * *"\nduration = "2h"\n', "cron", "5 fields"),
    (
        'reason = "x"\nstart = "2026-11-30T08:00"\nend = "2026-11-27T00:00"\n',
        "end",
        "is not after start",
    ),
    ('reason = "x"\nstart = "2026-11-27"\nend = "tomorrow"\n', "end", "ISO 8601"),
    (
        'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\ntimezone = "Mars/Olympus"\n',
        "timezone",
        "not an IANA time zone",
    ),
    (
        'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\ntimezone = "../../etc/passwd"\n',
        "timezone",
        "not an IANA time zone",
    ),
    (
        'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\nenvironments = ["stage"]\n',
        "environments",
        '"stage" is not an environment',
    ),
    (
        'reason = "x"\nstart = "2026-01-01T00:00"\nend = "2026-03-01T00:00"\n',
        "end",
        "longer than 31 days",
    ),
    ('reason = "x"\ncron = "0 16 * * FRI"\nduration = "8d"\n', "duration", "would never thaw"),
    ('reason = "x"\ncron = "0 16 * * FRI"\n', "cron", "duration"),
    # Every minute for a minute: one window ends as the next begins, so it never thaws.
    ('reason = "x"\ncron = "* * * * *"\nduration = "1m"\n', "duration", "would never thaw"),
    (
        'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\nuntil = "0 8 * * MON"\n',
        "cron",
        "one of them",
    ),
    ('cron = "0 16 * * FRI"\nduration = "2h"\n', "reason", "reason is required"),
    ('reason = "x"\n', "reason", "give either start and end"),
    (
        'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\nfrom = "now"\n',
        "from",
        'unknown key "from"',
    ),
]


@pytest.mark.parametrize(("table", "key", "problem"), REFUSALS)
def test_a_bad_freeze_is_refused_naming_file_line_and_key(table, key, problem):
    with pytest.raises(ConfigError) as refused:
        freezes_of(table)
    message = refused.value.message
    assert problem in message
    named = f"{key} =" if f"{key} =" in table else "[[pipeline.freezes]]"
    line = line_of(table, named)
    assert message.startswith(f"pipeline.toml, line {line}: [[pipeline.freezes]] #1: ")
    assert refused.value.details["field"] == key


def test_more_than_twenty_freezes_are_refused():
    table = 'reason = "x"\ncron = "0 16 * * FRI"\nduration = "2h"\n'
    many = "".join(f"\n[[pipeline.freezes]]\n{table}" for _ in range(21))
    with pytest.raises(ConfigError, match="more than 20 freezes"):
        parse_pipeline_text(EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + many), "pipeline.toml")


WEEKEND = {
    "reason": "Weekend",
    "timezone": "Europe/Berlin",
    "cron": "0 16 * * FRI",
    "duration_seconds": 64 * 3600,
}


@pytest.mark.parametrize(
    ("friday", "monday_utc_end"),
    [
        # Summer time ends on Sunday 25 Oct 2026: 08:00 on Monday is 07:00 UTC.
        (datetime(2026, 10, 23, 16, tzinfo=BERLIN), datetime(2026, 10, 26, 7, tzinfo=UTC)),
        # Summer time begins on Sunday 29 Mar 2026: 08:00 on Monday is 06:00 UTC.
        (datetime(2026, 3, 27, 16, tzinfo=BERLIN), datetime(2026, 3, 30, 6, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("end", [{"duration_seconds": 64 * 3600}, {"until": "0 8 * * MON"}])
def test_a_weekend_window_ends_monday_0800_local_across_a_dst_change(friday, monday_utc_end, end):
    rule = {**WEEKEND, "duration_seconds": None, **end}
    window = active_window([rule], "live", friday)
    assert window.start == friday
    assert window.end == monday_utc_end
    assert window.ends.startswith("Mon") and " 08:00 Europe/Berlin" in window.ends
    assert active_window([rule], "live", monday_utc_end) is None
    assert active_window([rule], "live", monday_utc_end - timedelta(seconds=1)) is not None


def test_a_window_starting_in_the_hour_the_clocks_skip_starts_after_the_jump():
    # 02:30 does not exist in Berlin on 29 Mar 2026: cronsim (like Debian cron) runs it at 03:00.
    rule = {
        "reason": "Nightly",
        "timezone": "Europe/Berlin",
        "cron": "30 2 * * *",
        "duration_seconds": 3600,
    }
    window = next_window([rule], None, datetime(2026, 3, 29, 0, tzinfo=UTC))
    assert window.start.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert window.end - window.start <= timedelta(hours=1)


def test_a_window_for_live_only_leaves_the_other_environments_alone():
    rule = {**WEEKEND, "environments": ["live"]}
    saturday = datetime(2026, 11, 21, 12, tzinfo=BERLIN)
    assert active_window([rule], "live", saturday) is not None
    assert active_window([rule], "uat", saturday) is None
    assert active_window([rule], None, saturday) is not None  # the board: any environment
