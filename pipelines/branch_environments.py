"""Per-branch environments: made from a template by a branch's first passing build, deleted
by hand or after `idle_days` without builds (docs/branch-environments.md).

A template (`per_branch = true`, `branch = "feature/*"`) never deploys. The first passing
build of `feature/gift-cards` makes `feature-gift-cards` from it: its settings with
{branch} (the slug, never the raw branch name) and {port} (the lowest free port of the
template's range) filled in. Under the template's row lock, and backed by the database's
unique constraints, so two builds at once make one environment and two environments never
share a port.

Deleting keeps the environment's history (deployments, logs, releases, audit): the row is
marked `removed_at` at once (it leaves the board, nothing more deploys there), then the
template's `stop_command` stops its app, then its port is freed. A removal cut short by a
power cut is finished by the next expiry round (`finish_removals`), which runs the stop
command again: stop commands must not mind an app that is already stopped.
"""

import logging
import os
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from pipelines import audit
from pipelines.branch_names import MAX_NAME, disambiguated, render, slugify_branch
from pipelines.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import Build, Environment
from pipelines.roles import Role, can_lead, has_role
from pipelines.runner.context import server_variables
from pipelines.statuses import ACTIVE_STATUSES

logger = logging.getLogger(__name__)
MAX_STOP_OUTPUT = 2000  # characters of the stop command's output kept in a message


class PortsExhausted(Conflict):
    pass


# Making one


def environment_for_branch(template: Environment, build: Build) -> Environment | None:
    """The branch environment of `build.branch` made from `template`: the existing one, or
    a new one. None (audited, logged) when none can be made: no free port left."""
    existing = template.branch_environments.filter(source_branch=build.branch).first()
    if existing is not None:
        return existing
    try:
        try:
            return _create(template, build)
        except IntegrityError:
            # Another build of the branch made it meanwhile (SQLite has no row lock to wait
            # on), or a template with an overlapping range took the port: then try again.
            existing = template.branch_environments.filter(source_branch=build.branch).first()
            return existing or _create(template, build)
    except PortsExhausted as exc:
        logger.warning("%s", exc.message)
        audit.record(
            "branch_environment_refused",
            exc.message,
            pipeline=template.pipeline,
            environment=template,
            sha=build.sha,
            branch=build.branch,
        )
        return None


def _create(template: Environment, build: Build) -> Environment:
    with transaction.atomic():
        template = Environment.objects.select_for_update().get(pk=template.pk)
        existing = template.branch_environments.filter(source_branch=build.branch).first()
        if existing is not None:
            return existing
        name = _free_name(template, build.branch)
        port = _free_port(template, build.branch)
        env = Environment(
            pipeline=template.pipeline,
            name=name,
            position=template.position,
            template=template,
            source_branch=build.branch,
            port=port,
        )
        _fill_from_template(env, template)
        env.save()
        at = f" on port {port}" if port else ""
        audit.record(
            "branch_environment_created",
            f"{name} created from {template.name} for branch {build.branch}{at} "
            f"(first passing build {build.short_sha})",
            pipeline=template.pipeline,
            environment=env,
            sha=build.sha,
            branch=build.branch,
            template=template.name,
            port=port,
        )
        publish_after_commit(publish_board, template.pipeline_id)
    return env


def _fill_from_template(env: Environment, template: Environment) -> None:
    """The template's settings with {branch} and {port} filled in for `env`."""
    values = {"name": env.name, "port": env.port}
    env.branch = ""  # it deploys its own branch, matched exactly (a name may hold "*" or "[")
    env.driver = template.driver
    env.driver_settings = render(template.driver_settings, **values)
    env.command_env = render(template.command_env, **values)
    env.secrets = dict(template.secrets)
    env.version_url = render(template.version_url, **values)
    env.version_field = template.version_field
    env.probe_interval = template.probe_interval
    stop = template.branch_settings.get("stop_command", "")
    env.branch_settings = {"stop_command": render(stop, **values)} if stop else {}


def refresh_from_template(template: Environment) -> list[str]:
    """After pipeline.toml changed a template: its branch environments take the new settings
    (each keeps its name and port). Returns the names of those that changed."""
    changed = []
    for env in template.branch_environments.select_for_update():
        before = _settings_of(env)
        env.position = template.position
        _fill_from_template(env, template)
        if _settings_of(env) != before:
            env.save()
            changed.append(env.name)
    return changed


