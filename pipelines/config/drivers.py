"""Checking a driver's settings in an `[[environments]]` table (which keys each driver takes:
config/schema.py, DRIVER_SETTINGS); a deployment strategy's keys are config/blue_green.py's,
the release steps' config/release_steps.py's."""

from functools import partial
from typing import Any

from pipelines.config import release_steps
from pipelines.config.blue_green import check_strategy
from pipelines.config.reader import Reader, Where
from pipelines.config.schema import DRIVER_SETTINGS, ENV_VAR_RE, ENVIRONMENT_KEYS, REQUIRED_SETTINGS


def reject_unknown_environment_keys(
    reader: Reader, where: Where, table: dict[str, Any], driver: str
) -> None:
    """Unknown keys, naming the driver a misplaced setting belongs to."""
    allowed = ENVIRONMENT_KEYS + tuple(DRIVER_SETTINGS[driver])
    for key in table:
        owner = next((d for d, keys in DRIVER_SETTINGS.items() if key in keys), None)
        if key not in allowed and owner is not None:
            current = f'driver "{driver}"' if driver else "no driver (record only)"
            reader.fail(
                where, f'{key} is a setting of driver "{owner}", but it has {current}', key=key
            )
    reader.reject_unknown(where, table, allowed)


def check_driver_settings(
    reader: Reader, where: Where, table: dict[str, Any], driver: str
) -> dict[str, Any]:
    """The driver's settings the table gives, checked (as `Environment.driver_settings`)."""
    settings = {}
    for key, types in DRIVER_SETTINGS[driver].items():
        if key not in table:
            if key in REQUIRED_SETTINGS[driver]:
                reader.fail(where, f'driver "{driver}" needs {key}', key="driver")
            continue
        value = reader.typed(where, table, key, types)
        if isinstance(value, str) and key in REQUIRED_SETTINGS[driver] and not value.strip():
            reader.fail(where, f"{key} must not be empty", key=key)
        settings[key] = value
    check_strategy(reader, where, settings)
    release_steps.check_release_steps(settings, partial(reader.fail, where))
    if "health_url" in settings:
        # Blue-green checks each slot on its own port: {port} stands for it.
        reader.url(where, settings, "health_url")
    if settings.get("health_timeout", 1) <= 0:
        reader.fail(
            where, "health_timeout must be a number of seconds above 0", key="health_timeout"
        )
    if "api_token_env" in settings and not ENV_VAR_RE.fullmatch(settings["api_token_env"]):
        reader.fail(
            where,
            f'api_token_env "{settings["api_token_env"]}" must be the name of an environment '
            "variable (the token itself does not belong in the file)",
            key="api_token_env",
        )
    return settings
