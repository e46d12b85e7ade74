"""What a pipeline.toml may say: its keys, and the checked result as plain dataclasses."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pipelines.flags import Rules

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+")
ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ROOT_KEYS = ("pipeline", "environments")
PIPELINE_KEYS = ("name", "repository_url", "notifications", "public_badges", "freezes")
# [[pipeline.notifications]]: kind → the keys it takes (pipelines/notifications.py sends them).
NOTIFICATION_KEYS = {
    "slack": ("kind", "url", "mentions"),
    "webhook": ("kind", "url", "secret_env"),
    "email": ("kind", "to", "signers"),
}
ENVIRONMENT_KEYS = (
    "name",
    "branch",
    "promote_from",
    "driver",
    "env",
    "secrets",
    "checklist",
    "flags",
    "version_url",
    "version_field",
    "probe_interval",
    # A per-branch template's keys (pipelines/config/branches.py).
    "per_branch",
    "ports",
    "idle_days",
    "stop_command",
    "delete_role",
)
# The drift probe (pipelines/probe.py): a dotted path into the version JSON, and its bounds.
VERSION_FIELD_RE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,4}")
PROBE_INTERVAL_DEFAULT, PROBE_INTERVAL_MIN, PROBE_INTERVAL_MAX = 60, 5, 86400
# Names a deployment command always gets from Slipway itself (docs/security.md).
RESERVED_ENV_PREFIX = "SLIPWAY_"
CHECKLIST_KEYS = ("key", "label", "role", "valid_for")
FLAG_KEYS = ("key", "description", "default", "users", "groups", "percentage")
# Each driver's settings, key → accepted TOML types; REQUIRED_SETTINGS says which must be set.
DRIVER_SETTINGS: dict[str, dict[str, tuple[type, ...]]] = {
    "": {},
    "local": {
        "path": (str,),
        "release_command": (str,),
        # The release steps (pipelines/config/release_steps.py):
        "maintenance_on_command": (str,),
        "backup_command": (str,),
        "maintenance_off_command": (str,),
        "backup_timeout": (int, float, str),
        "restart_command": (str,),
        "health_url": (str,),
        "health_timeout": (int, float),
        # strategy = "blue-green" (docs/blue-green.md) and the settings only it takes:
        "strategy": (str,),
        "router": (str,),
        "upstream_file": (str,),
        "reload_command": (str,),
        "router_health_url": (str,),
        "blue_port": (int,),
        "green_port": (int,),
        "mirror": (bool,),
        "read_only_on_command": (str,),
        "read_only_off_command": (str,),
    },
    "script": {
        "deploy_command": (str,),
        "release_command": (str,),
        "maintenance_on_command": (str,),
        "backup_command": (str,),
        "maintenance_off_command": (str,),
        "backup_timeout": (int, float, str),
    },
    "heroku": {
        "app": (str,),
        "api_token_env": (str,),
        "backup_command": (str,),
        "backup_timeout": (int, float, str),
    },
}
REQUIRED_SETTINGS = {
    "": (),
    "local": ("path",),
    "script": ("deploy_command",),
    "heroku": ("app", "api_token_env"),
}
STRATEGIES = ("", "blue-green")
BLUE_GREEN_SETTINGS = (
    "router",
    "upstream_file",
    "reload_command",
    "router_health_url",
    "blue_port",
    "green_port",
    "mirror",
    "read_only_on_command",
    "read_only_off_command",
)
BLUE_GREEN_REQUIRED = ("router", "upstream_file", "reload_command", "blue_port", "green_port")
BLUE_GREEN_REQUIRED += ("restart_command", "health_url")
ROUTERS = ("nginx",)
TOML_TYPE_NAMES = {str: "a string", int: "an integer", float: "a float", bool: "a boolean"}


@dataclass(frozen=True)
class ChecklistItemConfig:
    key: str
    label: str
    role: str
    valid_for: timedelta | None


@dataclass(frozen=True)
class FlagConfig:
    key: str
    rules: Rules


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    branch: str
    promote_from: str | None
    driver: str
    driver_settings: dict[str, Any]
    checklist: tuple[ChecklistItemConfig, ...]
    flags: tuple[FlagConfig, ...] = ()
    version_url: str = ""
    version_field: str = "sha"
    probe_interval: int = PROBE_INTERVAL_DEFAULT
    # What deployment commands get besides the allowlist: plain values, and secrets as
    # {name the command sees: name of the server variable holding the value}.
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    # A per-branch template and its own keys (ports, idle_days, stop_command, delete_role).
    per_branch: bool = False
    branch_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    source: str
    name: str
    repository_url: str
    environments: tuple[EnvironmentConfig, ...]
    notifications: tuple[dict[str, str], ...] = ()
    public_badges: bool = False
    # [[pipeline.freezes]], checked (pipelines/config/freezes.py) as Pipeline.freezes keeps them.
    freezes: tuple[dict[str, Any], ...] = ()
