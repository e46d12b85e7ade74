"""Deploying a build to an environment: requesting, auto-deploying, running.

A deployment is requested (a new Release with the next version and a queued
Deployment), then run by `run_deployment`, which claims it with a conditional
UPDATE so it can never run twice.
"""

import fnmatch
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from pipelines import audit
from pipelines.errors import DeploymentRunning, InvalidInput
from pipelines.logs import append_log
from pipelines.models import (
    Build,
    Deployment,
    DeploymentStatus,
    Environment,
    LogLine,
    Release,
    ReleaseCause,
)
from pipelines.models.deployments import ACTIVE_STATUSES

log = logging.getLogger(__name__)


def request_deployment(
    environment: Environment,
    build: Build,
    *,
    cause: str,
    by: AbstractBaseUser | None = None,
    description: str = "",
) -> Deployment:
    """Queue a deployment of `build`'s artifact to `environment` as its next release.

    Refuses (DeploymentRunning) while another deployment of the environment
    is queued or running, naming it.
    """
    if environment.driver and build.artifact_id is None:
        raise InvalidInput(
            f"Build {build.short_sha} has no artifact to deploy; CI uploads it with "
            f"`slipway push --artifact`.",
            field="sha",
        )
    with transaction.atomic():
        env = Environment.objects.select_for_update().get(pk=environment.pk)
        running = env.deployments.filter(status__in=ACTIVE_STATUSES).first()
        if running is not None:
            raise DeploymentRunning(
                f"Deployment #{running.pk} of {env.name} is still {running.status}; "
                f"wait for it to finish or cancel it.",
                deployment=running.pk,
            )
        version = (env.releases.aggregate(v=Max("version"))["v"] or 0) + 1
        release = Release.objects.create(
            environment=env,
            version=version,
            build=build,
            artifact_id=build.artifact_id,
            cause=cause,
            description=description or ReleaseCause(cause).label,
            created_by=by,
        )
        deployment = Deployment.objects.create(environment=env, release=release, requested_by=by)
        audit.record(
            "deployment_requested",
            f"{release.label} of {build.short_sha} to {env.name} ({release.description})",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            deployment=deployment.pk,
            sha=build.sha,
        )
        transaction.on_commit(lambda: schedule(deployment.pk))
    return deployment


def auto_deploy(build: Build) -> list[Deployment]:
    """Deploy a passing build with an artifact to every environment whose branch glob matches.

    Once per build and environment, however often CI re-posts it.
    """
    deployments = []
    for env in build.pipeline.environments.exclude(branch=""):
        if not fnmatch.fnmatchcase(build.branch, env.branch):
            continue
        if env.releases.filter(build=build, cause=ReleaseCause.AUTO_DEPLOY).exists():
            continue
        try:
            deployments.append(
                request_deployment(
                    env,
                    build,
                    cause=ReleaseCause.AUTO_DEPLOY,
                    description=f"auto-deploy of {build.branch}",
                )
            )
        except DeploymentRunning as exc:
            log.warning("auto-deploy of %s to %s postponed: %s", build.sha, env, exc.message)
    return deployments


def schedule(deployment_id: int) -> None:
    """Hand a queued deployment to whoever runs deployments."""
    run_deployment(deployment_id)


def run_deployment(deployment_id: int) -> Deployment | None:
    """Run a queued deployment. Returns None when someone else already claimed it."""
    now = timezone.now()
    claimed = Deployment.objects.filter(pk=deployment_id, status=DeploymentStatus.QUEUED).update(
        status=DeploymentStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    deployment = Deployment.objects.select_related(
        "release__build", "release__artifact", "environment__pipeline"
    ).get(pk=deployment_id)
    env = deployment.environment
    if not env.driver:
        append_log(
            deployment,
            [(LogLine.Stream.SYSTEM, f"{env.name} has no driver: recording the release only.")],
        )
    return finish_deployment(deployment, DeploymentStatus.SUCCEEDED)


def finish_deployment(deployment: Deployment, status: str, error: str = "") -> Deployment:
    now = timezone.now()
    release = deployment.release
    env = deployment.environment
    with transaction.atomic():
        deployment.status = status
        deployment.finished_at = now
        deployment.error = error
        deployment.save(update_fields=["status", "finished_at", "error"])
        if status == DeploymentStatus.SUCCEEDED:
            release.deployed_at = now
            release.save(update_fields=["deployed_at"])
            Environment.objects.filter(pk=env.pk).update(current_release=release)
            env.current_release = release
        audit.record(
            f"deployment_{status}",
            f"{release.label} of {release.build.short_sha} to {env.name}: {status}",
            pipeline=env.pipeline,
            environment=env,
            deployment=deployment.pk,
        )
    return deployment
