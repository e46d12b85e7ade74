"""The release steps' keys of an environment: maintenance_on_command, backup_command,
release_command, maintenance_off_command and backup_timeout (docs/deploying.md, "Release
steps"). Called by the checker, which owns the file, line and field of each message."""

from collections.abc import Callable
from typing import Any, NoReturn

from pipelines.durations import parse_duration

# The drivers whose release steps are the environment's own commands; heroku turns
# maintenance on and off through the app's flag, so it takes the backup only.
COMMAND_KEYS = ("maintenance_on_command", "backup_command", "maintenance_off_command")
HEROKU_KEYS = ("backup_command", "backup_timeout")
KEYS_BY_DRIVER = {
    "local": (*COMMAND_KEYS, "backup_timeout"),
    "script": (*COMMAND_KEYS, "release_command", "backup_timeout"),
    "heroku": HEROKU_KEYS,
}
# Every command the release steps run, checked alike (release_command: local and script).
COMMANDS = (*COMMAND_KEYS, "release_command")
MAX_COMMAND_LENGTH = 4096
BACKUP_TIMEOUT_MAX = 86400  # a day; SLIPWAY_MAX_DEPLOY_SECONDS bounds the whole deployment

Fail = Callable[..., NoReturn]  # fail(problem, key=…): the checker names file and line


def reject_misplaced(table: dict[str, Any], driver: str, fail: Fail) -> None:
    """A release-step key the environment's driver does not take, said the helpful way."""
    for key in table:
        if key not in COMMANDS + ("backup_timeout",) or key in KEYS_BY_DRIVER.get(driver, ()):
            continue
        if driver == "heroku" and key.startswith("maintenance_"):
            fail(
                f'{key} is not for driver "heroku": it turns the app\'s maintenance mode on '
                "and off through Heroku's API (it takes backup_command)",
                key=key,
            )
        if driver not in KEYS_BY_DRIVER:
            fail(
                f"{key} needs a driver: without one a deployment only records the release", key=key
            )


def check_release_steps(settings: dict[str, Any], fail: Fail) -> None:
    """Check the keys in a driver's settings (already typed); backup_timeout becomes seconds."""
    for key in COMMANDS:
        if key in settings:
            check_command(settings[key], key, fail)
    on, off = "maintenance_on_command" in settings, "maintenance_off_command" in settings
    if on and not off:
        fail(
            "maintenance_on_command needs maintenance_off_command: Slipway turns maintenance "
            "off after every deployment that turned it on, even a failed one",
            key="maintenance_on_command",
        )
    if off and not on:
        fail(
            "maintenance_off_command needs maintenance_on_command (nothing turns maintenance on)",
            key="maintenance_off_command",
        )
    if "backup_timeout" in settings:
        if "backup_command" not in settings:
            fail("backup_timeout needs backup_command (the backup it limits)", key="backup_timeout")
        settings["backup_timeout"] = timeout_seconds(settings["backup_timeout"], fail)


def check_command(command: str, key: str, fail: Fail) -> None:
    if not command.strip():
        fail(f"{key} must not be empty (leave it out to skip the step)", key=key)
    if len(command) > MAX_COMMAND_LENGTH:
        fail(f"{key} is longer than {MAX_COMMAND_LENGTH} characters: put it in a script", key=key)
    if "\x00" in command:
        fail(f"{key} holds a NUL character", key=key)


def timeout_seconds(value: int | float | str, fail: Fail) -> int | float:
    if isinstance(value, str):
        duration = parse_duration(value)
        value = duration.total_seconds() if duration else -1
        value = int(value) if value == int(value) else value
    if not 0 < value <= BACKUP_TIMEOUT_MAX:
        fail(
            f"backup_timeout must be seconds above 0 and at most {BACKUP_TIMEOUT_MAX}, or a "
            'duration like "30m" or "2h"',
            key="backup_timeout",
        )
    return value
