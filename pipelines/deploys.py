"""Deploying a build to an environment: requesting, manual deploys, rollbacks and
cancelling (CI's auto-deploys, and the builds they hold back, are pipelines/auto_deploys.py).

A deployment is requested (a new Release with the next version and a queued Deployment),
then handed to the runner after commit (pipelines/runner/dispatch.py), which claims it with
a conditional UPDATE so it can never run twice.
"""

import logging
import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from pipelines import audit, freezes, locks, pins
from pipelines.deploy_rules import break_glass, check_lead, check_may_deploy
from pipelines.errors import (
    BrokerUnavailable,
    Conflict,
    DeploymentRunning,
    InvalidInput,
    NotFound,
)
from pipelines.live import publish_after_commit, publish_deployment, publish_log
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
from pipelines.runner import dispatch
from pipelines.runner.reaper import reap_stale_deployments
from pipelines.runner.signals import announce_end
from pipelines.statuses import ACTIVE_STATUSES

log = logging.getLogger(__name__)
VERSION_NUMBER = re.compile(r"0*[1-9][0-9]{0,8}")  # 1 to 999,999,999


def request_deployment(
    environment: Environment,
    build: Build,
    *,
    cause: str,
    by: AbstractBaseUser | None = None,
    description: str = "",
    bypass_reason: str = "",
    break_glass: str = "",
) -> Deployment:
    """Queue a deployment of `build`'s artifact to `environment` as its next release.

    Refuses (DeploymentRunning) while another deployment of the environment
    is queued or running, naming it. `bypass_reason` marks a lead's break-glass deploy to a
    guarded environment: it is audited and announced as "checklist bypassed". Inside a
    scheduled freeze window it refuses (EnvironmentFrozen) unless a lead gives a
    `break_glass` reason, audited and announced as "freeze bypassed" (pipelines/freezes.py).
    """
    if environment.driver and build.artifact_id is None:
        raise InvalidInput(
            f"Build {build.short_sha} has no artifact to deploy; CI uploads it with "
            f"`slipway push --artifact`.",
            field="sha",
        )
    if environment.per_branch:
        raise Conflict(
            f"{environment.name} is a per-branch template: it never deploys; each branch "
            "matching it deploys to an environment of its own.",
            environment=environment.name,
        )
    prepare_deployment(environment)
    with transaction.atomic():
        env = Environment.objects.select_for_update().filter(pk=environment.pk).first()
        if env is None:
            raise NotFound(f"{environment.name} was deleted.", environment=environment.name)
        locks.check_unlocked(env)
        window = freezes.check_not_frozen(env, by=by, reason=break_glass)
        running = env.deployments.filter(status__in=ACTIVE_STATUSES).first()
        if running is not None:
            raise DeploymentRunning(
                f"Deployment #{running.pk} of {env.name} is still {running.status}; "
                f"wait for it to finish or cancel it.",
                deployment=running.pk,
            )
        return queue_deployment(
            env,
            build,
            cause=cause,
            by=by,
            description=description,
            bypass_reason=bypass_reason,
            freeze=window,
            break_glass=break_glass,
        )


def prepare_deployment(environment: Environment) -> None:
    """What a request does before taking the environment's row lock: a dead runner's
    deployment must not block it until the reaper's next round (reaped only when something
    is active there: one query otherwise), and the workers' broker must answer."""
    if environment.deployments.filter(status__in=ACTIVE_STATUSES).exists():
        reap_stale_deployments(environment=environment)
    check_broker()


def queue_deployment(
    env: Environment,
    build: Build,
    *,
    cause: str,
    by: AbstractBaseUser | None = None,
    description: str = "",
    bypass_reason: str = "",
    freeze: freezes.Window | None = None,
    break_glass: str = "",
) -> Deployment:
    """The next release of `env` and its queued deployment, handed to the runner after
    commit. The caller has checked the broker, holds `env`'s row lock and found it
    unlocked, not frozen (or broken through: `freeze` is that window) and idle
    (`request_deployment`, `promotion.promote`)."""
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
    if bypass_reason:
        audit.record(
            "checklist_bypassed",
            f"{env.name}: checklist bypassed by {by.get_username()} because {bypass_reason} "
            f"({release.label} of {build.short_sha}, {release.description})",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            deployment=deployment.pk,
            sha=build.sha,
            reason=bypass_reason,
        )
    if freeze is not None:
        what = f"{release.label} of {build.short_sha}, {release.description}"
        freezes.record_bypass(
            env, freeze, by=by, reason=break_glass, deployment=deployment, what=what
        )
    transaction.on_commit(lambda: dispatch.start_deployment(deployment.pk))
    return deployment


