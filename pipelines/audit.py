"""Recording who changed what: every use-case that changes state calls `record`.

Deploy news for Slack, webhooks and e-mail listens to the new rows (pipelines/apps.py).
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from pipelines.models import AuditEvent, Environment, Pipeline


def record(
    action: str,
    message: str,
    *,
    pipeline: Pipeline | None,
    environment: Environment | None = None,
    actor: AbstractBaseUser | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one event to the audit log. `actor` None means Slipway or CI acted on its own."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        pipeline=pipeline,
        environment=environment,
        actor=actor,
        action=action,
        message=message[:500],
        data=data,
    )
