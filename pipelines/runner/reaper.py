"""The reaper: settles deployments whose runner died, and hands out what stayed queued.

A runner killed mid-deploy (SIGKILL, a lost machine) cannot say so itself. Celery beat runs
the reaper periodically (and each worker once at start); the embedded server runs it at
start-up and on a timer. For a running deployment without a heartbeat for longer than
SLIPWAY_STALE_AFTER_SECONDS, the reaper takes it over (a runner of its own, with its own
heartbeat), ends the process groups the dead runner left (pipelines/runner/processes.py),
then lets the driver settle the target from the intent the runner recorded before each
irreversible step: it finishes the remaining checks (the deployment succeeds) or puts the
previous release back (it is interrupted). What the API says an environment runs is then
what its target runs. A queued deployment nobody took is handed to a runner again, or ended.
See docs/operations.md.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from pipelines.models import Deployment, DeploymentStatus, Environment, StepStatus
from pipelines.runner.context import LostClaim, RunContext
from pipelines.runner.heartbeat import new_runner_id
from pipelines.runner.processes import end_process_groups
from pipelines.runner.queued import end_queued
from pipelines.runner.run import finish, load, settle_target, still_serving
from pipelines.runner.signals import deployment_orphaned

logger = logging.getLogger(__name__)

# A queued deployment is handed to a runner again at most this often before it is ended.
MAX_HANDOFFS = 3


def reap_stale_deployments(
    now: datetime | None = None,
    *,
    environment: Environment | None = None,
    queued_before: datetime | None = None,
) -> list[int]:
    """Settle running deployments without a recent heartbeat, hand out those queued since
    before `queued_before` (default: the stale limit ago); return the ids of those ended."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SLIPWAY_STALE_AFTER_SECONDS)
    deployments = Deployment.objects.all()
    if environment is not None:
        deployments = deployments.filter(environment=environment)
    stale = deployments.filter(status=DeploymentStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    ended = [d.pk for d in stale if settle_dead_runner(d)]
    if settings.REDIS_URL and _workers_busy(cutoff):
        return ended  # a queued deployment may just wait its turn in the broker's queue
    orphans = (
        deployments.filter(status=DeploymentStatus.QUEUED)
        .alias(waiting_since=Coalesce("handed_at", "created_at"))
        .filter(waiting_since__lt=queued_before or cutoff)
    )
    ended += [d.pk for d in orphans if hand_out_again(d, now)]
    return ended


def _workers_busy(cutoff: datetime) -> bool:
    """Some deployment runs on a live worker: the queue moves, it is only slow."""
    return Deployment.objects.filter(
        status=DeploymentStatus.RUNNING, heartbeat_at__gte=cutoff
    ).exists()


def settle_dead_runner(deployment: Deployment) -> bool:
    """Take a dead runner's deployment over and settle it; False if someone else has it."""
    runner = new_runner_id()
    taken = Deployment.objects.filter(
        pk=deployment.pk,
        status=DeploymentStatus.RUNNING,
        runner=deployment.runner,
        heartbeat_at=deployment.heartbeat_at,  # it did not beat meanwhile: its runner is gone
    ).update(runner=runner, heartbeat_at=timezone.now())
    if not taken:
        return False
    since = deployment.heartbeat_at or deployment.started_at
    deployment = load(deployment.pk)
    ctx = RunContext(deployment)
    ctx.recovering = True  # a cancel request changes nothing now
    ctx.heartbeat.start()  # settling may take a health check's time: no other reaper meanwhile
    try:
        stopped = f"Its runner stopped (no heartbeat since {since:%H:%M:%S} UTC)"
        ctx.log.system(f"{stopped}: the reaper settles this deployment.")
        end_process_groups(deployment, ctx.timing.cancel_grace, ctx.log.system)
        confirmed, what = settle_target(ctx)
        if confirmed:
            status, error = DeploymentStatus.SUCCEEDED, ""
        else:
            what = what or still_serving(ctx)
            status = DeploymentStatus.INTERRUPTED
            error = f"Interrupted: {stopped[0].lower()}{stopped[1:]}; {what}."
        ctx.log.system(f"Settled: {what}.")
        close_steps(deployment, succeeded=confirmed)
        Deployment.objects.filter(pk=deployment.pk).update(settled=_sentence(what))
        finish(ctx, status, error)
    except LostClaim:
        ctx.log.flush()
        return False
    finally:
        ctx.heartbeat.stop()
    logger.warning("deployment %s settled after its runner died: %s", deployment.pk, what)
    return not confirmed


def close_steps(deployment: Deployment, *, succeeded: bool) -> None:
    """The dead runner's unfinished steps: done by the reaper when it confirmed the release,
    else the running one failed and the rest never ran."""
    now = timezone.now()
    unfinished = deployment.steps.filter(status__in=(StepStatus.RUNNING, StepStatus.PENDING))
    if succeeded:
        unfinished.update(status=StepStatus.SUCCEEDED, finished_at=now)
        return
    deployment.steps.filter(status=StepStatus.RUNNING).update(
        status=StepStatus.FAILED, finished_at=now
    )
    deployment.steps.filter(status=StepStatus.PENDING).update(status=StepStatus.SKIPPED)


def hand_out_again(deployment: Deployment, now: datetime) -> bool:
    """A queued deployment no runner took: schedule it again (Celery: a new message;
    embedded: a thread of the server), or end it. True when it was ended."""
    if deployment.handoffs >= MAX_HANDOFFS:
        waited = f"no runner took it, though handed out {deployment.handoffs + 1} times"
        return end_queued(deployment, now, f"Interrupted while queued: {waited}.")
    handed = Deployment.objects.filter(
        pk=deployment.pk, status=DeploymentStatus.QUEUED, handed_at=deployment.handed_at
    ).update(handed_at=now, handoffs=deployment.handoffs + 1)
    if handed:
        logger.warning("deployment %s was still queued: handing it out again", deployment.pk)
        # Whoever hands deployments out listens (pipelines/apps.py); if the broker cannot
        # take it, it is ended with the reason.
        deployment_orphaned.send(sender=Deployment, deployment_id=deployment.pk)
    return False


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
