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
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from pipelines import audit
from pipelines.drivers import driver_for
from pipelines.live import publish_after_commit, publish_deployment, publish_log
from pipelines.logs import append_log
from pipelines.models import Deployment, DeploymentStatus, Environment, LogLine, StepStatus
from pipelines.runner.context import LostClaim, RunContext
from pipelines.runner.heartbeat import new_runner_id
from pipelines.runner.processes import end_process_groups
from pipelines.runner.run import finish, load
from pipelines.runner.signals import announce_end

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
    orphans = (
        deployments.filter(status=DeploymentStatus.QUEUED)
        .alias(waiting_since=Coalesce("handed_at", "created_at"))
        .filter(waiting_since__lt=queued_before or cutoff)
    )
    ended += [d.pk for d in orphans if hand_out_again(d, now)]
    return ended


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
        env = ctx.environment
        if confirmed:
            status, error = DeploymentStatus.SUCCEEDED, ""
        else:
            serving = env.current_release.label if env.current_release_id else "nothing"
            what = what or f"interrupted; {env.name} keeps serving {serving}"
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


def settle_target(ctx: RunContext) -> tuple[bool, str]:
    """(the new release is confirmed, what was done) — from the driver, which knows how."""
    try:
        driver = driver_for(ctx)
        if driver is None:
            return False, ""
        return driver.settle()
    except LostClaim:
        raise
    except Exception as exc:
        logger.exception("deployment %s: settling failed", ctx.deployment.pk)
        ctx.log.system(f"Settling the target failed: {type(exc).__name__}: {exc}")
        return False, f"settling the target failed ({exc}); check it by hand"


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
    from pipelines.runner.dispatch import start_deployment  # dispatch → tasks → this module

    if deployment.handoffs >= MAX_HANDOFFS:
        waited = f"no runner took it, though handed out {deployment.handoffs + 1} times"
        return end_queued(deployment, now, f"Interrupted while queued: {waited}.")
    handed = Deployment.objects.filter(
        pk=deployment.pk, status=DeploymentStatus.QUEUED, handed_at=deployment.handed_at
    ).update(handed_at=now, handoffs=deployment.handoffs + 1)
    if handed:
        logger.warning("deployment %s was still queued: handing it out again", deployment.pk)
        start_deployment(deployment.pk)  # ends it with the reason if the broker cannot take it
    return False


def end_queued(deployment: Deployment, now: datetime, error: str) -> bool:
    env = deployment.environment
    with transaction.atomic():
        ended = Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.QUEUED).update(
            status=DeploymentStatus.INTERRUPTED, finished_at=now, error=error, settled=error
        )
        if not ended:
            return False
        deployment.refresh_from_db()
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
    logger.warning("deployment %s ended while queued: %s", deployment.pk, error)
    return True


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
