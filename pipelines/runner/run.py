"""The runner: one plain function that runs a queued deployment to its end.

Celery workers and the embedded server thread call the same `run_deployment`. A
deployment is claimed with a conditional UPDATE (queued → running), so however often it
is handed out it runs once. Every status or step change is published after commit.
"""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from pipelines import audit
from pipelines.drivers import MAINTENANCE_OFF, Driver, driver_for
from pipelines.live import publish_after_commit, publish_deployment
from pipelines.models import (
    Deployment,
    DeploymentStatus,
    DeploymentStep,
    Environment,
    StepStatus,
)
from pipelines.runner.context import Cancelled, LostClaim, RunContext, StepFailed
from pipelines.runner.database import DatabaseAway, retrying
from pipelines.runner.freeze_gate import refuse_if_frozen
from pipelines.runner.heartbeat import new_runner_id
from pipelines.runner.signals import announce_end

logger = logging.getLogger(__name__)

Outcome = tuple[str, str]  # (deployment status, error)


def run_deployment(deployment_id: int) -> Deployment | None:
    """Run a queued deployment. Returns None when it was not queued (someone else has it)
    or a freeze window now holds its environment (it ends, refused: runner/freeze_gate.py)."""
    if refuse_if_frozen(deployment_id) or not claim(deployment_id, new_runner_id()):
        return None
    deployment = load(deployment_id)
    publish_after_commit(publish_deployment, deployment)
    ctx = RunContext(deployment)
    ctx.heartbeat.start()
    try:
        try:
            status, error = execute(ctx)
        except LostClaim:
            raise
        except Exception as exc:  # a bug outside any step: fail now rather than wait for the reaper
            logger.exception("deployment %s crashed", deployment_id)
            status, error = DeploymentStatus.FAILED, f"Slipway failed: {type(exc).__name__}: {exc}"
        finish(ctx, status, error)
    except LostClaim:
        ctx.log.system("This runner lost its claim (marked interrupted): it stops here.")
        ctx.log.flush()
        logger.warning("deployment %s was reaped while running", deployment_id)
    finally:
        ctx.heartbeat.stop()
    deployment.refresh_from_db()
    return deployment


def load(deployment_id: int) -> Deployment:
    return Deployment.objects.select_related(
        "release__build",
        "release__artifact",
        "environment__pipeline",
        "environment__current_release",
        "requested_by",
    ).get(pk=deployment_id)


def claim(deployment_id: int, runner: str) -> bool:
    now = timezone.now()
    try:
        claimed = Deployment.objects.filter(
            pk=deployment_id, status=DeploymentStatus.QUEUED
        ).update(status=DeploymentStatus.RUNNING, started_at=now, heartbeat_at=now, runner=runner)
    except IntegrityError:  # another deployment of the environment is running
        logger.warning("deployment %s not claimed: its environment is busy", deployment_id)
        return False
    return claimed == 1


def execute(ctx: RunContext) -> Outcome:
    release, env = ctx.release, ctx.environment
    ctx.note(
        f"Deploying {release.label} ({ctx.build.short_sha}, {release.description}) "
        f"to {env.pipeline.name}/{env.name}."
    )
    driver = driver_for(ctx)
    if driver is None:
        ctx.note(f"{env.name} has no driver: recording the release only.")
        return DeploymentStatus.SUCCEEDED, ""
    steps = create_steps(ctx.deployment, driver.steps())
    for index, step in enumerate(steps):
        try:
            outcome = run_step(ctx, driver, step)
        except LostClaim:
            raise
        except DatabaseAway as exc:  # recording the step failed: the database went away
            outcome = DeploymentStatus.FAILED, f"{step.name} failed: {exc}"
        except Exception as exc:
            logger.exception("deployment %s: %s could not be recorded", ctx.deployment.pk, step)
            outcome = DeploymentStatus.FAILED, f"{step.name} failed: {type(exc).__name__}: {exc}"
        if outcome is not None:
            still_due = [s for s in steps[index + 1 :] if driver.runs_after_failure(s.name)]
            skip([s for s in steps[index + 1 :] if s not in still_due])
            recover(ctx, driver)
            for step in still_due:  # maintenance off, once the previous release is back
                run_after_failure(ctx, driver, step)
            return outcome
    return DeploymentStatus.SUCCEEDED, ""


