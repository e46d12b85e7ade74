"""Deployments over the API (docs/api.md): deploy a build or roll back, and read one.

    POST /api/v1/pipelines/{p}/environments/{env}/deployments  {"sha": …} | {"release": "v12"}
                                                               (+ "reason" when guarded)
    GET  /api/v1/deployments/{id}

The same use-cases as the environment page: a developer deploys to environments without a
checklist, a lead anywhere (with a reason: break-glass); rolling back is for leads. 409
`deployment_running` names the deployment that runs.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view
from pipelines.api.openapi_schemas import (
    ENVIRONMENT_PARAM,
    PIPELINE_PARAM,
    RELEASE,
    SHA,
    errors,
    obj,
    ok,
)
from pipelines.api.parsing import check_fields, json_object
from pipelines.builds import get_build, get_pipeline
from pipelines.deploys import deploy_build, rollback
from pipelines.errors import InvalidInput, NotFound
from pipelines.models import Deployment, ReleaseCause
from pipelines.numbers import integral
from pipelines.statuses import DeploymentStatus, StepStatus

STEP_FIELDS = ("name", "status", "started_at", "finished_at")


@api_view("POST")
def deployments(request: HttpRequest, pipeline: str, environment: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    env = found.environments.filter(name=environment).first()
    if env is None:
        raise NotFound(f"{found.name} has no environment {environment!r}.", environment=environment)
    data = json_object(request)
    check_fields(data, allowed=("sha", "release", "reason"), required=())
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidInput("reason must be a string.", field="reason")
    if ("sha" in data) == ("release" in data):
        raise InvalidInput(
            'Send either {"sha": …} to deploy a build or {"release": "v3"} to roll back.',
            field="sha",
        )
    if "sha" in data:
        if not isinstance(data["sha"], str):
            raise InvalidInput("sha must be a string.", field="sha")
        try:
            build = get_build(found, data["sha"])
        except NotFound as exc:  # a wrong sha in the body is bad input, not a missing page
            raise InvalidInput(exc.message, field="sha") from None
        deployment = deploy_build(env, build, by=request.user, reason=reason)
    else:
        release = integral(data["release"])
        if not isinstance(release, (str, int)) or isinstance(release, bool):
            raise InvalidInput('release must be a version like "v3".', field="release")
        deployment = rollback(env, release, by=request.user, reason=reason)
    return JsonResponse(deployment_json(_load(deployment.pk)), status=202)


@api_view("GET")
def deployment(request: HttpRequest, deployment: int) -> JsonResponse:
    return JsonResponse(deployment_json(_load(deployment)))


def _load(deployment_id: int) -> Deployment:
    found = (
        Deployment.objects.select_related(
            "environment__pipeline",
            "release__build",
            "release__artifact",
            "requested_by",
            "cancel_requested_by",
        )
        .prefetch_related("steps")
        .filter(pk=deployment_id)
        .first()
    )
    if found is None:
        raise NotFound(f"There is no deployment #{deployment_id}.", deployment=deployment_id)
    return found


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    release = deployment.release
    return {
        "id": deployment.pk,
        "pipeline": deployment.environment.pipeline.name,
        "environment": deployment.environment.name,
        "status": deployment.status,
        "error": deployment.error,
        "settled": deployment.settled,
        "requested_by": _username(deployment.requested_by),
        "cancel_requested_by": _username(deployment.cancel_requested_by),
        "created_at": _time(deployment.created_at),
        "started_at": _time(deployment.started_at),
        "finished_at": _time(deployment.finished_at),
        "last_seq": deployment.last_seq,
        "url": deployment.get_absolute_url(),
        "release": {
            "version": release.label,
            "sha": release.build.sha,
            "digest": release.artifact.digest if release.artifact else None,
            "cause": release.cause,
            "description": release.description,
            "deployed_at": _time(release.deployed_at),
        },
        "steps": [
            {
                "name": step.name,
                "status": step.status,
                "started_at": _time(step.started_at),
                "finished_at": _time(step.finished_at),
            }
            for step in deployment.steps.all()
        ],
    }


def _username(user) -> str | None:
    return user.get_username() if user else None


def _time(value) -> str | None:
    return value.isoformat() if value else None


TIME = {"type": ["string", "null"], "format": "date-time"}
DEPLOYMENT = obj(
    ["id", "pipeline", "environment", "status", "release", "steps"],
    {
        "id": {"type": "integer"},
        "pipeline": {"type": "string"},
        "environment": {"type": "string"},
        "status": {"enum": DeploymentStatus.values},
        "error": {"type": "string"},
        "requested_by": {"type": ["string", "null"]},
        "cancel_requested_by": {"type": ["string", "null"]},
        "created_at": TIME,
        "started_at": TIME,
        "finished_at": TIME,
        "last_seq": {"type": "integer", "description": "The highest log seq so far."},
        "url": {"type": "string"},
        "release": obj(
            ["version", "sha", "digest", "cause", "description"],
            {
                "version": {"type": "string"},
                "sha": {"type": "string"},
                "digest": {"type": ["string", "null"]},
                "cause": {"enum": ReleaseCause.values},
                "description": {"type": "string"},
                "deployed_at": TIME,
            },
        ),
        "steps": {
            "type": "array",
            "items": obj(
                list(STEP_FIELDS),
                {
                    "name": {"type": "string"},
                    "status": {"enum": StepStatus.values},
                    "started_at": TIME,
                    "finished_at": TIME,
                },
            ),
        },
    },
)
REASON = {
    "type": "string",
    "maxLength": 200,
    "description": "Why the checklist is bypassed: required to deploy or roll back to an "
    "environment with a checklist.",
}
PATHS: dict[str, Any] = {
    "/api/v1/pipelines/{pipeline}/environments/{environment}/deployments": {
        "parameters": [PIPELINE_PARAM, ENVIRONMENT_PARAM],
        "post": {
            "operationId": "deploy",
            "summary": 'Deploy a build ({"sha"}) or roll back to a release ({"release": "v3"}).',
            "description": "Deploying: developer to environments without a checklist, lead "
            "anywhere. Rolling back (a new release of the old artifact): lead. To an "
            "environment with a checklist both are break-glass: `reason` is required (422 "
            'without it) and the release says "checklist bypassed by … because …". 409 '
            "`deployment_running` names the deployment that runs; 423 `environment_locked`.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                obj(["sha"], {"sha": SHA, "reason": REASON}),
                                obj(["release"], {"release": RELEASE, "reason": REASON}),
                            ]
                        }
                    }
                },
            },
            "responses": {
                "202": ok("The deployment, queued.", DEPLOYMENT),
                **errors("400", "401", "403", "404", "409", "422", "423"),
            },
        },
    },
    "/api/v1/deployments/{deployment}": {
        "parameters": [
            {"name": "deployment", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "get": {
            "operationId": "getDeployment",
            "summary": "A deployment: status, steps, release.",
            "responses": {
                "200": ok("The deployment.", DEPLOYMENT),
                **errors("401", "403", "404"),
            },
        },
    },
}
