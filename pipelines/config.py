"""Loading a pipeline.toml (DESIGN §7).

Two steps: `parse_pipeline_text` checks the whole file into plain dataclasses, raising
ConfigError (naming file, line, environment and field) on the first problem; then
`apply_pipeline` writes it in one transaction. So a bad file changes nothing.

Loading never deletes: environments and checklist items left out of the file carry history
(releases, signoffs), so they are kept and reported in `LoadReport.warnings()`.
"""

import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone

from pipelines.audit import record
from pipelines.errors import ConfigError
from pipelines.models import ChecklistItem, Environment, Pipeline
from pipelines.roles import Role

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+")
DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ROOT_KEYS = ("pipeline", "environments")
PIPELINE_KEYS = ("name", "repository_url", "notifications")
# [[pipeline.notifications]]: kind → the keys it takes (pipelines/notifications.py sends them).
NOTIFICATION_KEYS = {
    "slack": ("kind", "url"),
    "webhook": ("kind", "url", "secret_env"),
    "email": ("kind", "to"),
}
ENVIRONMENT_KEYS = ("name", "branch", "promote_from", "driver", "checklist")
CHECKLIST_KEYS = ("key", "label", "role", "valid_for")
# Each driver's settings, key → accepted TOML types; REQUIRED_SETTINGS says which must be set.
DRIVER_SETTINGS: dict[str, dict[str, tuple[type, ...]]] = {
    "": {},
    "local": {
        "path": (str,),
        "release_command": (str,),
        "restart_command": (str,),
        "health_url": (str,),
        "health_timeout": (int, float),
    },
    "script": {"deploy_command": (str,)},
    "heroku": {"app": (str,), "api_token_env": (str,)},
}
REQUIRED_SETTINGS = {
    "": (),
    "local": ("path",),
    "script": ("deploy_command",),
    "heroku": ("app", "api_token_env"),
}
TOML_TYPE_NAMES = {str: "a string", int: "an integer", float: "a float", bool: "a boolean"}


@dataclass(frozen=True)
class ChecklistItemConfig:
    key: str
    label: str
    role: str
    valid_for: timedelta | None


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    branch: str
    promote_from: str | None
    driver: str
    driver_settings: dict[str, Any]
    checklist: tuple[ChecklistItemConfig, ...]


@dataclass(frozen=True)
class PipelineConfig:
    source: str
    name: str
    repository_url: str
    environments: tuple[EnvironmentConfig, ...]
    notifications: tuple[dict[str, str], ...] = ()


@dataclass
class LoadReport:
    """What `apply_pipeline` did. Checklist items are named "environment/key"."""

    pipeline: Pipeline
    source: str
    pipeline_created: bool = False
    pipeline_updated: bool = False
    environments_created: list[str] = field(default_factory=list)
    environments_updated: list[str] = field(default_factory=list)
    environments_unchanged: list[str] = field(default_factory=list)
    items_created: list[str] = field(default_factory=list)
    items_updated: list[str] = field(default_factory=list)
    environments_left_out: list[str] = field(default_factory=list)
    items_left_out: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: "webshop (updated from x.toml): environments 1 created (qa), 0 updated, …"."""

        def count(names: list[str], what: str) -> str:
            return f"{len(names)} {what}" + (f" ({', '.join(names)})" if names else "")

        environments = ", ".join(
            [
                count(self.environments_created, "created"),
                count(self.environments_updated, "updated"),
                f"{len(self.environments_unchanged)} unchanged",
            ]
        )
        items = f"{len(self.items_created)} created, {len(self.items_updated)} updated"
        return (
            f"{self.pipeline.name} ({self.outcome} from {self.source}): "
            f"environments {environments}; checklist items {items}"
        )

    @property
    def outcome(self) -> str:
        if self.pipeline_created:
            return "created"
        changes = (self.environments_created, self.environments_updated)
        changes += (self.items_created, self.items_updated)
        return "updated" if self.pipeline_updated or any(changes) else "unchanged"

    def warnings(self) -> list[str]:
        found = []
        if self.environments_left_out:
            found.append(
                f"{self.pipeline.name}: environments not in {self.source} were kept (loading "
                f"never deletes them): {', '.join(self.environments_left_out)}"
            )
        if self.items_left_out:
            found.append(
                f"{self.pipeline.name}: checklist items not in {self.source} were retired (kept "
                f"with their history, no longer gating promotion): {', '.join(self.items_left_out)}"
            )
        return found

    def as_data(self) -> dict[str, Any]:
        """The report as JSON-ready data, for the audit log."""
        return {
            "source": self.source,
            "outcome": self.outcome,
            "environments_created": self.environments_created,
            "environments_updated": self.environments_updated,
            "items_created": self.items_created,
            "items_updated": self.items_updated,
            "environments_left_out": self.environments_left_out,
            "items_left_out": self.items_left_out,
        }


# Public entry points


def load_pipeline_file(path: str | Path) -> Pipeline:
    """Create or update the pipeline a pipeline.toml describes; raise ConfigError if it is bad."""
    return _load(read_pipeline_file(path))


def load_pipeline_text(text: str, source: str = "<string>") -> Pipeline:
    """Like `load_pipeline_file`, from text; `source` names it in error messages."""
    return _load(parse_pipeline_text(text, source))


def read_pipeline_file(path: str | Path) -> PipelineConfig:
    """Read and check a pipeline.toml without touching the database."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: the file is not UTF-8 text", source=source) from exc
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it: {exc.strerror}", source=source) from exc
    return parse_pipeline_text(text, source)