def _settings_of(env: Environment) -> tuple:
    fields = ("position", "driver", "driver_settings", "command_env", "secrets", "version_url")
    fields += ("version_field", "probe_interval", "branch_settings")
    return tuple(getattr(env, name) for name in fields)


def _free_name(template: Environment, branch: str) -> str:
    """The branch's slug, or with a short hash of the branch when that name is taken (by a
    declared environment or another branch that slugifies alike)."""
    taken = Environment.objects.filter(pipeline=template.pipeline_id)
    for name in (slugify_branch(branch, max_length=MAX_NAME), disambiguated(branch)):
        if not taken.filter(name=name).exists():
            return name
    raise Conflict(f"No free environment name for branch {branch!r} in {template.pipeline}.")


def _free_port(template: Environment, branch: str) -> int | None:
    """The lowest port of the template's range no environment holds (a removed one keeps its
    port until its app is stopped)."""
    ports = template.branch_settings.get("ports")
    if not ports:
        return None
    low, high = ports
    used = set(
        Environment.every.filter(port__gte=low, port__lte=high).values_list("port", flat=True)
    )
    for port in range(low, high + 1):
        if port not in used:
            return port
    holders = Environment.every.filter(port__gte=low, port__lte=high).order_by("port")
    names = ", ".join(env.name for env in holders[:5]) + (", …" if len(used) > 5 else "")
    raise PortsExhausted(
        f"No environment for branch {branch[:100]!r}: all {high - low + 1} ports of "
        f"{template.name} ({low}-{high}) are taken ({names}). Delete a branch environment "
        f"(`slipway env delete NAME`) or widen ports in pipeline.toml.",
        ports=f"{low}-{high}",
    )


# Deleting one


def may_delete(env: Environment, user: AbstractBaseUser) -> bool:
    """A lead, or the role the template's delete_role names."""
    if can_lead(user):
        return True
    role = env.template.branch_settings.get("delete_role", Role.LEAD) if env.template_id else ""
    return bool(role) and has_role(user, role)


def delete_environment(
    env: Environment, *, by: AbstractBaseUser | None, reason: str = ""
) -> Environment:
    """Remove a branch environment: stop its app, free its port, keep its history.

    `by` None: Slipway itself (idle expiry). Refused (Conflict) for a declared environment
    and while one of its deployments is queued or running.
    """
    if by is not None and not may_delete(env, by):
        role = env.template.branch_settings.get("delete_role", "lead") if env.template_id else ""
        who = "a lead" if role in ("", "lead") else f"a lead or {role}"
        raise PermissionDenied(f"{by.get_username()} may not delete {env.name}: that takes {who}.")
    if not env.template_id:
        raise Conflict(
            f"{env.name} is declared in pipeline.toml, not made for a branch: only branch "
            "environments are deleted (remove it from the file instead).",
            environment=env.name,
        )
    who = by.get_username() if by is not None else "Slipway"
    with transaction.atomic():
        locked = Environment.every.select_for_update().get(pk=env.pk)
        if locked.removed_at is not None:
            raise NotFound(f"{env.name} was deleted already.", environment=env.name)
        running = locked.deployments.filter(status__in=ACTIVE_STATUSES).first()
        if running is not None:
            raise Conflict(
                f"Deployment #{running.pk} of {env.name} is still {running.status}: wait for it "
                "to end, or cancel it, then delete.",
                deployment=running.pk,
            )
        locked.removed_at = timezone.now()
        locked.waiting_build = None
        locked.save(update_fields=["removed_at", "waiting_build"])
        publish_after_commit(publish_board, env.pipeline_id)
    try:
        output = stop_app(locked)
    except StopFailed as exc:
        with transaction.atomic():  # it still runs: the environment stays, to be retried
            Environment.every.filter(pk=env.pk).update(removed_at=None)
            audit.record(
                "branch_environment_stop_failed",
                f"{env.name} not deleted: {exc}",
                pipeline=env.pipeline,
                environment=locked,
                actor=by,
            )
            publish_after_commit(publish_board, env.pipeline_id)
        raise Conflict(f"{env.name} not deleted: {exc}", environment=env.name) from exc
    return _finish_removal(locked, by=by, who=who, reason=reason, output=output)


