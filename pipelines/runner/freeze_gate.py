"""The runner's last look before it starts a queued deployment: does a freeze window hold?

A deployment is checked when it is requested (pipelines/freezes.py), but it may wait in the
queue (workers busy, the broker away) while a window begins: GitLab checked its freeze only
when the pipeline was created, so a later job still deployed. Here the runner refuses to
start it unless a lead broke the glass; an auto-deploy goes back to waiting for the window's
end (pipelines/thaw.py). docs/freezes.md.
"""

from django.db import transaction
from django.utils import timezone

from pipelines.freeze_windows import active_window
from pipelines.models import Deployment, DeploymentStatus, Environment, ReleaseCause
from pipelines.runner.queued import end_queued


def refuse_if_frozen(deployment_id: int) -> bool:
    """End a queued deployment that a freeze window now holds (True), else leave it (False)."""
    deployment = (
        Deployment.objects.select_related("environment__pipeline", "release__build")
        .filter(pk=deployment_id, status=DeploymentStatus.QUEUED)
        .first()
    )
    if deployment is None or deployment.freeze_bypass_reason:
        return False
    env = deployment.environment
    now = timezone.now()
    window = active_window(env.pipeline.freezes, env.name, now) if env.pipeline.freezes else None
    if window is None:
        return False
    release = deployment.release
    auto = release.cause == ReleaseCause.AUTO_DEPLOY
    error = (
        f"Not started: the freeze ({window.reason}) holds {env.name} from "
        f"{window.start:%a %d %b %H:%M} to {window.end:%a %d %b %H:%M} {window.timezone}, "
        f"and it began after this deployment was queued."
        + (" The build deploys when the freeze ends." if auto else "")
    )
    with transaction.atomic():  # the build waits again only if the deployment did end
        refused = end_queued(
            deployment,
            now,
            error,
            status=DeploymentStatus.CANCELLED,
            action="deployment_refused_frozen",
            columns={"refused_by_freeze": True},
            details={"window": window.as_data()},
        )
        if refused and auto:  # back to waiting, unless a newer build waits already
            Environment.objects.filter(pk=env.pk, waiting_build__isnull=True).update(
                waiting_build=release.build
            )
    return refused