def deploy_build(
    environment: Environment, build: Build, *, by: AbstractBaseUser, reason: str = ""
) -> Deployment:
    """A person's deploy of any build with an artifact (developer or lead; lead if guarded).

    To a guarded environment it is break-glass: `reason` is required (docs/security.md).
    """
    check_may_deploy(environment, by)
    glass = break_glass(environment, reason, "deploy to")
    if build.pipeline_id != environment.pipeline_id:
        raise InvalidInput(f"Build {build.short_sha} belongs to another pipeline.", field="sha")
    if build.artifact_id is None:
        raise InvalidInput(
            f"Build {build.short_sha} has no artifact to deploy; CI uploads it with "
            f"`slipway push --artifact`.",
            field="sha",
        )
    return request_deployment(
        environment,
        build,
        cause=ReleaseCause.MANUAL,
        by=by,
        description=glass.described("manual deploy", by)
        if glass.checklist
        else f"manual deploy by {by.get_username()}",
        bypass_reason=glass.checklist,
        break_glass=glass.freeze,
    )


def rollback(
    environment: Environment, version: str | int, *, by: AbstractBaseUser, reason: str = ""
) -> Deployment:
    """Roll forward to an earlier release's artifact: a NEW release labelled "rollback to vN".

    Leads only. `version` is "v3" or 3. To a guarded environment it is break-glass: `reason`
    is required.
    """
    check_lead(by, f"roll back {environment.name}")
    number = parse_version(version)
    glass = break_glass(environment, reason, "roll back")
    earlier = (
        environment.releases.select_related("build")
        .filter(version=number, deployed_at__isnull=False)
        .first()
    )
    if earlier is None:
        raise NotFound(
            f"{environment.name} has no release v{number} that was ever deployed.",
            release=f"v{number}",
        )
    if earlier.pk == environment.current_release_id:
        raise InvalidInput(f"v{number} is what {environment.name} serves now.", field="release")
    if earlier.artifact_id is None:
        raise InvalidInput(f"v{number} has no artifact to roll back to.", field="release")
    with transaction.atomic():
        deployment = request_deployment(
            environment,
            earlier.build,
            cause=ReleaseCause.ROLLBACK,
            by=by,
            description=glass.described(f"rollback to v{number}", by),
            bypass_reason=glass.checklist,
            break_glass=glass.freeze,
        )
        pins.pin(environment, by=by, reason=f"rolled back to v{number}")
    return deployment


def cancel_deployment(deployment: Deployment, *, by: AbstractBaseUser) -> Deployment:
    """A lead stops a deployment: a queued one never starts; a running one's command gets
    TERM, then KILL after the grace period (the runner does that and logs it)."""
    check_lead(by, "cancel deployments")
    who = by.get_username()
    env = deployment.environment
    with transaction.atomic():
        now = timezone.now()
        if Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.QUEUED).update(
            status=DeploymentStatus.CANCELLED,
            cancel_requested_by=by,
            finished_at=now,
            error=f"Cancelled by {who} before it started.",
        ):
            text = f"Cancelled by {who} before it started."
            announce_end(deployment)
        elif Deployment.objects.filter(
            pk=deployment.pk, status=DeploymentStatus.RUNNING, cancel_requested_by=None
        ).update(cancel_requested_by=by):
            text = f"Cancel requested by {who}: stopping the running step."
        else:
            deployment.refresh_from_db()
            if deployment.status == DeploymentStatus.RUNNING:
                return deployment  # already being cancelled
            raise Conflict(
                f"Deployment #{deployment.pk} already ended ({deployment.status}).",
                deployment=deployment.pk,
                status=deployment.status,
            )
        rows = append_log(deployment, [(LogLine.Stream.SYSTEM, text)])
        audit.record(
            "deployment_cancelled",
            f"{text} (deployment #{deployment.pk} of {env.name})",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            deployment=deployment.pk,
        )
        deployment.refresh_from_db()
        publish_after_commit(publish_log, deployment.pk, rows)
        publish_after_commit(publish_deployment, deployment)
    return deployment


def check_broker() -> None:
    """With workers (REDIS_URL), a deployment nobody can be told about is not queued at all."""
    if settings.REDIS_URL and not dispatch.broker_answers():
        raise BrokerUnavailable(
            "The workers' broker (Redis) does not answer, so nothing can be deployed now; "
            "try again when it is back."
        )


def parse_version(value: str | int) -> int:
    text = str(value).strip().lower().removeprefix("v")
    # ASCII digits, few enough for the database: str.isdigit() also takes "²".
    if not VERSION_NUMBER.fullmatch(text):
        raise InvalidInput(f"{value!r} is not a release version like v3.", field="release")
    return int(text)
