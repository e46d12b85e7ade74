"""The component schemas of the OpenAPI document (see openapi.py)."""

from typing import Any

from pipelines.checklist import Reason
from pipelines.models import BuildStatus, DeploymentStatus
from pipelines.roles import Role

NULLABLE_STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
PERCENT = {"type": "number", "minimum": 0, "maximum": 100}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name: str) -> dict[str, Any]:
    return {"oneOf": [ref(name), {"type": "null"}]}


def obj(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema)}


ERRORS = {
    "400": "The request is malformed (bad JSON, missing header, not multipart, no report).",
    "401": "No token, or a bad or revoked one.",
    "403": "The token's user may not do this (see the roles in info.description).",
    "404": "No such pipeline or build.",
    "409": "A different artifact is already attached to the build.",
    "413": "The body is larger than the limit.",
    "422": "Well-formed but wrong: the field at fault is in details.field.",
    "423": "The environment (or its whole pipeline) is locked: details say who, why, since when "
    "(`environment_locked`); or a scheduled freeze window holds (`frozen`): details.window says "
    "its start, end, reason, timezone and environments.",
}


def errors(*statuses: str) -> dict[str, Any]:
    return {s: {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


NAME = {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}
SHA = {"type": "string", "pattern": "^[0-9a-fA-F]{7,64}$"}
RELEASE = {
    "oneOf": [
        {"type": "string", "pattern": r"^\s*[vV]?0*[1-9][0-9]{0,8}\s*$"},
        {"type": "integer", "minimum": 1, "maximum": 999_999_999},
    ],
    "description": 'A release version: "v3" or 3.',
}
PIPELINE_PARAM = {"name": "pipeline", "in": "path", "required": True, "schema": NAME}
ENVIRONMENT_PARAM = {"name": "environment", "in": "path", "required": True, "schema": NAME}
SHA_PARAM = {
    "name": "sha",
    "in": "path",
    "required": True,
    "description": "The commit sha (or a unique prefix of at least 7 characters).",
    "schema": SHA,
}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        ["error"],
        {
            "error": obj(
                ["code", "message", "details"],
                {
                    "code": {"type": "string", "pattern": "^[a-z_]+$"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            )
        },
    ),
    "Tests": obj(
        ["passed", "failed", "skipped"], {k: COUNT for k in ("passed", "failed", "skipped")}
    ),
    "TestsInput": obj(
        [],
        {k: COUNT for k in ("passed", "failed", "skipped")},
        description="A count left out is 0.",
    ),
    "Artifact": obj(
        ["digest", "size"],
        {
            "digest": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            "size": COUNT | {"maximum": 2**63},
        },
    ),
    "BuildInput": obj(
        ["sha", "status"],
        {
            "sha": SHA,
            "status": {"enum": BuildStatus.values},
            "branch": {"type": ["string", "null"], "maxLength": 255},
            "message": {"type": ["string", "null"], "maxLength": 10_000},
            "author": {"type": ["string", "null"], "maxLength": 255},
            "url": {"type": ["string", "null"], "maxLength": 500, "pattern": "^(https?://.*)?$"},
            "tests": {"oneOf": [ref("TestsInput"), {"type": "null"}]},
            "coverage": {"oneOf": [PERCENT, {"type": "null"}]},
        },
        description="Fields left out or null keep their stored value.",
    ),
    "Build": obj(
        [
            "pipeline",
            "sha",
            "branch",
            "message",
            "author",
            "url",
            "status",
            "tests",
            "coverage",
            "artifact",
            "created_at",
            "updated_at",
        ],
        {
            "pipeline": {"type": "string"},
            "sha": {"type": "string"},
            "branch": {"type": "string"},
            "message": {"type": "string"},
            "author": {"type": "string"},
            "url": {"type": "string"},
            "status": {"enum": BuildStatus.values},
            "tests": nullable("Tests"),
            "coverage": {"oneOf": [PERCENT, {"type": "null"}]},
            "artifact": nullable("Artifact"),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    ),
    "PipelineSummary": obj(
        ["name", "repository_url"],
        {"name": {"type": "string"}, "repository_url": {"type": "string"}},
    ),
    "Release": obj(
        ["version", "sha", "digest", "cause", "description", "deployed_at", "deployed_by", "build"],
        {
            "version": {"type": "string", "pattern": "^v[0-9]+$"},
            "sha": {"type": "string"},
            "digest": NULLABLE_STRING,
            "cause": {"type": "string"},
            "description": {"type": "string"},
            "deployed_at": {"type": ["string", "null"], "format": "date-time"},
            "deployed_by": NULLABLE_STRING,
            "build": obj(
                ["status", "branch", "message", "tests", "coverage"],
                {
                    "status": {"enum": BuildStatus.values},
                    "branch": {"type": "string"},
                    "message": {"type": "string", "description": "The commit's first line."},
                    "tests": nullable("Tests"),
                    "coverage": {"oneOf": [PERCENT, {"type": "null"}]},
                },
            ),
        },
    ),
    "Deployment": obj(
        ["id", "status", "version", "sha"],
        {
            "id": {"type": "integer"},
            "status": {"enum": DeploymentStatus.values},
            "version": {"type": "string"},
            "sha": {"type": "string"},
        },
    ),
    "Lock": obj(
        ["owner", "reason", "since", "scope"],
        {
            "owner": {"type": "string"},
            "reason": {"type": "string"},
            "since": TIMESTAMP,
            "scope": {"enum": ["environment", "pipeline"]},
        },
    ),
    "ChecklistItem": obj(
        ["key", "label", "role", "valid_for"],
        {
            "key": {"type": "string"},
            "label": {"type": "string"},
            "role": {"enum": Role.values},
            "valid_for": {"type": ["number", "null"], "description": "Seconds a sign-off lasts."},
        },
    ),
    "Environment": obj(
        ["name", "position", "branch", "promote_from", "release", "candidate", "deployment"]
        + ["lock", "checklist"],
        {
            "name": {"type": "string"},
            "position": {"type": "integer"},
            "branch": {"type": "string", "description": "Glob of branches that auto-deploy."},
            "promote_from": NULLABLE_STRING,
            "release": nullable("Release"),
            "candidate": nullable("Release") | {"description": "What promote_from runs now."},
            "deployment": nullable("Deployment") | {"description": "Queued or running."},
            "lock": nullable("Lock"),
            "pin": nullable("Pin")
            | {"description": "Pinned by a rollback: auto-deploy waits until a lead unpins."},
            "checklist": {"type": "array", "items": ref("ChecklistItem")},
            "checklist_state": nullable("ChecklistState")
            | {"description": "Promoted environments: whether each item counts, or why not."},
            "probe": nullable("Probe")
            | {"description": "The drift probe, for environments with a version_url."},
            "per_branch": {
                "type": "boolean",
                "description": "A template: each branch matching `branch` gets its own.",
            },
            "template": NULLABLE_STRING
            | {"description": "A branch environment: the template it was made from."},
            "source_branch": NULLABLE_STRING
            | {"description": "A branch environment: the branch it deploys."},
            "port": {"type": ["integer", "null"], "description": "Its {port}, if it has one."},
            "frozen": nullable("FreezeWindow")
            | {"description": "The scheduled freeze window holding here now."},
        },
    ),
    "FreezeWindow": obj(
        ["start", "end", "reason", "timezone", "environments"],
        {
            "start": TIMESTAMP | {"description": "With the offset of its timezone."},
            "end": TIMESTAMP,
            "reason": {"type": "string"},
            "timezone": {"type": "string", "description": "IANA name, as in pipeline.toml."},
            "environments": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "The environments it freezes; null: every one.",
            },
        },
    ),
    "Probe": obj(
        ["status", "serving_sha", "checked_at", "since"],
        {
            "status": {"enum": ["ok", "drift", "unreachable"]},
            "serving_sha": NULLABLE_STRING | {"description": "What the target says it serves."},
            "deployed_sha": NULLABLE_STRING,
            "detail": NULLABLE_STRING | {"description": "Why it is unreachable."},
            "checked_at": TIMESTAMP,
            "since": TIMESTAMP | {"description": "When this status began."},
        },
    ),
    "Pin": obj(
        ["by", "since", "reason", "waiting"],
        {
            "by": NULLABLE_STRING,
            "since": TIMESTAMP,
            "reason": {"type": "string"},
            "waiting": {
                "type": "array",
                "description": "Passing builds held back by the pin, newest first (at most 10).",
                "items": obj(
                    ["sha", "branch", "created_at"],
                    {
                        "sha": {"type": "string"},
                        "branch": {"type": "string"},
                        "created_at": TIMESTAMP,
                    },
                ),
            },
        },
    ),
    "ChecklistState": obj(
        ["complete", "items"],
        {
            "complete": {"type": "boolean"},
            "items": {
                "type": "array",
                "items": obj(
                    ["key", "label", "role", "reason", "message", "signed_by", "signed_at"],
                    {
                        "key": {"type": "string"},
                        "label": {"type": "string"},
                        "role": {"enum": Role.values},
                        "reason": {
                            "enum": [None, *(reason.value for reason in Reason)],
                            "description": "Why the item does not count; null: it counts.",
                        },
                        "message": {"type": "string"},
                        "signed_by": NULLABLE_STRING,
                        "signed_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                ),
            },
        },
    ),
    "Pipeline": obj(
        ["name", "repository_url", "environments"],
        {
            "name": {"type": "string"},
            "repository_url": {"type": "string"},
            "freeze": obj(
                ["active", "next"],
                {"active": nullable("FreezeWindow"), "next": nullable("FreezeWindow")},
                description="Scheduled freezes: the window holding now on any environment, "
                "and the next one to start.",
            ),
            "environments": {"type": "array", "items": ref("Environment")},
        },
    ),
}
