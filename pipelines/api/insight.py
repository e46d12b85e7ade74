"""Insight over the API (docs/insight.md): the quality diff before promoting."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view
from pipelines.api.openapi_schemas import NAME, PIPELINE_PARAM, errors, obj, ok
from pipelines.builds import get_pipeline
from pipelines.errors import InvalidInput
from pipelines.models import Environment, Pipeline
from pipelines.quality import quality_diff


@api_view("GET")
def promotion_preview(request: HttpRequest, pipeline: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    target = _target(found, request.GET.get("to"))
    return JsonResponse(quality_diff(target).as_data())


def _target(pipeline: Pipeline, name: str | None) -> Environment:
    if not name:
        raise InvalidInput(
            "to is required: the environment promoted to, as in ?to=live.", field="to"
        )
    target = (
        pipeline.environments.select_related(
            "promote_from__current_release__build",
            "promote_from__current_release__artifact",
            "current_release__build",
            "current_release__artifact",
        )
        .filter(name=name)
        .first()
    )
    if target is None:
        raise InvalidInput(f"{pipeline.name} has no environment {name[:64]!r}.", field="to")
    if target.promote_from_id is None:
        raise InvalidInput(f"{target.name} is not promoted from anywhere.", field="to")
    return target


_RELEASE = {
    "type": ["object", "null"],
    "properties": {
        "version": {"type": "string"},
        "sha": {"type": "string"},
        "digest": {"type": ["string", "null"]},
        "coverage": {"type": ["number", "null"]},
        "tests": {"type": ["integer", "null"]},
    },
}
_NAMES = obj(
    ["count", "names"],
    {"count": {"type": "integer"}, "names": {"type": "array", "items": {"type": "string"}}},
    description="How many, and the first 50 names in order.",
)

PATHS: dict[str, Any] = {
    "/api/v1/pipelines/{pipeline}/promotions/preview": {
        "parameters": [PIPELINE_PARAM],
        "get": {
            "operationId": "previewPromotion",
            "summary": "The quality diff of promoting to `to`: what its upstream runs against "
            "what it runs — coverage and test count deltas, tests added, removed, newly "
            "failing and fixed (by name, from the JUnit reports), and the commits between.",
            "parameters": [{"name": "to", "in": "query", "required": True, "schema": NAME}],
            "responses": {
                "200": ok(
                    "The diff; `tests.known` is false unless both builds sent a JUnit report.",
                    obj(
                        ["to", "from", "candidate", "current", "tests", "commits"],
                        {
                            "to": {"type": "string"},
                            "from": {"type": "string"},
                            "candidate": _RELEASE,
                            "current": _RELEASE,
                            "coverage_delta": {"type": ["number", "null"]},
                            "tests_delta": {"type": ["integer", "null"]},
                            "tests": obj(
                                ["known", "added", "removed", "newly_failing", "fixed"],
                                {
                                    "known": {"type": "boolean"},
                                    "added": _NAMES,
                                    "removed": _NAMES,
                                    "newly_failing": _NAMES,
                                    "fixed": _NAMES,
                                },
                            ),
                            "commits": obj(
                                ["count", "compare_url", "list"],
                                {
                                    "count": {"type": "integer"},
                                    "compare_url": {"type": ["string", "null"]},
                                    "list": {"type": "array", "items": {"type": "object"}},
                                },
                            ),
                        },
                    ),
                ),
                **errors("401", "403", "404", "422"),
            },
        },
    },
}
