"""The cctray feed (https://cctray.org/v1/) for CCMenu, Nevergreen, CCTray and BuildNotify:
one <Project> per environment, named "pipeline/environment".

Those tools speak HTTP Basic: the username and an API token as the password. A session login
or `?token=` work too. Without credentials only pipelines with `public_badges = true` are
listed (docs/insight.md).
"""

from xml.etree.ElementTree import Element, SubElement, tostring

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.outside_access import outside_reader
from pipelines.errors import SlipwayError
from pipelines.models import DeploymentStatus, Pipeline
from pipelines.outside_status import EnvironmentStatus, environment_statuses

# lastBuildStatus of the newest deployment that ended (cancelled ones are passed over).
BUILD_STATUS = {
    DeploymentStatus.SUCCEEDED: "Success",
    DeploymentStatus.FAILED: "Failure",
    DeploymentStatus.INTERRUPTED: "Exception",
}
REALM = 'Basic realm="Slipway (username and API token)", charset="UTF-8"'


@login_not_required
@require_GET
def feed(request: HttpRequest) -> HttpResponse:
    """Every pipeline the caller may see."""
    return _feed(request, Pipeline.objects.all())


@login_not_required
@require_GET
def pipeline_feed(request: HttpRequest, pipeline: str) -> HttpResponse:
    return _feed(request, Pipeline.objects.filter(name=pipeline), one=pipeline)


def _feed(request: HttpRequest, pipelines, *, one: str | None = None) -> HttpResponse:
    try:
        reader = outside_reader(request)
    except SlipwayError as exc:
        return _refusal(exc.http_status, exc.message)
    if reader is None:
        pipelines = pipelines.filter(public_badges=True)
    found = list(pipelines)
    if not found and reader is None:
        # The same answer whether or not a private pipeline of that name exists.
        return _refusal(401, "Log in with your username and an API token as the password.")
    if not found and one is not None:
        return _refusal(404, f"There is no pipeline named {one!r}.")
    root = Element("Projects")
    for status in environment_statuses(found):
        SubElement(root, "Project", _attributes(request, status))
    body = tostring(root, encoding="utf-8", xml_declaration=True)
    response = HttpResponse(body, content_type="application/xml; charset=utf-8")
    response["Cache-Control"] = "private, no-cache"
    return response


def _attributes(request: HttpRequest, status: EnvironmentStatus) -> dict[str, str]:
    env, last = status.environment, status.last_finished
    page = reverse("environment", args=(env.pipeline.name, env.name))
    attributes = {
        "name": status.name,
        "activity": "Building" if status.building else "Sleeping",
        "lastBuildStatus": BUILD_STATUS.get(last.status, "Unknown") if last else "Unknown",
        # Required by the format: before any deployment, when the pipeline was created.
        "lastBuildTime": (status.finished_at or env.pipeline.created_at).isoformat(),
        "webUrl": request.build_absolute_uri(page),
    }
    if last is not None:
        attributes["lastBuildLabel"] = f"{last.release.label} {last.release.build.short_sha}"
    return attributes


def _refusal(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = REALM
    return response
