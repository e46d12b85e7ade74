"""Status badges: badge.svg (shields style) and badge.json (the shields.io endpoint schema).

Anonymous readers only for pipelines with `public_badges = true`; anyone else needs to be
signed in or to pass an API token as `?token=`. Short Cache-Control and an ETag, so a README
served through an image proxy asks often and cheaply (docs/insight.md).
"""

import hashlib
import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_GET

from dashboard.badge_shape import badge_shape
from dashboard.outside_access import outside_reader
from pipelines.errors import SlipwayError
from pipelines.models import Environment
from pipelines.outside_status import State, environment_status

MAX_AGE = 30  # seconds
COLORS = {  # shields.io's names for the JSON; their hex values for the SVG
    State.SUCCEEDED: ("brightgreen", "#4c1"),
    State.RUNNING: ("blue", "#007ec6"),
    State.FAILED: ("red", "#e05d44"),
    State.NONE: ("lightgrey", "#9f9f9f"),
}
# Said in words too: a badge is read by people who do not tell red from green.
STATE_WORDS = {State.RUNNING: "deploying", State.FAILED: "failed"}


@login_not_required
@require_GET
def badge_svg(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    return _badge(request, pipeline, environment, svg=True)


@login_not_required
@require_GET
def badge_json(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    return _badge(request, pipeline, environment, svg=False)


def _badge(request: HttpRequest, pipeline: str, environment: str, *, svg: bool) -> HttpResponse:
    env = (
        Environment.objects.select_related("pipeline")
        .filter(pipeline__name=pipeline, name=environment)
        .first()
    )
    try:
        reader = outside_reader(request)
    except SlipwayError as exc:
        return _refusal(exc.http_status, exc.message)
    if reader is None and not (env and env.pipeline.public_badges):
        # The same answer whether or not the pipeline exists: names stay private.
        return _refusal(401, "This badge needs a login or an API token: add ?token=<token>.")
    if env is None:
        return _refusal(404, f"There is no environment {pipeline}/{environment}.")

    status = environment_status(env)
    label, message = env.name, status.serving
    if status.state in STATE_WORDS:
        message = f"{message} · {STATE_WORDS[status.state]}"
    color_name, color_hex = COLORS[status.state]
    if svg:
        shape = badge_shape(label, message)
        body = render_to_string(
            "insight/badge.svg", {"shape": shape, "color": color_hex, "state": status.state}
        )
        content_type = "image/svg+xml; charset=utf-8"
    else:
        data = {"schemaVersion": 1, "label": label, "message": message, "color": color_name}
        body = json.dumps(data, ensure_ascii=False)
        content_type = "application/json"
    return _cached(request, body, content_type, public=env.pipeline.public_badges)


def badge_links(request: HttpRequest, env: Environment) -> dict[str, str]:
    """The addresses the environment page offers to copy, and the Markdown of the badge."""
    names = (env.pipeline.name, env.name)
    token = "" if env.pipeline.public_badges else "?token=YOUR_TOKEN"
    svg = request.build_absolute_uri(reverse("badge-svg", args=names)) + token
    page = request.build_absolute_uri(reverse("environment", args=names))
    return {
        "svg": svg,
        "json": request.build_absolute_uri(reverse("badge-json", args=names)) + token,
        "markdown": f"[![{env.pipeline.name} {env.name}]({svg})]({page})",
        "public": env.pipeline.public_badges,
    }


def _cached(request: HttpRequest, body: str, content_type: str, *, public: bool) -> HttpResponse:
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age={MAX_AGE}",
    }
    not_modified = get_conditional_response(request, etag=etag)
    if isinstance(not_modified, HttpResponseNotModified):
        for name, value in headers.items():
            not_modified[name] = value
        return not_modified
    return HttpResponse(body, content_type=content_type, headers=headers)


def _refusal(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    response["Cache-Control"] = "no-store"
    return response
