"""Background work in one place: a Celery task is sent to a worker when REDIS_URL is set,
and run in this process otherwise (docs/architecture.md, "Embedded and production mode").

The same task object runs either way, so the in-process run gets Celery's own retries too.
"""

import functools
import logging
import os
from typing import Any

import redis
from celery import Task
from django.conf import settings
from django.utils import timezone

from pipelines.models import Deployment
from pipelines.runner import embedded
from pipelines.runner.queued import end_queued
from pipelines.runner.tasks import run_deployment_task

logger = logging.getLogger(__name__)
BROKER_CHECK_SECONDS = 2
BROKER_CONNECTIONS = 8  # per process: more than its threads ever hand out at once


def dispatch(task: Task, *args: Any, queue: str) -> None:
    """Run `task(*args)` in the background. Raises when REDIS_URL is set and the broker
    cannot take the task (the caller decides what that means)."""
    if settings.REDIS_URL:
        pool = _broker_connections(task.app, settings.REDIS_URL, os.getpid())
        with pool.acquire(block=True, timeout=BROKER_CHECK_SECONDS) as connection:
            task.apply_async(args=args, queue=queue, connection=connection)
    else:
        run_here(task, *args)


@functools.cache
def _broker_connections(app, url: str, pid: int):
    """Connections to the broker at `url`, kept open between requests: a new one costs a
    connect and kombu's setup on each click (docs/architecture.md, "Embedded and production
    mode"). Celery's publish retries revive one that Redis dropped. Per process (`pid`): a
    forked worker child opens its own. Without a limit kombu closes each one released."""
    return app.connection_for_write(url).Pool(limit=BROKER_CONNECTIONS)


@functools.cache
def _broker_client(url: str, pid: int) -> redis.Redis:
    """A client for `broker_answers`, its connection kept between requests."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=BROKER_CHECK_SECONDS, socket_timeout=BROKER_CHECK_SECONDS
    )


def run_here(task: Task, *args: Any) -> None:
    """Run `task(*args)` in this process: on a thread of the server's event loop when the
    server called, else right away (a management command, a shell, the test client)."""
    embedded.run_in_process(functools.partial(task.apply, args=args))


def start_deployment(deployment_id: int) -> None:
    """Hand a queued deployment to whoever runs deployments (queue SLIPWAY_DEPLOY_QUEUE)."""
    try:
        dispatch(run_deployment_task, deployment_id, queue=settings.SLIPWAY_DEPLOY_QUEUE)
    except Exception as exc:  # the broker went away: say so rather than stay queued forever
        logger.exception("deployment %s could not be queued", deployment_id)
        end_queued(
            Deployment.objects.select_related("environment__pipeline", "release").get(
                pk=deployment_id
            ),
            timezone.now(),
            f"Interrupted while queued: could not hand it to the workers ({exc}).",
        )


def start_orphan(sender, deployment_id: int, **kwargs) -> None:
    """Receives `deployment_orphaned` (the reaper found it queued with no runner)."""
    start_deployment(deployment_id)


def broker_answers() -> bool:
    """Whether the broker at REDIS_URL answers now (requests are refused while it does not)."""
    try:
        return bool(_broker_client(settings.REDIS_URL, os.getpid()).ping())
    except redis.RedisError:
        return False
