"""The reaper: a running deployment whose runner stopped beating is marked `interrupted`.

A worker killed mid-deploy (SIGKILL, a lost machine) cannot say so itself. Celery beat
runs the reaper periodically (and each worker once at start); the embedded server runs it
on a timer. The environment keeps its last good release: `current_release` only ever
moves when a deployment succeeds.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from pipelines import audit
from pipelines.live import publish_after_commit, publish_deployment, publish_log
from pipelines.logs import append_log
from pipelines.models import Deployment, DeploymentStatus, LogLine, StepStatus
from pipelines.runner.signals import announce_end

logger = logging.getLogger(__name__)


def reap_stale_deployments(now: datetime | None = None) -> list[int]:
    """Mark running deployments without a recent heartbeat interrupted; return their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_STALE_AFTER_SECONDS)
    stale = Deployment.objects.filter(status=DeploymentStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    reaped = []
    for deployment in stale.select_related(
        "environment__pipeline", "environment__current_release", "release"
    ):
        if interrupt(deployment, now):
            reaped.append(deployment.pk)
    return reaped


def interrupt(deployment: Deployment, now: datetime) -> bool:
    env = deployment.environment
    serving = env.current_release.label if env.current_release_id else "nothing"
    since = deployment.heartbeat_at or deployment.started_at
    error = (
        f"Interrupted: its runner stopped (no heartbeat since {since:%H:%M:%S} UTC). "
        f"{env.name} keeps serving {serving}."
    )
    with transaction.atomic():
        # Only if its heartbeat did not move meanwhile: a live runner is never reaped.
        ended = Deployment.objects.filter(
            pk=deployment.pk, status=DeploymentStatus.RUNNING, heartbeat_at=deployment.heartbeat_at
        ).update(status=DeploymentStatus.INTERRUPTED, finished_at=now, error=error)
        if not ended:
            return False
        deployment.status, deployment.finished_at, deployment.error = (
            DeploymentStatus.INTERRUPTED,
            now,
            error,
        )
        deployment.steps.filter(status=StepStatus.RUNNING).update(
            status=StepStatus.FAILED, finished_at=now
        )
        deployment.steps.filter(status=StepStatus.PENDING).update(status=StepStatus.SKIPPED)
        rows = append_log(deployment, [(LogLine.Stream.SYSTEM, error)])
        audit.record(
            "deployment_interrupted",
            f"{deployment.release.label} to {env.name}: {error}",
            pipeline=env.pipeline,
            environment=env,
            deployment=deployment.pk,
        )
        publish_after_commit(publish_log, deployment.pk, rows)
        publish_after_commit(publish_deployment, deployment)
        announce_end(deployment)
    logger.warning("deployment %s interrupted: %s", deployment.pk, error)
    return True
