"""CI's auto-deploys: a passing build goes to every environment whose branch glob matches,
once per build and environment; where it cannot go yet (a deployment running, a freeze
window, a rollback's pin) it waits, and goes when that ends. Deploying itself is
pipelines/deploys.py's.
"""

import fnmatch
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from pipelines import audit, branch_environments, pins
from pipelines.deploy_rules import auto_deploy_held, auto_deploy_refusal, auto_deployed, check_lead
from pipelines.deploys import request_deployment
from pipelines.errors import (
    Conflict,
    DeploymentRunning,
    EnvironmentFrozen,
    EnvironmentLocked,
    NotFound,
)
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import Build, Deployment, Environment, ReleaseCause
from pipelines.statuses import ACTIVE_STATUSES

log = logging.getLogger(__name__)


def auto_deploy(build: Build) -> list[Deployment]:
    """Deploy a passing build with an artifact to every environment whose branch glob matches.

    Once per build and environment, however often CI re-posts it. Where a deployment is
    running, the build waits for it to end (`deploy_waiting_build`).
    """
    deployments = []
    for env in build.pipeline.environments.exclude(branch=""):
        if fnmatch.fnmatchcase(build.branch, env.branch):
            if env.per_branch:  # a template: the branch's own environment deploys instead
                env = branch_environments.environment_for_branch(env, build)
                if env is None:
                    continue
            deployment = _auto_deploy_to(env, build)
            if deployment is not None:
                deployments.append(deployment)
    return deployments


def deploy_waiting_build(environment_id: int) -> Deployment | None:
    """Auto-deploy the build that waited: after a deployment of the environment ended, or
    once the freeze window it waited for is over (pipelines/thaw.py)."""
    with transaction.atomic():
        env = Environment.objects.select_for_update().get(pk=environment_id)
        build = env.waiting_build
        if build is None:
            return None
        env.waiting_build = None
        env.save(update_fields=["waiting_build"])
    return _auto_deploy_to(env, build)


def deploy_waiting_build_after(sender, deployment: Deployment, **kwargs) -> None:
    """Listens to `deployment_ended` (wired in pipelines/apps.py)."""
    deploy_waiting_build(deployment.environment_id)


def unpin(environment: Environment, *, by: AbstractBaseUser) -> Deployment | None:
    """A lead lifts a rollback's pin; the newest build that waited deploys now (returned)."""
    check_lead(by, f"unpin {environment.name}")
    with transaction.atomic():
        env = Environment.objects.select_for_update().get(pk=environment.pk)
        if env.pinned_at is None:
            raise Conflict(f"{env.name} is not pinned.")
        waiting = pins.held_builds(env, limit=1)
        pins.clear(env)
        audit.record(
            "unpinned",
            f"{by.get_username()} unpinned {env.name} (pinned: {env.pin_reason})"
            + (f"; {waiting[0].short_sha} deploys now" if waiting else ""),
            pipeline=env.pipeline,
            environment=env,
            actor=by,
        )
        publish_after_commit(publish_board, env.pipeline_id)
    env.refresh_from_db()
    return _auto_deploy_to(env, waiting[0]) if waiting else None


def _auto_deploy_to(env: Environment, build: Build) -> Deployment | None:
    """Once per build and environment; None when it waits, was skipped or went already."""
    if auto_deployed(env).filter(build=build).exists():
        return None
    if (why := auto_deploy_refusal(env)) is not None:
        log.warning("auto-deploy of %s to %s refused: %s", build.sha, env, why)
        audit.record(
            "auto_deploy_refused",
            f"auto-deploy of {build.short_sha} ({build.branch}) to {env.name} refused: {why}",
            pipeline=build.pipeline,
            environment=env,
            sha=build.sha,
        )
        return None
    if auto_deploy_held(env):
        env.refresh_from_db(fields=["pinned_at", "pin_reason"])
        pins.hold(env, build)
        return None
    try:
        return request_deployment(
            env, build, cause=ReleaseCause.AUTO_DEPLOY, description=f"auto-deploy of {build.branch}"
        )
    except DeploymentRunning as exc:
        running = exc.details.get("deployment")
        _wait(env, build, f"deployment #{running}", deployment=running)
    except EnvironmentFrozen as exc:  # a freeze window: it deploys when the window ends
        window = exc.details["window"]
        _wait(env, build, f"the freeze ({window['reason']}) to end at {window['end']}")
    except NotFound as exc:  # a branch environment deleted a moment ago
        log.info("auto-deploy of %s to %s skipped: %s", build.sha, env, exc.message)
    except EnvironmentLocked as exc:  # a lock stops auto-deploys quietly, not CI's request
        log.info("auto-deploy of %s to %s skipped: %s", build.sha, env, exc.message)
        audit.record(
            "auto_deploy_skipped",
            f"auto-deploy of {build.short_sha} to {env.name} skipped: {exc.message}",
            pipeline=build.pipeline,
            environment=env,
            sha=build.sha,
        )
    return None


def _wait(env: Environment, build: Build, what: str, *, deployment: int | None = None) -> None:
    """Make `build` the environment's waiting build (unless a newer one waits or went)."""
    with transaction.atomic():
        env = (
            Environment.objects.select_for_update(of=("self",))
            .select_related("waiting_build")
            .get(pk=env.pk)
        )
        waiting = env.waiting_build
        if waiting is not None and (waiting.created_at, waiting.pk) >= (build.created_at, build.pk):
            return  # a newer build waits already (or this very one, posted again)
        newer = auto_deployed(env).filter(build__created_at__gt=build.created_at)
        if newer.exists():
            return  # CI re-posted an old build: a newer one is deploying or deployed
        env.waiting_build = build
        env.save(update_fields=["waiting_build"])
        audit.record(
            "auto_deploy_waiting",
            f"auto-deploy of {build.short_sha} to {env.name} waits for {what}"
            + (f" (instead of {waiting.short_sha})" if waiting is not None else ""),
            pipeline=build.pipeline,
            environment=env,
            sha=build.sha,
            deployment=deployment,
        )
        publish_after_commit(publish_board, env.pipeline_id)
    # The running one may have ended while this was decided: then nobody else will start it.
    # (A freeze window that ended meanwhile: pipelines/thaw.py's next tick starts it.)
    if deployment is not None and not env.deployments.filter(status__in=ACTIVE_STATUSES).exists():
        deploy_waiting_build(env.pk)
