"""Checking a pipeline.toml into a PipelineConfig, naming file, line, environment and field."""

import tomllib
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from pipelines.config import release_steps
from pipelines.config.branches import check_templates_not_promoted, template_settings
from pipelines.config.freezes import check_freezes
from pipelines.config.lines import LineFinder, split_toml_error
from pipelines.config.schema import (
    BLUE_GREEN_REQUIRED,
    BLUE_GREEN_SETTINGS,
    CHECKLIST_KEYS,
    DRIVER_SETTINGS,
    ENV_VAR_RE,
    ENVIRONMENT_KEYS,
    FLAG_KEYS,
    NOTIFICATION_KEYS,
    PIPELINE_KEYS,
    PROBE_INTERVAL_DEFAULT,
    PROBE_INTERVAL_MAX,
    PROBE_INTERVAL_MIN,
    REQUIRED_SETTINGS,
    RESERVED_ENV_PREFIX,
    ROOT_KEYS,
    ROUTERS,
    SLUG_RE,
    STRATEGIES,
    TOML_TYPE_NAMES,
    VERSION_FIELD_RE,
    ChecklistItemConfig,
    EnvironmentConfig,
    FlagConfig,
    PipelineConfig,
)
from pipelines.config.signers import email_signers, slack_mentions
from pipelines.durations import parse_duration
from pipelines.errors import ConfigError, InvalidInput
from pipelines.flags import MAX_FLAGS, checked_rules, rules_problem
from pipelines.roles import Role


@dataclass(frozen=True)
class _Where:
    """A place in the file: its section (to find the line) and how to name it in messages."""

    section: tuple = ()
    label: str = ""
    environment: str | None = None