def parse_pipeline_text(text: str, source: str = "<string>") -> PipelineConfig:
    """Check a whole pipeline.toml without touching the database."""
    return _Checker(text, source).pipeline_config()


def apply_pipeline(config: PipelineConfig) -> LoadReport:
    """Write a checked config in one transaction, and record it in the audit log."""
    with transaction.atomic():
        pipeline, created = Pipeline.objects.select_for_update().get_or_create(
            name=config.name, defaults={"repository_url": config.repository_url}
        )
        report = LoadReport(pipeline=pipeline, source=config.source, pipeline_created=created)
        values = {"repository_url": config.repository_url}
        values["notifications"] = [dict(target) for target in config.notifications]
        if _assign(pipeline, **values):
            report.pipeline_updated = True
            pipeline.save()
        environments = _apply_environments(pipeline, config, report)
        for env_config in config.environments:
            _apply_checklist(environments[env_config.name], env_config.checklist, report)
        record("pipeline_loaded", report.summary(), pipeline=pipeline, **report.as_data())
    return report


def _load(config: PipelineConfig) -> Pipeline:
    report = apply_pipeline(config)
    for warning in report.warnings():
        logger.warning(warning)
    return report.pipeline


# Writing


def _assign(obj: Any, **values: Any) -> bool:
    """Set attributes; True if any of them changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _apply_environments(
    pipeline: Pipeline, config: PipelineConfig, report: LoadReport
) -> dict[str, Environment]:
    existing = {env.name: env for env in pipeline.environments.all()}
    saved: dict[str, Environment] = {}
    changed: set[str] = set()
    for position, env_config in enumerate(config.environments):
        env = existing.get(env_config.name) or Environment(pipeline=pipeline, name=env_config.name)
        is_new = env.pk is None
        if is_new:
            report.environments_created.append(env.name)
        changed_fields = _assign(
            env,
            position=position,
            branch=env_config.branch,
            driver=env_config.driver,
            driver_settings=env_config.driver_settings,
        )
        if changed_fields or is_new:
            changed.add(env.name)
            env.save()
        saved[env.name] = env
    # promote_from may name an environment further down the file: link once all exist.
    for env_config in config.environments:
        env = saved[env_config.name]
        upstream = saved[env_config.promote_from].pk if env_config.promote_from else None
        if _assign(env, promote_from_id=upstream):
            changed.add(env.name)
            env.save(update_fields=["promote_from"])
    for name in saved:
        if name not in report.environments_created:
            done = report.environments_updated if name in changed else report.environments_unchanged
            done.append(name)
    report.environments_left_out = [name for name in existing if name not in saved]
    return saved


def _apply_checklist(
    env: Environment, items: tuple[ChecklistItemConfig, ...], report: LoadReport
) -> None:
    existing = {item.key: item for item in env.checklist_items.all()}
    for position, item_config in enumerate(items):
        item = existing.get(item_config.key) or ChecklistItem(environment=env, key=item_config.key)
        is_new = item.pk is None
        changed = _assign(
            item,
            label=item_config.label,
            role=item_config.role,
            valid_for=item_config.valid_for,
            position=position,
            retired_at=None,  # back in the file: it gates promotion again
        )
        if is_new or changed:
            item.save()
            done = report.items_created if is_new else report.items_updated
            done.append(f"{env.name}/{item.key}")
    in_file = {item.key for item in items}
    left_out = [item for key, item in existing.items() if key not in in_file]
    # Kept for their sign-off history, but retired: they no longer gate promotion.
    for item in left_out:
        if item.retired_at is None:
            item.retired_at = timezone.now()
            item.save(update_fields=["retired_at"])
    report.items_left_out += [f"{env.name}/{item.key}" for item in left_out]


# Checking


@dataclass(frozen=True)
class _Where:
    """A place in the file: its section (to find the line) and how to name it in messages."""

    section: tuple = ()
    label: str = ""
    environment: str | None = None


class _Checker:
    """Turns TOML text into a PipelineConfig, or raises ConfigError on the first problem."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines = _LineFinder(text)

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
        return PipelineConfig(
            source=self.source,
            name=name,
            repository_url=repository_url,
            environments=self.environments(data.get("environments")),
            notifications=self.notifications(pipeline.get("notifications", [])),
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
            target["to"] = self.string(where, table, "to", required=True)
            try:
                validate_email(target["to"])
            except ValidationError:
                self.fail(where, f'to "{target["to"]}" is not an e-mail address', key="to")
            return target
        if not self.string(where, table, "url", required=True):
            self.fail(where, "url is required", key="url")
        target["url"] = self.url(where, table, "url")
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
            problem, line = _split_toml_error(str(exc), self.text)
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
        return tuple(environments)

    def environment(self, index: int, table: dict[str, Any]) -> EnvironmentConfig:
        where = _Where(("environments", index), f"environments[{index}]")
        name = self.slug(where, table, "name")
        where = _Where(where.section, f'environment "{name}"', name)
        driver = self.string(where, table, "driver")
        if driver not in DRIVER_SETTINGS:
            choices = ", ".join(map(_quoted, DRIVER_SETTINGS))
            self.fail(where, f'driver "{driver}" is not one of {choices}', key="driver")
        self.reject_unknown_environment_keys(where, table, driver)
        promote_from = self.string(where, table, "promote_from") or None
        return EnvironmentConfig(
            name=name,
            branch=self.string(where, table, "branch", max_length=200),
            promote_from=promote_from,
            driver=driver,
            driver_settings=self.driver_settings(where, table, driver),
            checklist=self.checklist(where, table.get("checklist", [])),
        )

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
        if "health_url" in settings:
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

    def slug(self, where: _Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key, required=True, max_length=64)
        if not SLUG_RE.fullmatch(value):
            self.fail(where, f'{key} "{value}" may hold only letters, digits, "-" and "_"', key=key)
        return value

    def url(self, where: _Where, table: dict[str, Any], key: str) -> str:
        value = self.string(where, table, key)
        if value:
            try:
                URLValidator()(value)
            except ValidationError:
                self.fail(where, f'{key} "{value}" is not a URL', key=key)
        return value


def parse_duration(text: str) -> timedelta | None:
    """ "1h30m" → 1:30:00; units d, h, m, s in that order. None if it is not such a duration."""
    match = DURATION_RE.fullmatch(text.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return duration or None


def _quoted(text: str) -> str:
    return f'"{text}"'


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return TOML_TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def _split_toml_error(message: str, text: str) -> tuple[str, int | None]:
    """tomllib (before 3.14) puts the place in the message: "... (at line 3, column 5)"."""
    match = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if match:
        problem = message[: match.start()] + f" (column {match.group(2)})"
        return problem, int(match.group(1))
    if message.endswith(" (at end of document)"):
        return message.removesuffix(" (at end of document)") + " at the end of the file", len(
            text.splitlines()
        ) or None
    return message, None


# Finding lines, best-effort: tomllib does not say where a value came from.

HEADER_RE = re.compile(r"^\s*(\[\[?)([^\[\]]+)\]")
KEY_RE = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*[=.]""")


class _LineFinder:
    """Remembers, per section of the file, the line where each key first appears."""

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[tuple, str], int] = {}
        self.headers: dict[tuple, int] = {}
        section: tuple = ()
        env = item = -1
        for number, line in enumerate(text.splitlines(), start=1):
            header = HEADER_RE.match(line)
            if header:
                parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
                is_array = header.group(1) == "[["
                if parts == ["environments"]:
                    env, item = env + (1 if is_array else 0), -1
                    section, parent = ("environments", env), ()
                elif parts == ["environments", "checklist"]:
                    item += 1 if is_array else 0
                    section, parent = (
                        ("environments", env, "checklist", item),
                        ("environments", env),
                    )
                elif parts[0] == "environments":
                    section, parent = ("other",), ("environments", env)
                elif parts[0] == "pipeline":
                    section = ("pipeline",) if len(parts) == 1 else ("other",)
                    parent = () if len(parts) == 1 else ("pipeline",)
                else:
                    section, parent = ("other",), ()
                self.headers.setdefault(section, number)
                # A sub-table header is where its key appears in the parent section.
                self.keys.setdefault((parent, parts[1] if parent else parts[0]), number)
                continue
            key = KEY_RE.match(line)
            if key:
                self.keys.setdefault((section, key.group(1)), number)

    def find(self, section: tuple, key: str | None) -> int | None:
        if key is not None and (section, key) in self.keys:
            return self.keys[(section, key)]
        return self.headers.get(section)
