from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from dashboard.access import viewer_required
from pipelines.board import read_board
from pipelines.models import Pipeline
from pipelines.roles import SIGNER_ROLES, Role, roles_of


@viewer_required
def index(request: HttpRequest) -> HttpResponse:
    pipelines = list(Pipeline.objects.all())
    if len(pipelines) == 1:
        return redirect("board", pipeline=pipelines[0].name)
    return render(request, "dashboard/index.html", {"pipelines": pipelines})


@viewer_required
def board(request: HttpRequest, pipeline: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, name=pipeline)
    board = read_board(pipeline)
    cards = board.cards
    roles = roles_of(request.user)
    context = {
        "pipeline": pipeline,
        "cards": cards,
        # The promotion flow; per-branch templates and their environments group below it.
        "flow": [c for c in cards if not (c.environment.per_branch or c.environment.template_id)],
        "branch_groups": [c for c in cards if c.environment.per_branch],
        "roles": roles,
        "freeze": board.freeze,
        "scheduled": board.scheduled,
        # Sales, support and QA come to sign: their sign-off comes first (a lead's to look).
        "signer_first": bool(roles & SIGNER_ROLES) and Role.LEAD not in roles,
    }
    return render(request, "dashboard/board.html", context)
