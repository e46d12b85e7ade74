"""A deployment's header: status, "step k of n", elapsed time, steps and the lead's Cancel.

One partial (templates/dashboard/partials/deployment_status.html) for the page, the
WebSocket frames and the polls; this module builds its context from the database.
"""

from datetime import timedelta

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dashboard.log_html import ansi_to_html
from dashboard.partials import DEPLOYMENT_STATUS
from pipelines.models import Deployment
from pipelines.roles import Role
from pipelines.statuses import FINAL_STATUSES, DeploymentStatus, progress


def elapsed(deployment: Deployment) -> timedelta | None:
    if deployment.started_at is None:
        return None
    return (deployment.finished_at or timezone.now()) - deployment.started_at


def cancel_url(deployment: Deployment, roles: set[str]) -> str | None:
    """The Cancel button's target: leads only, while the deployment is active."""
    if Role.LEAD not in roles or not deployment.is_active:
        return None
    return reverse("deployment-cancel", args=[deployment.pk])


def first_error_html(deployment: Deployment) -> str:
    """The first error line, quoted under a failed deployment's summary (found as the log
    was written: pipelines/logs.py)."""
    ended_badly = deployment.status in FINAL_STATUSES - {DeploymentStatus.SUCCEEDED}
    if not ended_badly or not deployment.first_error:
        return ""
    return ansi_to_html(deployment.first_error)


def status_context(deployment: Deployment, roles: set[str]) -> dict:
    steps = list(deployment.steps.all())
    for s in steps:
        s.took = s.finished_at - s.started_at if s.started_at and s.finished_at else None
    step, of = progress(steps)
    return {
        "deployment": deployment,
        "steps": steps,
        "step": step,
        "of": of,
        "elapsed": elapsed(deployment),
        "final": deployment.status in FINAL_STATUSES,
        "cancel_url": cancel_url(deployment, roles),
        "first_error_html": first_error_html(deployment),
    }


def status_html(deployment: Deployment, roles: set[str], *, oob: bool = False) -> str:
    return render_to_string(DEPLOYMENT_STATUS, {**status_context(deployment, roles), "oob": oob})
