"""Ending a deployment that never left the queue, whoever ends it.

The reaper and the dispatcher end one as interrupted (no runner took it, the broker was
away); the freeze gate ends one as cancelled (a freeze window began while it waited:
runner/freeze_gate.py). Either way: a conditional UPDATE on QUEUED (a runner that claimed
it meanwhile wins), the reason as the log's one line, an audit record, the page told, and
`deployment_ended` announced (docs/architecture.md, "A build's journey").
"""

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from pipelines import audit
from pipelines.live import publish_after_commit, publish_deployment, publish_log
from pipelines.logs import append_log
from pipelines.models import Deployment, DeploymentStatus, LogLine
from pipelines.runner.signals import announce_end

logger = logging.getLogger(__name__)


def end_queued(
    deployment: Deployment,
    now: datetime,
    error: str,
    *,
    status: str = DeploymentStatus.INTERRUPTED,
    action: str = "deployment_interrupted",
    columns: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """End a deployment that never left the queue as `status`, `error` saying why; False if
    it had left it. `columns`: more fields to set (by default an interrupted deployment's
    `settled` repeats why); `details`: more data for the audit record `action`."""
    env = deployment.environment
    columns = {"settled": error} if columns is None else columns
    with transaction.atomic():
        ended = Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.QUEUED).update(
            status=status, finished_at=now, error=error, **columns
        )
        if not ended:
            return False
        deployment.refresh_from_db()
        rows = append_log(deployment, [(LogLine.Stream.SYSTEM, error)])
        audit.record(
            action,
            f"{deployment.release.label} to {env.name}: {error}",
            pipeline=env.pipeline,
            environment=env,
            deployment=deployment.pk,
            **(details or {}),
        )
        publish_after_commit(publish_log, deployment.pk, rows)
        publish_after_commit(publish_deployment, deployment)
        announce_end(deployment)
    # Interrupted is an operator's concern; a freeze refusing a deployment is the rule working.
    level = logging.WARNING if status == DeploymentStatus.INTERRUPTED else logging.INFO
    logger.log(level, "deployment %s ended (%s) while queued: %s", deployment.pk, status, error)
    return True
