"""Checking the keys of a per-branch template (docs/branch-environments.md).

    [[environments]]
    name = "feature"
    per_branch = true            # a template: each matching branch gets its own environment
    branch = "feature/*"
    ports = "9100-9199"          # {port}: one per branch environment, never shared
    idle_days = 14               # deleted after this many days without a build of its branch
    stop_command = "…"           # stops a branch environment's app when it is deleted
    delete_role = "developer"    # who besides a lead may delete one (default: leads only)

A template is never guarded: an environment with a checklist, one promoted to, or one
promoted from is refused, naming file, line and key.
"""

import re
from typing import Any

from pipelines.branch_names import BRANCH, PORT, uses_placeholder
from pipelines.config.reader import Reader, Where
from pipelines.roles import Role

TEMPLATE_KEYS = ("per_branch", "ports", "idle_days", "stop_command", "delete_role")
PORTS_RE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")
LOWEST_PORT, HIGHEST_PORT = 1024, 65535
MAX_PORTS = 10_000
MAX_IDLE_DAYS = 3650
TEMPLATE_DRIVERS = ("", "local", "script")
MAX_COMMAND = 2000


def template_settings(
    checker: Reader, where: Where, table: dict[str, Any], driver_settings: dict[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """(per_branch, branch_settings) of one [[environments]] table, checked."""
    per_branch = checker.boolean(where, table, "per_branch")
    if not per_branch:
        for key in TEMPLATE_KEYS[1:]:
            if key in table:
                checker.fail(where, f"{key} needs per_branch = true", key=key)
        values = [*driver_settings.items(), *table.get("env", {}).items()]
        for key, value in [*values, ("version_url", table.get("version_url", ""))]:
            if uses_placeholder(value, BRANCH):
                checker.fail(where, f"{key} says {BRANCH}, which needs per_branch = true", key=key)
        if uses_placeholder(table.get("version_url", ""), PORT):
            checker.fail(
                where, f"version_url says {PORT}, which needs per_branch = true", key="version_url"
            )
        return False, {}
    _refuse_guarded(checker, where, table)
    driver = table.get("driver", "")
    if driver not in TEMPLATE_DRIVERS:
        checker.fail(
            where,
            f'driver "{driver}" cannot deploy per branch (per_branch takes driver "local", '
            '"script" or none)',
            key="per_branch",
        )
    if driver_settings.get("strategy"):
        checker.fail(
            where,
            "per_branch cannot go with a blue-green strategy (its {port} means the slot's)",
            key="per_branch",
        )
    branch = table.get("branch", "")
    if not branch:
        checker.fail(
            where,
            'per_branch needs a branch glob like branch = "feature/*" (the branches that get '
            "an environment of their own)",
            key="per_branch",
        )
    if driver == "local" and BRANCH not in driver_settings.get("path", ""):
        checker.fail(
            where,
            f'path must say {BRANCH} (e.g. "/srv/shop/{BRANCH}"): each branch environment '
            "deploys into a directory of its own",
            key="path",
        )
    settings: dict[str, Any] = {}
    if "ports" in table:
        settings["ports"] = list(_ports(checker, where, table))
    stop = checker.string(where, table, "stop_command", max_length=MAX_COMMAND)
    if stop.strip():
        settings["stop_command"] = stop
    values = [*driver_settings.values(), *table.get("env", {}).values(), stop]
    values.append(table.get("version_url", ""))
    if "ports" not in settings and uses_placeholder(values, PORT):
        key = "stop_command" if PORT in stop else "per_branch"
        checker.fail(where, f'{PORT} needs ports = "low-high" (e.g. "9100-9199")', key=key)
    if "idle_days" in table:
        days = checker.typed(where, table, "idle_days", (int,))
        if not 1 <= days <= MAX_IDLE_DAYS:
            checker.fail(where, f"idle_days must be from 1 to {MAX_IDLE_DAYS}", key="idle_days")
        settings["idle_days"] = days
    if "delete_role" in table:
        role = checker.string(where, table, "delete_role")
        if role not in Role.values:
            choices = ", ".join(Role.values)
            checker.fail(where, f'delete_role "{role}" is not one of {choices}', key="delete_role")
        settings["delete_role"] = role
    return True, settings


def _refuse_guarded(checker: Reader, where: Where, table: dict[str, Any]) -> None:
    why = (
        "a guarded environment can never be a per-branch template (its builds would skip the "
        "promotion and sign-offs that guard it)"
    )
    if table.get("checklist"):
        checker.fail(where, f"per_branch with a checklist: {why}", key="per_branch")
    if table.get("promote_from"):
        checker.fail(where, f"per_branch with promote_from: {why}", key="per_branch")


def _ports(checker: Reader, where: Where, table: dict[str, Any]) -> tuple[int, int]:
    text = checker.string(where, table, "ports", max_length=11)
    match = PORTS_RE.fullmatch(text.replace(" ", ""))
    low, high = (int(match.group(1)), int(match.group(2))) if match else (0, -1)
    if not match or not LOWEST_PORT <= low <= high <= HIGHEST_PORT:
        checker.fail(
            where,
            f'ports "{text}" must be a range like "9100-9199", within {LOWEST_PORT}-{HIGHEST_PORT}',
            key="ports",
        )
    if high - low + 1 > MAX_PORTS:
        checker.fail(where, f"ports may span at most {MAX_PORTS} ports", key="ports")
    return low, high


def check_templates_not_promoted(checker: Reader, environments: list, where_of) -> None:
    """No environment promotes from a template: a template never runs anything to promote."""
    templates = {env.name for env in environments if env.per_branch}
    for index, env in enumerate(environments):
        if env.promote_from in templates:
            checker.fail(
                where_of(index, env),
                f'promote_from "{env.promote_from}" is a per-branch template: it never runs a '
                "release to promote (a guarded environment can never take its builds)",
                key="promote_from",
            )
