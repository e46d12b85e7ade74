"""Sign-offs, promotion and locks from the board (htmx posts).

Each answers with the re-rendered promotion panel (or environment card), carrying the outcome;
refusals keep their HTTP status (403/409/422/423) and static/js/promotion.js lets htmx show them.
Permissions are checked by the use-cases, so a forged post changes nothing.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from dashboard.access import viewer_required
from dashboard.partials import CARD, FREEZE, PANEL
from dashboard.views.lookups import environment_or_404
from pipelines import auto_deploys, checklist, locks, promotion
from pipelines.board import EnvironmentCard, environment_cards
from pipelines.errors import SlipwayError
from pipelines.models import ChecklistItem, Environment, Pipeline, Signoff
from pipelines.roles import roles_of


@require_POST
@viewer_required
def sign(request: HttpRequest, pipeline: str, environment: str, key: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    item = get_object_or_404(ChecklistItem, environment=env, key=key)
    try:
        checklist.sign(
            item,
            by=request.user,
            note=request.POST.get("note", ""),
            digest=request.POST.get("digest") or None,
        )
    except SlipwayError as exc:
        return _panel(request, env, error=exc)
    return _panel(request, env, notice=f'You signed "{item.label}".')


@require_POST
@viewer_required
def revoke(request: HttpRequest, pipeline: str, environment: str, signoff: int) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    found = get_object_or_404(
        Signoff.objects.select_related("item"), pk=signoff, item__environment=env
    )
    try:
        checklist.revoke(found, by=request.user)
    except SlipwayError as exc:
        return _panel(request, env, error=exc)
    return _panel(request, env, notice=f'You revoked the sign-off of "{found.item.label}".')


@require_POST
@viewer_required
def promote(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    if env.promote_from is None:
        return _panel(
            request, env, error=SlipwayError(f"{env.name} is not promoted from anywhere.")
        )
    try:
        deployment = promotion.promote(
            env.pipeline,
            env.promote_from,
            env,
            by=request.user,
            digest=request.POST.get("digest") or None,
            reason=request.POST.get("reason", ""),  # break-glass inside a freeze window
        )
    except SlipwayError as exc:
        return _panel(request, env, error=exc)
    return _panel(
        request,
        env,
        notice=f"Promotion started: deployment #{deployment.pk}.",
        deployment=deployment,
    )


@require_POST
@viewer_required
def lock(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    reason = request.POST.get("reason", "")  # a form field: UTF-8, exactly as typed
    try:
        locks.lock(env.pipeline, env, by=request.user, reason=reason)
    except SlipwayError as exc:
        return _card(request, env, error=exc)
    return _card(request, env)


@require_POST
@viewer_required
def unlock(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    try:
        locks.unlock(env.pipeline, env, by=request.user)
    except SlipwayError as exc:
        return _card(request, env, error=exc)
    return _card(request, env)


@require_POST
@viewer_required
def unpin(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    try:
        auto_deploys.unpin(env, by=request.user)
    except SlipwayError as exc:
        return _card(request, env, error=exc)
    return _card(request, env)


@require_POST
@viewer_required
def freeze(request: HttpRequest, pipeline: str) -> HttpResponse:
    found = get_object_or_404(Pipeline, name=pipeline)
    reason = request.POST.get("reason", "")
    try:
        locks.lock(found, None, by=request.user, reason=reason)
    except SlipwayError as exc:
        return _freeze_controls(request, found, exc)
    return _reload_board()


@require_POST
@viewer_required
def unfreeze(request: HttpRequest, pipeline: str) -> HttpResponse:
    found = get_object_or_404(Pipeline, name=pipeline)
    try:
        locks.unlock(found, None, by=request.user)
    except SlipwayError as exc:
        return _freeze_controls(request, found, exc)
    return _reload_board()


def _reload_board() -> HttpResponse:
    """Every card changes with a freeze: htmx reloads the page."""
    response = HttpResponseClientRefresh()
    response.status_code = 204  # nothing to swap
    return response


def _freeze_controls(request: HttpRequest, pipeline: Pipeline, error: SlipwayError) -> HttpResponse:
    context = {"pipeline": pipeline, "freeze": locks.freeze_of(pipeline), "error": error}
    html = render_to_string(FREEZE, context, request)
    return HttpResponse(html, status=error.http_status)


def _card_of(env: Environment) -> tuple[Pipeline, EnvironmentCard]:
    pipeline = env.pipeline
    card = next(c for c in environment_cards(pipeline) if c.environment.pk == env.pk)
    return pipeline, card


def _context(request: HttpRequest, env: Environment, **extra) -> dict:
    pipeline, card = _card_of(env)
    return {
        "card": card,
        "pipeline": pipeline,
        "user": request.user,
        "roles": roles_of(request.user),
        **extra,
    }


def _panel(
    request: HttpRequest, env: Environment, *, error: SlipwayError | None = None, **extra
) -> HttpResponse:
    context = _context(request, env, error=error, **extra)
    status = error.http_status if error else 200
    return HttpResponse(render_to_string(PANEL, context, request), status=status)


def _card(
    request: HttpRequest, env: Environment, *, error: SlipwayError | None = None
) -> HttpResponse:
    """The card, plus the promotion panel out of band: a lock disables its button too."""
    context = _context(request, env, error=error)
    html = render_to_string(CARD, context, request)
    if env.promote_from_id:
        html += render_to_string(PANEL, {**context, "oob": True, "error": None}, request)
    return HttpResponse(html, status=error.http_status if error else 200)
