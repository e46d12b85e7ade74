"""Publishing live updates to the channel layer (docs/architecture.md, "Live updates").

The database is the source of truth; these messages only carry news of it, so publishers
send them after commit (`publish_after_commit`) and consumers refill from the database
whenever a message is missing.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from pipelines.models import Deployment

logger = logging.getLogger(__name__)


def publish_after_commit(publish: Callable[..., None], *args: Any) -> None:
    """Call `publish(*args)` once the current transaction commits (right away outside one):
    news must never arrive before the change it tells of. Robust: a channel layer hiccup
    never turns a committed change into an error."""
    transaction.on_commit(lambda: publish(*args), robust=True)


def deployment_group(deployment_id: int) -> str:
    return f"deployment.{deployment_id}"


def pipeline_group(pipeline_id: int) -> str:
    return f"pipeline.{pipeline_id}"


def _send(group: str, message: dict) -> None:
    """Best effort: a channel layer that is down (Redis restarting) must not fail the
    deployment or request that published; watchers refill from the database."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001
        logger.warning("could not publish %s to %s", message.get("type"), group, exc_info=True)


def publish_log(deployment_id: int, lines: Sequence) -> None:
    """New log lines of a deployment, already stored, in seq order (one message per batch).
    Lines have `seq`, `time`, `stream` and `text` (pipelines.logs.StoredLine, LogLine)."""
    if not lines:
        return
    times: dict = {}  # a batch shares one time: format it once
    _send(
        deployment_group(deployment_id),
        {
            "type": "log.lines",
            "lines": [
                {
                    "seq": ln.seq,
                    "time": times.get(ln.time) or times.setdefault(ln.time, ln.time.isoformat()),
                    "stream": ln.stream,
                    "text": ln.text,
                }
                for ln in lines
            ],
        },
    )


def publish_deployment(deployment: Deployment) -> None:
    """A deployment's status or steps changed; also tells its pipeline's board."""
    _send(
        deployment_group(deployment.pk),
        {
            "type": "deployment.changed",
            "status": deployment.status,
            "last_seq": deployment.last_seq,
        },
    )
    publish_board(deployment.environment.pipeline_id)


def publish_board(pipeline_id: int) -> None:
    """Something on a pipeline's board changed: builds, deployments, sign-offs, locks."""
    _send(pipeline_group(pipeline_id), {"type": "board.changed"})
