"""The end of a deployment, announced once.

Whatever ends a deployment — the runner finishing it, the reaper marking it interrupted, a
lead cancelling it before it started — calls `announce_end`; whoever cares (the auto-deploy
of a build that waited, see pipelines/apps.py) listens to `deployment_ended`, so the runner
never imports the use-cases above it (docs/architecture.md, "Layers").
"""

from django.db import transaction
from django.dispatch import Signal

from pipelines.models import Deployment

# Sent after commit with `deployment=` the Deployment that ended (its status is final).
deployment_ended = Signal()
# Sent with `deployment_id=` a queued deployment no runner took: hand it out again.
deployment_orphaned = Signal()


def announce_end(deployment: Deployment) -> None:
    """Send `deployment_ended` once the current transaction commits (right away outside one).

    Robust: a listener's failure is logged and never undoes or fails the ending itself.
    """
    transaction.on_commit(
        lambda: deployment_ended.send(sender=Deployment, deployment=deployment), robust=True
    )
