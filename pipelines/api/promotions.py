"""Promotions and locks over the API (docs/api.md): the same use-cases as the board's buttons."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines import auto_deploys, branch_environments, locks
from pipelines.api.decorators import api_view
from pipelines.api.deployments import deployment_json
from pipelines.api.parsing import check_fields, json_object
from pipelines.api.representations import timestamp
from pipelines.builds import get_pipeline
from pipelines.errors import InvalidInput, NotFound
from pipelines.models import Deployment, Environment, Lock, Pipeline
from pipelines.models.builds import DIGEST_RE
from pipelines.promotion import promote
from pipelines.receipts import receipt_path


@api_view("POST")
def promotions(request: HttpRequest, pipeline: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    data = json_object(request)
    check_fields(data, allowed=("from", "to", "digest", "reason"), required=("from", "to"))
    source, target = _named(found, from_=data["from"], to=data["to"])
    digest = data.get("digest")
    if digest is not None and not (isinstance(digest, str) and DIGEST_RE.match(digest)):
        raise InvalidInput(
            "digest must be 'sha256:' followed by 64 lowercase hex characters.", field="digest"
        )
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidInput("reason must be a string.", field="reason")
    # A reason only counts inside a freeze window: a lead's break-glass (docs/freezes.md).
    deployment = promote(found, source, target, by=request.user, digest=digest, reason=reason)
    return JsonResponse(promotion_json(deployment), status=202)


@api_view("POST", "DELETE")
def environment_lock(request: HttpRequest, pipeline: str, environment: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    env = _environment(found, environment)
    if request.method == "DELETE":
        locks.unlock(found, env, by=request.user)
        return JsonResponse({"environment": env.name, "lock": None})
    data = json_object(request)
    check_fields(data, allowed=("reason",), required=("reason",))
    if not isinstance(data["reason"], str):
        raise InvalidInput("reason must be a string.", field="reason")
    created = locks.lock(found, env, by=request.user, reason=data["reason"])
    return JsonResponse({"environment": env.name, "lock": lock_json(created)})


@api_view("DELETE")
def environment_pin(request: HttpRequest, pipeline: str, environment: str) -> JsonResponse:
    """A lead unpins an environment a rollback pinned; the newest waiting build deploys."""
    found = get_pipeline(pipeline)
    env = _environment(found, environment)
    deployment = auto_deploys.unpin(env, by=request.user)
    return JsonResponse(
        {
            "environment": env.name,
            "pin": None,
            "deployment": deployment_json(deployment) if deployment else None,
        }
    )


@api_view("DELETE")
def environment(request: HttpRequest, pipeline: str, environment: str) -> JsonResponse:
    """Delete a branch environment (a lead, or the template's delete_role): its app stopped,
    its port freed, its history kept (docs/branch-environments.md)."""
    found = get_pipeline(pipeline)
    env = _environment(found, environment)
    data = json_object(request) if request.body else {}
    check_fields(data, allowed=("reason",), required=())
    reason = branch_environments.check_deletable_input(data.get("reason"))
    removed = branch_environments.delete_environment(env, by=request.user, reason=reason)
    return JsonResponse(
        {
            "environment": removed.name,
            "source_branch": removed.source_branch,
            "removed_at": timestamp(removed.removed_at),
        }
    )


def promotion_json(deployment: Deployment) -> dict[str, Any]:
    """The accepted promotion, from the objects `promote` returned: every relation is in
    hand already (no query). The release's artifact is the promotion's: the same build's,
    and a build's artifact never changes."""
    release, promotion = deployment.release, deployment.promotion
    return {
        "id": deployment.pk,
        "status": deployment.status,  # as accepted: a worker may have taken it since
        "environment": deployment.environment.name,
        "version": release.label,
        "sha": release.build.sha,
        "digest": promotion.artifact.digest,
        "url": deployment.get_absolute_url(),
        "promotion": {
            "id": promotion.pk,
            "url": promotion.get_absolute_url(),
            "receipt_url": receipt_path(promotion),
            "from": promotion.source.name,
            "to": promotion.target.name,
            "digest": promotion.artifact.digest,
            "requested_by": promotion.requested_by.get_username(),
        },
    }


def lock_json(lock: Lock) -> dict[str, Any]:
    return {
        "owner": lock.owner.get_username(),
        "reason": lock.reason,
        "since": lock.created_at.isoformat(),
        "scope": "environment" if lock.environment_id else "pipeline",
    }


def _environment(pipeline: Pipeline, name: str) -> Environment:
    found = pipeline.environments.select_related("promote_from").filter(name=name).first()
    if found is None:
        raise NotFound(f"{pipeline.name} has no environment {name!r}.", environment=name)
    return found


def _named(pipeline: Pipeline, **names: Any) -> list[Environment]:
    """The environments named in the body (`from_`, `to`), in that order, in one query: a
    wrong name is bad input (422), not a missing page."""
    fields = {key: key.rstrip("_") for key in names}  # "from" is a keyword
    for key, name in names.items():
        if not isinstance(name, str):
            raise InvalidInput(f"{fields[key]} must be an environment's name.", field=fields[key])
    found = {
        env.name: env
        for env in pipeline.environments.select_related("promote_from").filter(
            name__in=names.values()
        )
    }
    for key, name in names.items():
        if name not in found:
            raise InvalidInput(f"{pipeline.name} has no environment {name!r}.", field=fields[key])
    return [found[name] for name in names.values()]
