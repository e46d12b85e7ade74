"""Checking `[[environments]]`: each table's own keys (name, driver, branch, promote_from,
env, secrets, the drift probe), then the environments together (unique names, promotions
without cycles). A driver's settings, the checklist, flags and per-branch templates are
checked by modules of their own (config/drivers.py, checklist.py, flags.py, branches.py).
"""

from functools import partial
from typing import Any

from pipelines.config import release_steps
from pipelines.config.branches import check_templates_not_promoted, template_settings
from pipelines.config.checklist import check_checklist
from pipelines.config.drivers import check_driver_settings, reject_unknown_environment_keys
from pipelines.config.flags import check_flags
from pipelines.config.reader import FirstUse, Reader, Where, quoted, type_name
from pipelines.config.schema import (
    DRIVER_SETTINGS,
    ENV_VAR_RE,
    PROBE_INTERVAL_DEFAULT,
    PROBE_INTERVAL_MAX,
    PROBE_INTERVAL_MIN,
    RESERVED_ENV_PREFIX,
    VERSION_FIELD_RE,
    EnvironmentConfig,
)
from pipelines.durations import parse_duration


def check_environments(reader: Reader, tables: Any) -> tuple[EnvironmentConfig, ...]:
    """The checked environments, in the file's order."""
    root = Where()
    if not tables:
        reader.fail(root, "at least one [[environments]] table is required", key="environments")
    tables = reader.tables(
        root, tables, "environments must be tables written as [[environments]]", key="environments"
    )
    environments: list[EnvironmentConfig] = []
    names = FirstUse(reader, "environments", "name")
    for index, table in enumerate(tables):
        env = _environment(reader, index, table)
        where = Where(("environments", index), f"environments[{index}]", env.name)
        names.note(where, env.name, index)
        environments.append(env)
    _check_promotions(reader, environments)
    check_templates_not_promoted(
        reader,
        environments,
        lambda index, env: Where(("environments", index), f'environment "{env.name}"', env.name),
    )
    return tuple(environments)


def _environment(reader: Reader, index: int, table: dict[str, Any]) -> EnvironmentConfig:
    where = Where(("environments", index), f"environments[{index}]")
    name = reader.slug(where, table, "name")
    where = Where(where.section, f'environment "{name}"', name)
    driver = reader.string(where, table, "driver")
    if driver not in DRIVER_SETTINGS:
        choices = ", ".join(map(quoted, DRIVER_SETTINGS))
        reader.fail(where, f'driver "{driver}" is not one of {choices}', key="driver")
    release_steps.reject_misplaced(table, driver, partial(reader.fail, where))
    reject_unknown_environment_keys(reader, where, table, driver)
    promote_from = reader.string(where, table, "promote_from") or None
    branch = reader.string(where, table, "branch", max_length=200)
    checklist = check_checklist(reader, where, table.get("checklist", []))
    if branch and checklist and table.get("per_branch") is not True:  # config/branches.py
        reader.fail(
            where,
            f'branch "{branch}" would deploy builds here without the checklist: an '
            "environment with a checklist is reached by promotion only (remove branch, "
            "or the checklist)",
            key="branch",
        )
    driver_settings = check_driver_settings(reader, where, table, driver)
    per_branch, branch_settings = template_settings(reader, where, table, driver_settings)
    return EnvironmentConfig(
        name=name,
        branch=branch,
        promote_from=promote_from,
        driver=driver,
        driver_settings=driver_settings,
        per_branch=per_branch,
        branch_settings=branch_settings,
        checklist=checklist,
        flags=check_flags(reader, where, table.get("flags", [])),
        env=_variables(reader, where, table, "env"),
        secrets=_secrets(reader, where, table),
        **_probe(reader, where, table),
    )


def _probe(reader: Reader, where: Where, table: dict[str, Any]) -> dict[str, Any]:
    """version_url, version_field and probe_interval of the drift probe."""
    url = reader.url(where, table, "version_url")
    if url and not url.startswith(("http://", "https://")):
        reader.fail(where, "version_url must be an http:// or https:// URL", key="version_url")
    field = reader.string(where, table, "version_field", max_length=100) or "sha"
    if not VERSION_FIELD_RE.fullmatch(field):
        reader.fail(
            where,
            f'version_field "{field}" must be a field name, or a dotted path of at most 5 '
            'names (like "build.sha")',
            key="version_field",
        )
    interval = PROBE_INTERVAL_DEFAULT
    if "probe_interval" in table:
        value = reader.typed(where, table, "probe_interval", (int, str))
        if isinstance(value, str):
            duration = parse_duration(value)
            value = int(duration.total_seconds()) if duration else None
        if value is None or not PROBE_INTERVAL_MIN <= value <= PROBE_INTERVAL_MAX:
            reader.fail(
                where,
                f"probe_interval must be seconds from {PROBE_INTERVAL_MIN} to "
                f'{PROBE_INTERVAL_MAX}, or a duration like "30s", "2m", "1h"',
                key="probe_interval",
            )
        interval = value
    for key in ("version_field", "probe_interval"):
        if key in table and not url:
            reader.fail(where, f"{key} needs version_url (the probe asks there)", key=key)
    return {"version_url": url, "version_field": field, "probe_interval": interval}


def _variables(reader: Reader, where: Where, table: dict[str, Any], key: str) -> dict[str, str]:
    """A table of NAME = "string" for deployment commands (`env`, `secrets`)."""
    values = table.get(key, {})
    if not isinstance(values, dict):
        reader.fail(where, f'{key} must be a table like {key} = {{ NAME = "…" }}', key=key)
    for name, value in values.items():
        if not ENV_VAR_RE.fullmatch(name):
            reader.fail(where, f'{key}: "{name}" is not a variable name', key=key)
        if name.startswith(RESERVED_ENV_PREFIX):
            reader.fail(
                where,
                f"{key}: {name} is set by Slipway itself ({RESERVED_ENV_PREFIX}* names "
                "are reserved)",
                key=key,
            )
        if not isinstance(value, str):
            reader.fail(where, f"{key}: {name} must be a string, not {type_name(value)}", key=key)
    return dict(values)


def _secrets(reader: Reader, where: Where, table: dict[str, Any]) -> dict[str, str]:
    secrets = _variables(reader, where, table, "secrets")
    for name, server_variable in secrets.items():
        if not ENV_VAR_RE.fullmatch(server_variable):
            reader.fail(
                where,
                f'secrets: {name} = "{server_variable}" must name the server variable that '
                "holds the secret (the secret itself does not belong in the file)",
                key="secrets",
            )
        if name in table.get("env", {}):
            reader.fail(where, f"secrets: {name} is also set in env", key="secrets")
    return secrets


def _check_promotions(reader: Reader, environments: list[EnvironmentConfig]) -> None:
    upstream = {env.name: env.promote_from for env in environments}
    for index, env in enumerate(environments):
        where = Where(("environments", index), f'environment "{env.name}"', env.name)
        if env.promote_from is None:
            continue
        if env.promote_from == env.name:
            reader.fail(where, "promote_from names the environment itself", key="promote_from")
        if env.promote_from not in upstream:
            reader.fail(
                where,
                f'promote_from "{env.promote_from}" is not an environment of this pipeline '
                f"(have: {', '.join(upstream)})",
                key="promote_from",
            )
        chain = [env.name]
        while (step := upstream[chain[-1]]) is not None and step not in chain:
            chain.append(step)
        if step == env.name:
            cycle = " → ".join([*chain, env.name])
            reader.fail(where, f"promote_from makes a cycle: {cycle}", key="promote_from")
