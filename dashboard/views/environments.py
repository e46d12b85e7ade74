from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import viewer_required
from dashboard.keyset import keyset_page
from dashboard.views.badges import badge_links
from dashboard.views.lookups import environment_or_404
from pipelines.branch_environments import may_delete
from pipelines.freezes import window_on
from pipelines.locks import lock_by_id, lock_on_annotation
from pipelines.models import Environment
from pipelines.roles import can_deploy, can_lead

DEPLOYABLE_BUILDS = 50

PAGE_SIZE = 25
# What the page's tables show of each row: the rest of five models a row is left unread.
RELEASE_ROW = (
    "version", "description", "deployed_at", "environment_id", "build__sha", "build__message",
    "artifact__digest", "created_by__username", "deployment__status",
)  # fmt: skip
DEPLOYMENT_ROW = (
    "status", "error", "started_at", "finished_at", "environment_id",
    "release__version", "release__build__sha", "requested_by__username",
)  # fmt: skip


@viewer_required
def environment_detail(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(
        pipeline,
        environment,
        guarded=Environment.guarded_annotation(),
        lock_id=lock_on_annotation(),
    )
    releases = env.releases.select_related("build", "artifact", "created_by", "deployment").only(
        *RELEASE_ROW
    )
    deployments = env.deployments.select_related("release__build", "requested_by").only(
        *DEPLOYMENT_ROW
    )
    guarded = env.guarded
    context = {
        "pipeline": env.pipeline,
        "environment": env,
        "guarded": guarded,
        "may_deploy": can_deploy(request.user, guarded=guarded),
        "may_lead": can_lead(request.user),
        # A branch environment's Delete button: a lead, or its template's delete_role.
        "may_delete": env.template_id is not None and may_delete(env, request.user),
        "lock": lock_by_id(env.lock_id),
        # A scheduled freeze window holding here now ([[pipeline.freezes]]).
        "window": window_on(env),
        # Newest first; any build with an artifact may be deployed by hand.
        "deployable_builds": env.pipeline.builds.filter(artifact__isnull=False)[:DEPLOYABLE_BUILDS],
        "releases": keyset_page(releases, request, "releases", key="version", size=PAGE_SIZE),
        "deployments": keyset_page(deployments, request, "deployments", size=PAGE_SIZE),
        "badge": badge_links(request, env),
    }
    return render(request, "dashboard/environment.html", context)
