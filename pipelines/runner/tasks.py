"""Celery tasks: thin wrappers over the runner, sent by pipelines/runner/dispatch.py.

`run_deployment` goes to the `deploys` queue (CELERY_TASK_ROUTES); a deployment is claimed
by a conditional UPDATE, so a redelivered message never runs it twice. Celery beat runs
`reap_stale_deployments` every SLIPWAY_REAPER_INTERVAL_SECONDS; each worker also reaps once
when it starts.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

from pipelines.runner.reaper import reap_stale_deployments
from pipelines.runner.run import run_deployment

logger = logging.getLogger(__name__)


@shared_task(name="pipelines.run_deployment", acks_late=True, reject_on_worker_lost=True)
def run_deployment_task(deployment_id: int) -> str | None:
    deployment = run_deployment(deployment_id)
    return deployment.status if deployment else None


@shared_task(name="pipelines.reap_stale_deployments")
def reap_stale_deployments_task() -> list[int]:
    return reap_stale_deployments()


@worker_ready.connect
def reap_at_worker_start(**kwargs) -> None:
    reaped = reap_stale_deployments()
    if reaped:
        logger.warning("marked interrupted at worker start: %s", reaped)
