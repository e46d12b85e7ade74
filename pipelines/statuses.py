"""The statuses of deployments and their steps: plain values (no models), so the CLI and
the OpenAPI document use the very choices the database checks."""

from django.db import models


class DeploymentStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE_STATUSES = (DeploymentStatus.QUEUED, DeploymentStatus.RUNNING)
# Ended without making its release current: a failure (badges, cctray, DORA metrics).
FAILED_STATUSES = (DeploymentStatus.FAILED, DeploymentStatus.INTERRUPTED)
# A deployment in one of these has ended and never changes again.
FINAL_STATUSES = frozenset(DeploymentStatus) - frozenset(ACTIVE_STATUSES)


class StepStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


def progress(steps) -> tuple[int, int]:
    """(k, n) for "step k of n" of a deployment's steps (in order): the running step, else
    how many steps are behind us. Only steps that run count: those a failure skipped do not
    (maintenance off after a failed release is step 3 of 3, not 5 of 5)."""
    steps = [step for step in steps if step.status != StepStatus.SKIPPED]
    for k, step in enumerate(steps, start=1):
        if step.status == StepStatus.RUNNING:
            return k, len(steps)
    return sum(step.status != StepStatus.PENDING for step in steps), len(steps)
