from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.access import viewer_required
from pipelines.models import Environment
from pipelines.roles import can_deploy, can_lead

DEPLOYABLE_BUILDS = 50

PAGE_SIZE = 25


@viewer_required
def environment_detail(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = get_object_or_404(
        Environment.objects.select_related("pipeline", "current_release", "promote_from"),
        pipeline__name=pipeline,
        name=environment,
    )
    releases = env.releases.select_related("build", "artifact", "created_by", "deployment")
    deployments = env.deployments.select_related("release__build", "requested_by")
    guarded = env.checklist_items.exists()
    context = {
        "pipeline": env.pipeline,
        "environment": env,
        "guarded": guarded,
        "may_deploy": can_deploy(request.user, guarded=guarded),
        "may_lead": can_lead(request.user),
        # Newest first; any build with an artifact may be deployed by hand.
        "deployable_builds": env.pipeline.builds.filter(artifact__isnull=False)[:DEPLOYABLE_BUILDS],
        "releases": Paginator(releases, PAGE_SIZE).get_page(request.GET.get("releases")),
        "deployments": Paginator(deployments, PAGE_SIZE).get_page(request.GET.get("deployments")),
    }
    return render(request, "dashboard/environment.html", context)