def _finish_removal(
    env: Environment, *, by: AbstractBaseUser | None, who: str, reason: str, output: str
) -> Environment:
    with transaction.atomic():
        port = env.port
        Environment.every.filter(pk=env.pk).update(port=None)
        env.port = None
        why = f" ({reason})" if reason else ""
        freed = f", port {port} freed" if port else ""
        audit.record(
            "branch_environment_deleted",
            f"{env.name} (branch {env.source_branch}) deleted by {who}{why}: app stopped{freed}; "
            "its history is kept",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            branch=env.source_branch,
            port=port,
            reason=reason,
            stop_output=output[-MAX_STOP_OUTPUT:],
        )
        publish_after_commit(publish_board, env.pipeline_id)
    return env


class StopFailed(Exception):
    pass


def stop_app(env: Environment) -> str:
    """Run the environment's stop_command (in its directory for the local driver); its output.
    Raises StopFailed when it fails or outlasts SLIPWAY_STOP_TIMEOUT_SECONDS."""
    command = (env.branch_settings or {}).get("stop_command", "")
    if not command:
        return ""
    cwd = Path(settings.BASE_DIR)
    if env.driver == "local":
        path = Path(env.driver_settings.get("path", ""))
        target = path if path.is_absolute() else cwd / path
        if target.is_dir():
            cwd = target
    variables = {
        **server_variables(),
        **(env.command_env or {}),
        **{name: os.environ.get(variable, "") for name, variable in (env.secrets or {}).items()},
        "SLIPWAY_ENVIRONMENT": env.name,
        "SLIPWAY_PIPELINE": env.pipeline.name,
        "SLIPWAY_TARGET": str(cwd),
    }
    process = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=variables,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=settings.SLIPWAY_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise StopFailed(
            f"`{command}` did not end within {settings.SLIPWAY_STOP_TIMEOUT_SECONDS:g} s"
        ) from None
    text = out.decode("utf-8", errors="replace")[-MAX_STOP_OUTPUT:]
    if process.returncode != 0:
        tail = text.strip().splitlines()[-1:] or [""]
        raise StopFailed(f"`{command}` exited with status {process.returncode}: {tail[0]}")
    return text


# Expiry


def last_activity(env: Environment) -> datetime:
    """The newest build of the environment's branch, else when it was made."""
    newest = Build.objects.filter(pipeline=env.pipeline_id, branch=env.source_branch).aggregate(
        at=Max("updated_at")
    )["at"]
    return max(newest, env.created_at) if newest else env.created_at


def expire_idle_environments(now: datetime | None = None) -> list[str]:
    """Delete every branch environment idle (no build of its branch) for its template's
    idle_days; finish removals a power cut left half-done. Returns the names deleted."""
    now = now or timezone.now()
    finish_removals()
    expired = []
    candidates = Environment.objects.filter(
        template__isnull=False, template__branch_settings__has_key="idle_days"
    ).select_related("template", "pipeline")
    for env in candidates:
        days = env.template.branch_settings["idle_days"]
        idle = now - last_activity(env)
        if idle < timedelta(days=days):
            continue
        try:
            delete_environment(
                env, by=None, reason=f"no build of {env.source_branch} for {idle.days} days"
            )
            expired.append(env.name)
        except (Conflict, NotFound) as exc:  # deploying now, or failed to stop: next round
            logger.info("expiry of %s postponed: %s", env, exc.message)
        except Exception:
            logger.exception("expiry of %s failed; trying again later", env)
    return expired


def finish_removals() -> None:
    """A deleted environment still holding its port was cut short before its app stopped."""
    for env in Environment.every.filter(removed_at__isnull=False, port__isnull=False):
        try:
            output = stop_app(env)
        except StopFailed as exc:
            logger.warning("stopping the app of deleted %s failed: %s", env, exc)
            continue
        _finish_removal(env, by=None, who="Slipway", reason="removal finished", output=output)


@shared_task(name="pipelines.expire_branch_environments")
def expire_branch_environments_task() -> int:
    """Celery beat's round (every SLIPWAY_BRANCH_EXPIRY_SECONDS)."""
    return len(expire_idle_environments())


def check_deletable_input(reason: object) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str) or len(reason) > 200:
        raise InvalidInput("reason must be a string of at most 200 characters.", field="reason")
    return " ".join(reason.split())