def run_step(ctx: RunContext, driver: Driver, step: DeploymentStep) -> Outcome | None:
    """Run one step; None when it succeeded, else the deployment's outcome."""
    recovering = ctx.recovering
    ctx.recovering = recovering or driver.shielded(step.name)  # no cancel stops it
    try:
        return _run_step(ctx, driver, step)
    finally:
        ctx.recovering = recovering


def _run_step(ctx: RunContext, driver: Driver, step: DeploymentStep) -> Outcome | None:
    started = time.monotonic()
    set_step(ctx, step, StepStatus.RUNNING)
    ctx.start_step(driver.step_timeout(step.name))
    try:
        ctx.note(f"▶ {step.name}")
        driver.run_step(step.name)
    except Cancelled as exc:
        outcome = DeploymentStatus.CANCELLED, f"Cancelled by {exc.by} during {step.name}."
    except (StepFailed, DatabaseAway) as exc:
        outcome = DeploymentStatus.FAILED, f"{step.name} failed: {exc}"
    except LostClaim:
        raise
    except Exception as exc:
        logger.exception("deployment %s: %s crashed", ctx.deployment.pk, step.name)
        outcome = DeploymentStatus.FAILED, f"{step.name} failed: {type(exc).__name__}: {exc}"
    else:
        ctx.log.system(f"✔ {step.name} ({time.monotonic() - started:.1f} s)")
        set_step(ctx, step, StepStatus.SUCCEEDED)
        return None
    ctx.log.system(f"✖ {outcome[1]}")
    set_step(ctx, step, StepStatus.FAILED)
    return outcome


def recover(ctx: RunContext, driver: Driver) -> None:
    """Put the previous release back; a cancel request no longer interrupts this."""
    ctx.recovering = True
    ctx.start_step()
    try:
        driver.recover()
    except LostClaim:
        raise
    except Exception as exc:
        logger.exception("deployment %s: recovery failed", ctx.deployment.pk)
        ctx.log.system(f"Putting the previous release back failed: {exc}")


def run_after_failure(ctx: RunContext, driver: Driver, step: DeploymentStep) -> None:
    """A step that runs however the deployment ends (maintenance off): with its own row,
    time limit and log; a cancel request does not stop it, and its failure only adds to
    the log (the deployment's outcome stays the first failure)."""
    ctx.recovering = True
    try:
        run_step(ctx, driver, step)
    except LostClaim:
        raise
    except Exception as exc:
        logger.exception("deployment %s: %s failed", ctx.deployment.pk, step.name)
        ctx.log.system(f"{step.name} failed too: {exc}")


def create_steps(deployment: Deployment, names: list[str]) -> list[DeploymentStep]:
    steps = DeploymentStep.objects.bulk_create(
        DeploymentStep(deployment=deployment, position=i, name=name)
        for i, name in enumerate(names, start=1)
    )
    publish_after_commit(publish_deployment, deployment)
    return steps


def set_step(ctx: RunContext, step: DeploymentStep, status: str) -> None:
    ctx.log.flush()  # the step's lines are stored before its status says it ended
    now = timezone.now()
    step.status = status
    if status == StepStatus.RUNNING:
        step.started_at = now
    else:
        step.finished_at = now
    retrying(
        lambda: step.save(update_fields=["status", "started_at", "finished_at"]),
        what=f"recording the {step.name} step",
    )
    publish_after_commit(publish_deployment, ctx.deployment)


def skip(steps: list[DeploymentStep]) -> None:
    try:
        DeploymentStep.objects.filter(pk__in=[s.pk for s in steps]).update(
            status=StepStatus.SKIPPED
        )
    except DatabaseError:  # putting the previous release back matters more than this
        logger.exception("the steps after a failed one could not be marked skipped")


