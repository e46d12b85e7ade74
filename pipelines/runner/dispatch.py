"""Background work in one place: a Celery task is sent to a worker when REDIS_URL is set,
and run in this process otherwise (docs/architecture.md, "Embedded and production mode").

The same task object runs either way, so the in-process run gets Celery's own retries too.
"""

import functools
import logging
from typing import Any

from celery import Task
from django.conf import settings
from django.utils import timezone

from pipelines.models import Deployment, DeploymentStatus
from pipelines.runner import embedded
from pipelines.runner.tasks import run_deployment_task

logger = logging.getLogger(__name__)


def dispatch(task: Task, *args: Any, queue: str) -> None:
    """Run `task(*args)` in the background. Raises when REDIS_URL is set and the broker
    cannot take the task (the caller decides what that means)."""
    if settings.REDIS_URL:
        with task.app.connection_for_write(settings.REDIS_URL) as connection:
            task.apply_async(args=args, queue=queue, connection=connection)
    else:
        run_here(task, *args)


def run_here(task: Task, *args: Any) -> None:
    """Run `task(*args)` in this process: on a thread of the server's event loop when the
    server called, else right away (a management command, a shell, the test client)."""
    embedded.run_in_process(functools.partial(task.apply, args=args))


def start_deployment(deployment_id: int) -> None:
    """Hand a queued deployment to whoever runs deployments (queue SLIPWAY_DEPLOY_QUEUE)."""
    try:
        dispatch(run_deployment_task, deployment_id, queue=settings.SLIPWAY_DEPLOY_QUEUE)
    except Exception as exc:  # the broker is down: say so rather than stay queued forever
        logger.exception("deployment %s could not be queued", deployment_id)
        Deployment.objects.filter(pk=deployment_id, status=DeploymentStatus.QUEUED).update(
            status=DeploymentStatus.FAILED,
            finished_at=timezone.now(),
            error=f"Could not hand the deployment to the workers: {exc}",
        )
