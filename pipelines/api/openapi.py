"""The OpenAPI 3.1 description of /api/v1/, served at /api/v1/openapi.json.

Written by hand next to the routes it describes; tests check that every route is here and
that the running server answers as described.
"""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from pipelines.api.decorators import api_view
from pipelines.api.deployments import PATHS as DEPLOYMENT_PATHS
from pipelines.api.insight import PATHS as INSIGHT_PATHS
from pipelines.api.logs import PATHS as LOG_PATHS
from pipelines.api.openapi_schemas import (
    ENVIRONMENT_PARAM,
    ERRORS,
    NAME,
    PIPELINE_PARAM,
    SCHEMAS,
    SHA_PARAM,
    TIMESTAMP,
    errors,
    json_content,
    obj,
    ok,
    ref,
)
from pipelines.api.receipts import PATHS as RECEIPT_PATHS
from pipelines.api.responses import error_response

READ = ["401", "403"]
WRITE = ["400", "401", "403", "404", "413", "422"]

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This description.",
            "security": [],
            "responses": {"200": ok("The OpenAPI document.", {"type": "object"})},
        }
    },
    "/api/v1/pipelines": {
        "get": {
            "operationId": "listPipelines",
            "summary": "The pipelines.",
            "responses": {
                "200": ok(
                    "All pipelines.",
                    obj(
                        ["pipelines"],
                        {"pipelines": {"type": "array", "items": ref("PipelineSummary")}},
                    ),
                ),
                **errors(*READ),
            },
        }
    },
    "/api/v1/pipelines/{pipeline}": {
        "parameters": [PIPELINE_PARAM],
        "get": {
            "operationId": "getPipeline",
            "summary": "Each environment: its release, running deployment, lock and checklist.",
            "responses": {"200": ok("The pipeline.", ref("Pipeline")), **errors(*READ, "404")},
        },
    },
    "/api/v1/pipelines/{pipeline}/builds": {
        "parameters": [PIPELINE_PARAM],
        "post": {
            "operationId": "recordBuild",
            "summary": "Create or update the build of a commit.",
            "requestBody": {"required": True, "content": json_content(ref("BuildInput"))},
            "responses": {
                "201": ok("The build, new.", ref("Build")),
                "200": ok("The build, updated.", ref("Build")),
                **errors(*WRITE),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/builds/{sha}/reports": {
        "parameters": [PIPELINE_PARAM, SHA_PARAM],
        "post": {
            "operationId": "uploadReports",
            "summary": "Fill test counts and coverage from JUnit and/or Cobertura XML.",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "junit": {"type": "string", "contentMediaType": "application/xml"},
                                "coverage": {
                                    "type": "string",
                                    "contentMediaType": "application/xml",
                                },
                            },
                            "anyOf": [{"required": ["junit"]}, {"required": ["coverage"]}],
                        }
                    }
                },
            },
            "responses": {"200": ok("The build with its figures.", ref("Build")), **errors(*WRITE)},
        },
    },
    "/api/v1/pipelines/{pipeline}/builds/{sha}/artifact": {
        "parameters": [PIPELINE_PARAM, SHA_PARAM],
        "put": {
            "operationId": "uploadArtifact",
            "summary": "Stream the build's artifact (a .tar.gz) into the store.",
            "parameters": [
                {
                    "name": "X-Artifact-SHA256",
                    "in": "header",
                    "required": True,
                    "description": "The sha256 of the body, hex (optionally prefixed sha256:).",
                    "schema": {"type": "string", "pattern": "^(sha256:)?[0-9a-fA-F]{64}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {
                        "schema": {"contentMediaType": "application/octet-stream"}
                    }
                },
            },
            "responses": {
                "201": ok("Stored and attached.", ref("Artifact")),
                "200": ok("These bytes were already attached to the build.", ref("Artifact")),
                **errors(*WRITE, "409"),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/promotions": {
        "parameters": [PIPELINE_PARAM],
        "post": {
            "operationId": "promote",
            "summary": "Deploy what `from` runs to `to` (lead; the checklist must be complete).",
            "description": "409 `checklist_incomplete` lists what is missing in details.missing; "
            "409 `candidate_changed` when `from` no longer runs the pinned digest; 409 "
            "`promotion_running` names the running deployment; 423 `environment_locked`; 423 "
            "`frozen` inside a scheduled freeze window (details.window: start, end, reason, "
            "timezone, environments) unless a lead gives `reason` (break-glass).",
            "requestBody": {
                "required": True,
                "content": json_content(
                    obj(
                        ["from", "to"],
                        {
                            "from": NAME,
                            "to": NAME,
                            "digest": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
                            "reason": {"type": "string", "maxLength": 200},
                        },
                    )
                ),
            },
            "responses": {
                "202": ok(
                    "The promotion's deployment, queued.",
                    obj(
                        ["id", "status", "environment", "version", "sha", "digest", "promotion"],
                        {
                            "id": {"type": "integer"},
                            "status": {"type": "string"},
                            "environment": {"type": "string"},
                            "version": {"type": "string"},
                            "sha": {"type": "string"},
                            "digest": {"type": ["string", "null"]},
                            "url": {"type": "string"},
                            "promotion": obj(
                                ["id", "url", "receipt_url", "from", "to", "digest"],
                                {
                                    "id": {"type": "integer"},
                                    "url": {"type": "string"},
                                    "receipt_url": {"type": "string"},
                                    "from": {"type": "string"},
                                    "to": {"type": "string"},
                                    "digest": {"type": "string"},
                                    "requested_by": {"type": "string"},
                                },
                            ),
                        },
                    ),
                ),
                **errors(*WRITE, "409", "423"),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/environments/{environment}/lock": {
        "parameters": [PIPELINE_PARAM, ENVIRONMENT_PARAM],
        "post": {
            "operationId": "lockEnvironment",
            "summary": "Lock the environment: deploys and promotions to it are refused (lead).",
            "requestBody": {
                "required": True,
                "content": json_content(obj(["reason"], {"reason": {"type": "string"}})),
            },
            "responses": {
                "200": ok(
                    "The lock.",
                    obj(
                        ["environment", "lock"],
                        {"environment": {"type": "string"}, "lock": ref("Lock")},
                    ),
                ),
                **errors(*WRITE, "409"),
            },
        },
        "delete": {
            "operationId": "unlockEnvironment",
            "summary": "Lift the environment's lock (lead).",
            "responses": {
                "200": ok(
                    "Unlocked.",
                    obj(
                        ["environment", "lock"],
                        {"environment": {"type": "string"}, "lock": {"type": "null"}},
                    ),
                ),
                **errors(*READ, "404", "409"),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/environments/{environment}": {
        "parameters": [PIPELINE_PARAM, ENVIRONMENT_PARAM],
        "delete": {
            "operationId": "deleteBranchEnvironment",
            "summary": "Delete a branch environment (a lead, or its template's delete_role): "
            "its app stopped by the template's stop_command, its port freed, its history kept.",
            "description": "404 when there is no such environment; 409 for an environment "
            "declared in pipeline.toml, while one of its deployments is queued or running, "
            "or when the stop command fails (the environment then stays).",
            "requestBody": {
                "required": False,
                "content": json_content(obj([], {"reason": {"type": "string", "maxLength": 200}})),
            },
            "responses": {
                "200": ok(
                    "Deleted.",
                    obj(
                        ["environment", "source_branch", "removed_at"],
                        {
                            "environment": {"type": "string"},
                            "source_branch": {"type": "string"},
                            "removed_at": TIMESTAMP,
                        },
                    ),
                ),
                **errors(*WRITE, "409"),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/environments/{environment}/pin": {
        "parameters": [PIPELINE_PARAM, ENVIRONMENT_PARAM],
        "delete": {
            "operationId": "unpinEnvironment",
            "summary": "Unpin what a rollback pinned (lead): the newest waiting build deploys.",
            "description": "409 when the environment is not pinned.",
            "responses": {
                "200": ok(
                    "Unpinned.",
                    obj(
                        ["environment", "pin", "deployment"],
                        {
                            "environment": {"type": "string"},
                            "pin": {"type": "null"},
                            "deployment": {"type": ["object", "null"]},
                        },
                    ),
                ),
                **errors(*READ, "404", "409"),
            },
        },
    },
}

PATHS.update(LOG_PATHS)  # pipelines/api/logs.py describes its own route
PATHS.update(DEPLOYMENT_PATHS)  # as does pipelines/api/deployments.py
PATHS.update(RECEIPT_PATHS)  # and pipelines/api/receipts.py
PATHS.update(INSIGHT_PATHS)  # pipelines/api/insight.py

DESCRIPTION = """Slipway's REST API. Authenticate with `Authorization: Bearer <token>`
(`python manage.py create_token USERNAME`). A token acts with its user's roles: any role may
read; builds, reports and artifacts may be sent by the `lead` and `developer` roles only
(give CI a user in the developer group). Errors are `{"error": {"code", "message", "details"}}`.
"""

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Slipway", "version": "1", "description": DESCRIPTION},
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "responses": {
            f"Error{status}": {"description": text, "content": json_content(ref("Error"))}
            for status, text in ERRORS.items()
        },
    },
}


@api_view("GET", public=True)
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(DOCUMENT)


@csrf_exempt
@login_not_required
def no_such_endpoint(request: HttpRequest) -> JsonResponse:
    return error_response(
        404, "not_found", f"There is no API endpoint {request.path}; see /api/v1/openapi.json."
    )
