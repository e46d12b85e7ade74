from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.access import viewer_required
from pipelines.models import Environment

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
    context = {
        "pipeline": env.pipeline,
        "environment": env,
        "releases": Paginator(releases, PAGE_SIZE).get_page(request.GET.get("releases")),
        "deployments": Paginator(deployments, PAGE_SIZE).get_page(request.GET.get("deployments")),
    }
    return render(request, "dashboard/environment.html", context)
