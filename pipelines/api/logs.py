"""`GET /api/v1/deployments/{id}/log?after=N&limit=M`: a deployment's log by seq (docs/api.md).

Clients resume with `after=<next>`; once `status` is final and a page comes back empty, the
log is complete (the status is read before the lines, and lines are written before the
status changes).
"""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view
from pipelines.api.openapi_schemas import errors, obj, ok
from pipelines.errors import InvalidInput, NotFound
from pipelines.logs import lines_after
from pipelines.models import Deployment, LogLine
from pipelines.numbers import parse_whole_number

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000


@api_view("GET")
def deployment_log(request: HttpRequest, deployment: int) -> JsonResponse:
    after = _whole_number(request.GET.get("after", "0"), "after")
    limit = _whole_number(request.GET.get("limit", str(DEFAULT_LIMIT)), "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    status = Deployment.objects.filter(pk=deployment).values_list("status", flat=True).first()
    if status is None:
        raise NotFound(f"There is no deployment #{deployment}.", deployment=deployment)
    rows = lines_after(deployment, after, limit).values("seq", "time", "stream", "text")
    lines = [{**row, "time": row["time"].isoformat()} for row in rows]
    return JsonResponse(
        {"lines": lines, "next": lines[-1]["seq"] if lines else after, "status": status}
    )


def _whole_number(value: str, field: str) -> int:
    number = parse_whole_number(value)
    if number is None:
        raise InvalidInput(f"{field} must be a whole number, not {value!r}.", field=field)
    return number


DEPLOYMENT_PARAM = {
    "name": "deployment",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
LINE = obj(
    ["seq", "time", "stream", "text"],
    {
        "seq": {"type": "integer", "minimum": 1},
        "time": {"type": "string", "format": "date-time"},
        "stream": {"type": "string", "enum": LogLine.Stream.values},
        "text": {"type": "string", "description": "Raw output: may hold ANSI escape codes."},
    },
)
PATHS: dict[str, Any] = {
    "/api/v1/deployments/{deployment}/log": {
        "parameters": [DEPLOYMENT_PARAM],
        "get": {
            "operationId": "getDeploymentLog",
            "summary": "The log lines after a seq; resume with after=next until the status is "
            "final and no line comes back.",
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                },
            ],
            "responses": {
                "200": ok(
                    "Up to `limit` lines with seq > after, in order.",
                    obj(
                        ["lines", "next", "status"],
                        {
                            "lines": {"type": "array", "items": LINE},
                            "next": {"type": "integer", "description": "The next `after`."},
                            "status": {"type": "string"},
                        },
                    ),
                ),
                **errors("401", "403", "404", "422"),
            },
        },
    }
}
