"""When a freeze window ends: the auto-deploys that waited for it go, and the board is told.

A tick — Celery beat's `pipelines.thaw_frozen` in production, the embedded server's timer
otherwise, both every SLIPWAY_FREEZE_TICK_SECONDS — looks at the environments of pipelines
with `[[pipeline.freezes]]` whose build waits (`Environment.waiting_build`, kept in the
database, so a restart loses nothing) and deploys it once no window holds there. It also
re-renders the board of a pipeline whose windows began or ended since the last tick.
"""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from pipelines.auto_deploys import deploy_waiting_build
from pipelines.freeze_windows import active_window
from pipelines.freezes import window_on
from pipelines.live import publish_board
from pipelines.models import Deployment, Environment, Pipeline
from pipelines.statuses import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


@shared_task(name="pipelines.thaw_frozen")
def thaw_task() -> int:
    """Celery beat's tick (every SLIPWAY_FREEZE_TICK_SECONDS)."""
    return len(thaw())


def thaw(now: datetime | None = None) -> list[Deployment]:
    """Deploy the builds that waited for a freeze window now over; tell boards of changes."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.SLIPWAY_FREEZE_TICK_SECONDS)
    for pipeline in Pipeline.objects.exclude(freezes=[]):
        if active_window(pipeline.freezes, None, since) != active_window(
            pipeline.freezes, None, now
        ):
            publish_board(pipeline.pk)
    started = []
    waiting = (
        Environment.objects.filter(waiting_build__isnull=False)
        .exclude(pipeline__freezes=[])
        .exclude(deployments__status__in=ACTIVE_STATUSES)
        .select_related("pipeline")
    )
    for env in waiting:
        if window_on(env, now) is not None:
            continue
        try:
            deployment = deploy_waiting_build(env.pk)
        except Exception:  # one environment's trouble must not keep the others waiting
            logger.exception("the build waiting for %s's freeze to end could not deploy", env)
            continue
        if deployment is not None:
            started.append(deployment)
    return started