def finish(ctx: RunContext, status: str, error: str = "") -> None:
    release, env = ctx.release, ctx.environment
    if ctx.log.dropped:
        ctx.log.system(f"{ctx.log.dropped:,} lines of output were not stored (log cap).")
    if status == DeploymentStatus.SUCCEEDED:
        ctx.log.system(f"Deployment succeeded: {release.label} is live on {env.name}.")
    else:
        serving = env.current_release.label if env.current_release_id else "nothing"
        ctx.log.system(f"Deployment {status}: {env.name} keeps serving {serving}.")
    # Once the target is settled, only the books are left: worth waiting for the database
    # as long as a reaper would (it would settle this deployment again otherwise).
    retrying(
        lambda: record_end(ctx, status, error),
        what="recording how the deployment ended",
        seconds=max(settings.SLIPWAY_DB_RETRY_SECONDS, settings.SLIPWAY_STALE_AFTER_SECONDS),
    )


def record_end(ctx: RunContext, status: str, error: str) -> None:
    """The log's last lines, then the outcome (and the new current release) in one go."""
    deployment, release, env = ctx.deployment, ctx.release, ctx.environment
    ctx.log.store()
    now = timezone.now()
    with transaction.atomic():
        ended = Deployment.objects.filter(
            pk=deployment.pk, status=DeploymentStatus.RUNNING, runner=ctx.runner
        ).update(status=status, finished_at=now, error=error)
        if not ended:
            raise LostClaim()
        deployment.status, deployment.finished_at, deployment.error = status, now, error
        if status == DeploymentStatus.SUCCEEDED:
            release.deployed_at = now
            release.save(update_fields=["deployed_at"])
            Environment.objects.filter(pk=env.pk).update(current_release=release)
            env.current_release = release
        audit.record(
            f"deployment_{status}",
            f"{release.label} of {ctx.build.short_sha} to {env.name}: {status}"
            + (f" ({error})" if error else ""),
            pipeline=env.pipeline,
            environment=env,
            deployment=deployment.pk,
        )
        publish_after_commit(publish_deployment, deployment)
        announce_end(deployment)


def settle_target(ctx: RunContext) -> tuple[bool, str]:
    """(the new release is confirmed, what was done) — from the driver, which knows how;
    then maintenance off if the dead runner had turned it on, whatever settling found."""
    driver = None
    try:
        driver = driver_for(ctx)
        if driver is None:
            return False, ""
        confirmed, what = driver.settle()
    except LostClaim:
        raise
    except Exception as exc:
        logger.exception("deployment %s: settling failed", ctx.deployment.pk)
        ctx.log.system(f"Settling the target failed: {type(exc).__name__}: {exc}")
        confirmed, what = False, f"settling the target failed ({exc}); check it by hand"
    if driver is not None and ctx.intent.get("maintenance"):
        done = end_maintenance_of_dead_runner(ctx, driver)
        what = f"{what or still_serving(ctx)}; {done}"
    return confirmed, what


def still_serving(ctx: RunContext) -> str:
    """What a settled deployment that changed nothing says."""
    env = ctx.environment
    serving = env.current_release.label if env.current_release_id else "nothing"
    return f"interrupted; {env.name} keeps serving {serving}"


def end_maintenance_of_dead_runner(ctx: RunContext, driver: Driver) -> str:
    """Maintenance off, on the step row the dead runner made for it; the settle phrase."""
    driver.in_maintenance = True
    step = ctx.deployment.steps.filter(name=MAINTENANCE_OFF).first()
    ctx.start_step(driver.step_timeout(MAINTENANCE_OFF))
    if step is None:  # a row-less deployment (made before the step existed): still do it
        try:
            driver.maintenance_off()
        except (StepFailed, DatabaseAway) as exc:
            ctx.log.system(f"✖ maintenance off failed: {exc}")
            return f"turning maintenance off failed ({exc}); check it by hand"
        return "maintenance turned off"
    run_after_failure(ctx, driver, step)
    if step.status == StepStatus.SUCCEEDED:
        return "maintenance turned off"
    return "turning maintenance off failed; check it by hand"
