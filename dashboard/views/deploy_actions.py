"""Manual deploy, rollback and cancel, and deleting a branch environment (POST only).

Plain form posts get a redirect with a message; htmx posts get an HX-Redirect (a refusal
keeps its HTTP status and carries its message). Permissions are checked by the use-cases, so a
forged post changes nothing.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard.access import viewer_required
from dashboard.views.lookups import environment_or_404
from pipelines.branch_environments import check_deletable_input, delete_environment
from pipelines.builds import get_build
from pipelines.deploys import cancel_deployment, deploy_build, rollback
from pipelines.errors import InvalidInput, SlipwayError
from pipelines.models import Deployment, Environment


@require_POST
@viewer_required
def deploy(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    try:
        sha = request.POST.get("sha", "").strip()
        if not sha:
            raise InvalidInput("Choose a build to deploy.", field="sha")
        deployment = deploy_build(
            env,
            get_build(env.pipeline, sha),
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
    except SlipwayError as exc:
        return _refused(request, exc, _environment_url(env))
    release = deployment.release
    messages.success(
        request, f"Deploying {release.build.short_sha} to {env.name} as {release.label}."
    )
    return _go(request, deployment.get_absolute_url())


@require_POST
@viewer_required
def roll_back(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    try:
        deployment = rollback(
            env,
            request.POST.get("release", ""),
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
    except SlipwayError as exc:
        return _refused(request, exc, _environment_url(env))
    messages.success(request, f"Rolling {env.name} back: {deployment.release.description}.")
    return _go(request, deployment.get_absolute_url())


@require_POST
@viewer_required
def cancel(request: HttpRequest, deployment: int) -> HttpResponse:
    found = get_object_or_404(
        Deployment.objects.select_related("environment__pipeline"), pk=deployment
    )
    page = found.get_absolute_url()
    try:
        cancel_deployment(found, by=request.user)
    except SlipwayError as exc:
        return _refused(request, exc, page)
    if request.htmx:
        return HttpResponse(status=204)  # the deployment page's socket shows the outcome
    messages.success(request, f"Deployment #{found.pk} is being cancelled.")
    return redirect(page)


@require_POST
@viewer_required
def delete(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    """A branch environment's Delete (docs/branch-environments.md): the use-case checks who
    may, stops its app and records it in the audit log, as the API's DELETE does."""
    env = environment_or_404(pipeline, environment)
    try:
        reason = check_deletable_input(request.POST.get("reason", ""))
        removed = delete_environment(env, by=request.user, reason=reason)
    except SlipwayError as exc:
        return _refused(request, exc, _environment_url(env))
    messages.success(
        request, f"Deleted {removed.name} (branch {removed.source_branch}): its history is kept."
    )
    return _go(request, reverse("board", args=[env.pipeline.name]))


def _environment_url(env: Environment) -> str:
    return reverse("environment", args=[env.pipeline.name, env.name])


def _go(request: HttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url, status=204)
    return redirect(url)


def _refused(request: HttpRequest, exc: SlipwayError, back: str) -> HttpResponse:
    """The refusal's status and message; htmx follows HX-Redirect (whatever the status) to
    the page, which shows the message."""
    messages.error(request, exc.message)
    if request.htmx:
        return HttpResponseClientRedirect(
            back, content=exc.message, status=exc.http_status, content_type="text/plain"
        )
    return redirect(back)