class Checker:
    """Turns TOML text into a PipelineConfig, or raises ConfigError on the first problem."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines = LineFinder(text)

    def fail(self, where: _Where, problem: str, *, key: str | None = None) -> NoReturn:
        line = self.lines.find(where.section, key)
        place = f"{self.source}, line {line}" if line else self.source
        prefix = f"{where.label}: " if where.label else ""
        raise ConfigError(
            f"{place}: {prefix}{problem}",
            source=self.source,
            line=line,
            environment=where.environment,
            field=key,
        )

    def pipeline_config(self) -> PipelineConfig:
        data = self.decode()
        root = _Where()
        self.reject_unknown(root, data, ROOT_KEYS, what="top-level key")
        pipeline = data.get("pipeline")
        if not isinstance(pipeline, dict):
            self.fail(
                root, "a [pipeline] table with the pipeline's name is required", key="pipeline"
            )
        where = _Where(section=("pipeline",), label="[pipeline]")
        self.reject_unknown(where, pipeline, PIPELINE_KEYS)
        name = self.slug(where, pipeline, "name")
        repository_url = self.url(where, pipeline, "repository_url")
        environments = self.environments(data.get("environments"))
        return PipelineConfig(
            source=self.source,
            name=name,
            repository_url=repository_url,
            environments=environments,
            notifications=self.notifications(pipeline.get("notifications", [])),
            public_badges=self.boolean(where, pipeline, "public_badges"),
            freezes=check_freezes(
                self, pipeline.get("freezes", []), [env.name for env in environments]
            ),
        )

    def notifications(self, tables: Any) -> tuple[dict[str, str], ...]:
        where = _Where(("pipeline",), "[pipeline]")
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(
                where,
                "notifications must be tables written as [[pipeline.notifications]]",
                key="notifications",
            )
        return tuple(self.notification(index, table) for index, table in enumerate(tables))

    def notification(self, index: int, table: dict[str, Any]) -> dict[str, str]:
        where = _Where(("pipeline",), f"[[pipeline.notifications]] #{index + 1}")
        kind = self.string(where, table, "kind", required=True)
        if kind not in NOTIFICATION_KEYS:
            choices = ", ".join(map(_quoted, NOTIFICATION_KEYS))
            self.fail(where, f'kind "{kind}" is not one of {choices}', key="notifications")
        self.reject_unknown(where, table, NOTIFICATION_KEYS[kind])
        target = {"kind": kind}
        if kind == "email":
            if email_signers(self, where, table):
                return {"kind": kind, "signers": True}
            target["to"] = self.string(where, table, "to", required=True)
            try:
                validate_email(target["to"])
            except ValidationError:
                self.fail(where, f'to "{target["to"]}" is not an e-mail address', key="to")
            return target
        if not self.string(where, table, "url", required=True):
            self.fail(where, "url is required", key="url")
        target["url"] = self.url(where, table, "url")
        if kind == "slack":
            target |= slack_mentions(self, where, table)
        secret_env = self.string(where, table, "secret_env")
        if secret_env:
            if not ENV_VAR_RE.fullmatch(secret_env):
                self.fail(
                    where,
                    f'secret_env "{secret_env}" must be the name of an environment variable '
                    "(the secret itself does not belong in the file)",
                    key="secret_env",
                )
            target["secret_env"] = secret_env
        return target

    def decode(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            problem, line = split_toml_error(str(exc), self.text)
            place = f"{self.source}, line {line}" if line else self.source
            raise ConfigError(
                f"{place}: not valid TOML: {problem}", source=self.source, line=line
            ) from exc

    def environments(self, tables: Any) -> tuple[EnvironmentConfig, ...]:
        root = _Where()
        if not tables:
            self.fail(root, "at least one [[environments]] table is required", key="environments")
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(
                root, "environments must be tables written as [[environments]]", key="environments"
            )
        environments: list[EnvironmentConfig] = []
        first_index: dict[str, int] = {}
        for index, table in enumerate(tables):
            env = self.environment(index, table)
            if env.name in first_index:
                where = _Where(("environments", index), f"environments[{index}]", env.name)
                self.fail(
                    where,
                    f'name "{env.name}" is already used by environments[{first_index[env.name]}]',
                    key="name",
                )
            first_index[env.name] = index
            environments.append(env)
        self.check_promotions(environments)
        check_templates_not_promoted(
            self,
            environments,
            lambda index, env: _Where(
                ("environments", index), f'environment "{env.name}"', env.name
            ),
        )
        return tuple(environments)

    def environment(self, index: int, table: dict[str, Any]) -> EnvironmentConfig:
        where = _Where(("environments", index), f"environments[{index}]")
        name = self.slug(where, table, "name")
        where = _Where(where.section, f'environment "{name}"', name)
        driver = self.string(where, table, "driver")
        if driver not in DRIVER_SETTINGS:
            choices = ", ".join(map(_quoted, DRIVER_SETTINGS))
            self.fail(where, f'driver "{driver}" is not one of {choices}', key="driver")
        release_steps.reject_misplaced(table, driver, partial(self.fail, where))
        self.reject_unknown_environment_keys(where, table, driver)
        promote_from = self.string(where, table, "promote_from") or None
        branch = self.string(where, table, "branch", max_length=200)
        checklist = self.checklist(where, table.get("checklist", []))
        if branch and checklist and table.get("per_branch") is not True:  # config/branches.py
            self.fail(
                where,
                f'branch "{branch}" would deploy builds here without the checklist: an '
                "environment with a checklist is reached by promotion only (remove branch, "
                "or the checklist)",
                key="branch",
            )
        driver_settings = self.driver_settings(where, table, driver)
        per_branch, branch_settings = template_settings(self, where, table, driver_settings)
        return EnvironmentConfig(
            name=name,
            branch=branch,
            promote_from=promote_from,
            driver=driver,
            driver_settings=driver_settings,
            per_branch=per_branch,
            branch_settings=branch_settings,
            checklist=checklist,
            flags=self.flags(where, table.get("flags", [])),
            env=self.variables(where, table, "env"),
            secrets=self.secrets(where, table),
            **self.probe(where, table),
        )

    def probe(self, where: _Where, table: dict[str, Any]) -> dict[str, Any]:
        """version_url, version_field and probe_interval of the drift probe."""
        url = self.url(where, table, "version_url")
        if url and not url.startswith(("http://", "https://")):
            self.fail(where, "version_url must be an http:// or https:// URL", key="version_url")
        field = self.string(where, table, "version_field", max_length=100) or "sha"
        if not VERSION_FIELD_RE.fullmatch(field):
            self.fail(
                where,
                f'version_field "{field}" must be a field name, or a dotted path of at most 5 '
                'names (like "build.sha")',
                key="version_field",
            )
        interval = PROBE_INTERVAL_DEFAULT
        if "probe_interval" in table:
            value = self.typed(where, table, "probe_interval", (int, str))
            if isinstance(value, str):
                duration = parse_duration(value)
                value = int(duration.total_seconds()) if duration else None
            if value is None or not PROBE_INTERVAL_MIN <= value <= PROBE_INTERVAL_MAX:
                self.fail(
                    where,
                    f"probe_interval must be seconds from {PROBE_INTERVAL_MIN} to "
                    f'{PROBE_INTERVAL_MAX}, or a duration like "30s", "2m", "1h"',
                    key="probe_interval",
                )
            interval = value
        for key in ("version_field", "probe_interval"):
            if key in table and not url:
                self.fail(where, f"{key} needs version_url (the probe asks there)", key=key)
        return {"version_url": url, "version_field": field, "probe_interval": interval}

    def variables(self, where: _Where, table: dict[str, Any], key: str) -> dict[str, str]:
        """A table of NAME = "string" for deployment commands (`env`, `secrets`)."""
        values = table.get(key, {})
        if not isinstance(values, dict):
            self.fail(where, f'{key} must be a table like {key} = {{ NAME = "…" }}', key=key)
        for name, value in values.items():
            if not ENV_VAR_RE.fullmatch(name):
                self.fail(where, f'{key}: "{name}" is not a variable name', key=key)
            if name.startswith(RESERVED_ENV_PREFIX):
                self.fail(
                    where,
                    f"{key}: {name} is set by Slipway itself ({RESERVED_ENV_PREFIX}* names "
                    "are reserved)",
                    key=key,
                )
            if not isinstance(value, str):
                self.fail(
                    where, f"{key}: {name} must be a string, not {_type_name(value)}", key=key
                )
        return dict(values)

    def secrets(self, where: _Where, table: dict[str, Any]) -> dict[str, str]:
        secrets = self.variables(where, table, "secrets")
        for name, server_variable in secrets.items():
            if not ENV_VAR_RE.fullmatch(server_variable):
                self.fail(
                    where,
                    f'secrets: {name} = "{server_variable}" must name the server variable that '
                    "holds the secret (the secret itself does not belong in the file)",
                    key="secrets",
                )
            if name in table.get("env", {}):
                self.fail(where, f"secrets: {name} is also set in env", key="secrets")
        return secrets

    def reject_unknown_environment_keys(
        self, where: _Where, table: dict[str, Any], driver: str
    ) -> None:
        allowed = ENVIRONMENT_KEYS + tuple(DRIVER_SETTINGS[driver])
        for key in table:
            owner = next((d for d, keys in DRIVER_SETTINGS.items() if key in keys), None)
            if key not in allowed and owner is not None:
                current = f'driver "{driver}"' if driver else "no driver (record only)"
                self.fail(
                    where, f'{key} is a setting of driver "{owner}", but it has {current}', key=key
                )
        self.reject_unknown(where, table, allowed)

    def driver_settings(self, where: _Where, table: dict[str, Any], driver: str) -> dict:
        settings = {}
        for key, types in DRIVER_SETTINGS[driver].items():
            if key not in table:
                if key in REQUIRED_SETTINGS[driver]:
                    self.fail(where, f'driver "{driver}" needs {key}', key="driver")
                continue
            value = self.typed(where, table, key, types)
            if isinstance(value, str) and key in REQUIRED_SETTINGS[driver] and not value.strip():
                self.fail(where, f"{key} must not be empty", key=key)
            settings[key] = value
        self.check_strategy(where, settings)
        release_steps.check_release_steps(settings, partial(self.fail, where))
        if "health_url" in settings:
            # Blue-green checks each slot on its own port: {port} stands for it.
            self.url(where, settings, "health_url")
        if settings.get("health_timeout", 1) <= 0:
            self.fail(
                where, "health_timeout must be a number of seconds above 0", key="health_timeout"
            )
        if "api_token_env" in settings and not ENV_VAR_RE.fullmatch(settings["api_token_env"]):
            self.fail(
                where,
                f'api_token_env "{settings["api_token_env"]}" must be the name of an environment '
                "variable (the token itself does not belong in the file)",
                key="api_token_env",
            )
        return settings

    def check_strategy(self, where: _Where, settings: dict[str, Any]) -> None:
        strategy = settings.get("strategy", "")
        if strategy not in STRATEGIES:
            choices = ", ".join(map(_quoted, STRATEGIES[1:]))
            self.fail(where, f'strategy "{strategy}" is not {choices} (or absent)', key="strategy")
        if strategy != "blue-green":
            for key in BLUE_GREEN_SETTINGS:
                if key in settings:
                    self.fail(where, f'{key} needs strategy = "blue-green"', key=key)
            return
        for key in BLUE_GREEN_REQUIRED:
            if key not in settings or settings[key] == "":
                self.fail(where, f'strategy "blue-green" needs {key}', key="strategy")
        if settings["router"] not in ROUTERS:
            choices = ", ".join(map(_quoted, ROUTERS))
            self.fail(where, f'router "{settings["router"]}" is not {choices}', key="router")
        for key in ("blue_port", "green_port"):
            if not 1 <= settings[key] <= 65535:
                self.fail(where, f"{key} must be a port number from 1 to 65535", key=key)
        if settings["blue_port"] == settings["green_port"]:
            self.fail(where, "green_port must differ from blue_port", key="green_port")
        if "router_health_url" in settings:
            self.url(where, settings, "router_health_url")
        if "{port}" not in settings["health_url"]:
            self.fail(
                where,
                "health_url must say {port}: each slot is checked on its own port "
                '(e.g. "http://127.0.0.1:{port}/__version__")',
                key="health_url",
            )

    def checklist(self, env_where: _Where, tables: Any) -> tuple[ChecklistItemConfig, ...]:
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(
                env_where,
                "checklist items must be tables written as [[environments.checklist]]",
                key="checklist",
            )
        items: list[ChecklistItemConfig] = []
        first_index: dict[str, int] = {}
        for index, table in enumerate(tables):
            item = self.checklist_item(env_where, index, table)
            where = _Where(
                (*env_where.section, "checklist", index),
                f"{env_where.label}: checklist[{index}]",
                env_where.environment,
            )
            if item.key in first_index:
                self.fail(
                    where,
                    f'key "{item.key}" is already used by checklist[{first_index[item.key]}]',
                    key="key",
                )
            first_index[item.key] = index
            items.append(item)
        return tuple(items)

    def checklist_item(
        self, env_where: _Where, index: int, table: dict[str, Any]
    ) -> ChecklistItemConfig:
        section = (*env_where.section, "checklist", index)
        where = _Where(section, f"{env_where.label}: checklist[{index}]", env_where.environment)
        self.reject_unknown(where, table, CHECKLIST_KEYS)
        key = self.slug(where, table, "key")
        where = _Where(section, f'{env_where.label}: checklist item "{key}"', where.environment)
        label = self.string(where, table, "label", required=True, max_length=200)
        role = self.string(where, table, "role", required=True)
        if role not in Role.values:
            self.fail(where, f'role "{role}" is not one of {", ".join(Role.values)}', key="role")
        valid_for = None
        if "valid_for" in table:
            text = self.string(where, table, "valid_for")
            valid_for = parse_duration(text)
            if valid_for is None:
                self.fail(
                    where,
                    f'valid_for "{text}" is not a duration like "45s", "30m", "2h", "1h30m", "1d"',
                    key="valid_for",
                )
        return ChecklistItemConfig(key=key, label=label, role=role, valid_for=valid_for)

    def flags(self, env_where: _Where, tables: Any) -> tuple[FlagConfig, ...]:
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(
                env_where,
                "flags must be tables written as [[environments.flags]]",
                key="flags",
            )
        if len(tables) > MAX_FLAGS:
            self.fail(env_where, f"declares more than {MAX_FLAGS} flags", key="flags")
        flags: list[FlagConfig] = []
        first_index: dict[str, int] = {}
        for index, table in enumerate(tables):
            section = (*env_where.section, "flags", index)
            where = _Where(section, f"{env_where.label}: flags[{index}]", env_where.environment)
            self.reject_unknown(where, table, FLAG_KEYS)
            key = self.string(where, table, "key", required=True)
            if problem := rules_problem("key", key):
                self.fail(where, f'key "{key}" {problem}', key="key")
            if key in first_index:
                self.fail(
                    where, f'key "{key}" is already used by flags[{first_index[key]}]', key="key"
                )
            first_index[key] = index
            where = _Where(section, f'{env_where.label}: flag "{key}"', env_where.environment)
            values = {field: table[field] for field in FLAG_KEYS[1:] if field in table}
            try:
                rules = checked_rules(**values)
            except InvalidInput as exc:
                self.fail(where, exc.message.rstrip("."), key=exc.details["field"])
            flags.append(FlagConfig(key=key, rules=rules))
        return tuple(flags)

    def check_promotions(self, environments: list[EnvironmentConfig]) -> None:
        upstream = {env.name: env.promote_from for env in environments}
        for index, env in enumerate(environments):
            where = _Where(("environments", index), f'environment "{env.name}"', env.name)
            if env.promote_from is None:
                continue
            if env.promote_from == env.name:
                self.fail(where, "promote_from names the environment itself", key="promote_from")
            if env.promote_from not in upstream:
                self.fail(
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
                self.fail(where, f"promote_from makes a cycle: {cycle}", key="promote_from")

    # Single values

    def reject_unknown(
        self, where: _Where, table: dict[str, Any], allowed: tuple, what: str = "key"
    ) -> None:
        unknown = [key for key in table if key not in allowed]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            self.fail(
                where,
                f"unknown {what}{plural} {', '.join(map(_quoted, unknown))} "
                f"(allowed: {', '.join(allowed)})",
                key=unknown[0],
            )

    def typed(self, where: _Where, table: dict[str, Any], key: str, types: tuple) -> Any:
        value = table[key]
        # bool is an int in Python, never a number in TOML.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(TOML_TYPE_NAMES[t] for t in types)
            self.fail(where, f"{key} must be {wanted}, not {_type_name(value)}", key=key)
        return value

    def string(
        self,
        where: _Where,
        table: dict[str, Any],
        key: str,
        *,
        required: bool = False,
        max_length: int | None = None,
    ) -> str:
        if key not in table:
            if required:
                self.fail(where, f"{key} is required", key=key)
            return ""
        value = self.typed(where, table, key, (str,))
        if required and not value.strip():
            self.fail(where, f"{key} must not be empty", key=key)
        if max_length and len(value) > max_length:
            self.fail(where, f"{key} is longer than {max_length} characters", key=key)
        return value

    def boolean(self, where: _Where, table: dict[str, Any], key: str) -> bool:
        return self.typed(where, table, key, (bool,)) if key in table else False

    def slug(self, where: _Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key, required=True, max_length=64)
        if not SLUG_RE.fullmatch(value):
            self.fail(where, f'{key} "{value}" may hold only letters, digits, "-" and "_"', key=key)
        return value

    def url(self, where: _Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key)
        if value:
            try:  # a template's {branch} and {port} are filled in later (config/branches.py)
                URLValidator()(value.replace("{branch}", "branch").replace("{port}", "1"))
            except ValidationError:
                self.fail(where, f'{key} "{value}" is not a URL', key=key)
        return value


def _quoted(text: str) -> str:
    return f'"{text}"'


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return TOML_TYPE_NAMES.get(type(value), f"a {type(value).__name__}")
