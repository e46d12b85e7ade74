"""The audit log of a pipeline: who changed what and when, newest first (read only)."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.access import viewer_required
from dashboard.keyset import keyset_page
from pipelines.audit import verify_since_checkpoint
from pipelines.models import AuditEvent, Pipeline

PAGE_SIZE = 50
SHOWN = ("action", "message", "created_at", "environment__name", "actor__username")


@viewer_required
def audit_log(request: HttpRequest, pipeline: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, name=pipeline)
    environment = request.GET.get("environment", "")
    username = request.GET.get("user", "")
    # Only what the table shows: not the event's data (JSON to decode) nor its chain hashes.
    events = (
        AuditEvent.objects.filter(pipeline=pipeline)
        .select_related("environment", "actor")
        .only(*SHOWN)
    )
    if environment:
        events = events.filter(environment__name=environment)
    if username:
        events = events.filter(actor__username=username)
    # One index probe per user (few) rather than a pass over the pipeline's events (many).
    acted = Exists(AuditEvent.objects.filter(pipeline=pipeline, actor=OuterRef("pk")))
    context = {
        "pipeline": pipeline,
        "page": keyset_page(events, request, "page", size=PAGE_SIZE),
        "environments": pipeline.environments.values_list("name", flat=True),
        "users": get_user_model()
        .objects.filter(acted)
        .order_by("username")
        .values_list("username", flat=True),
        "environment": environment,
        "username": username,
        # Only what is new since the last view (a checkpoint): the page's work stays flat as
        # history grows; `manage.py verify_audit` walks it all (docs/audit.md).
        "check": verify_since_checkpoint(pipeline),
    }
    return render(request, "dashboard/audit.html", context)
