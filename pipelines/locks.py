"""Locking an environment (or freezing a whole pipeline): no deploys, no promotions there."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from pipelines import audit
from pipelines.deploy_rules import check_lead
from pipelines.errors import Conflict, EnvironmentLocked, InvalidInput
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import Environment, Lock, Pipeline


def lock(
    pipeline: Pipeline, environment: Environment | None, *, by: AbstractBaseUser, reason: str
) -> Lock:
    """Lock `environment`, or freeze all of `pipeline` when it is None (lead only)."""
    scope = _scope(pipeline, environment)
    check_lead(by, f"lock {scope}")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why you lock it: a reason is required.", field="reason")
    if len(reason) > 500:
        raise InvalidInput("A reason is at most 500 characters.", field="reason")
    try:
        with transaction.atomic():
            created = Lock.objects.create(
                pipeline=pipeline, environment=environment, owner=by, reason=reason
            )
            audit.record(
                "lock",
                f"{by.get_username()} locked {scope}: {reason}",
                pipeline=pipeline,
                environment=environment,
                actor=by,
                reason=reason,
            )
            publish_after_commit(publish_board, pipeline.pk)
    except IntegrityError:
        existing = _find(pipeline, environment)
        raise Conflict(
            f"{scope} is already locked"
            + (f" by {existing.owner.get_username()}: {existing.reason}" if existing else "."),
        ) from None
    return created


def unlock(pipeline: Pipeline, environment: Environment | None, *, by: AbstractBaseUser) -> None:
    """Lift the lock of `environment`, or the freeze of `pipeline` when it is None (lead only)."""
    scope = _scope(pipeline, environment)
    check_lead(by, f"unlock {scope}")
    with transaction.atomic():
        existing = _find(pipeline, environment)
        if existing is None:
            raise Conflict(f"{scope} is not locked.")
        existing.delete()
        audit.record(
            "unlock",
            f"{by.get_username()} unlocked {scope} (locked by {existing.owner.get_username()}: "
            f"{existing.reason})",
            pipeline=pipeline,
            environment=environment,
            actor=by,
            reason=existing.reason,
        )
        publish_after_commit(publish_board, pipeline.pk)


def lock_on(environment: Environment) -> Lock | None:
    """The lock that stops changes to `environment`: its own, else its pipeline's freeze."""
    return _locks_on(environment.pipeline_id, environment.pk).select_related("owner").first()


def lock_on_annotation() -> Subquery:
    """`lock_on()`'s lock, as the id annotating each row of an environments query: a page
    reads it with the environment and loads the lock only when there is one
    (`lock_by_id`)."""
    return Subquery(_locks_on(OuterRef("pipeline_id"), OuterRef("pk")).values("pk")[:1])


def lock_by_id(lock_id: int | None) -> Lock | None:
    """The lock `lock_on_annotation()` found, with its owner (None once it is lifted)."""
    if lock_id is None:
        return None
    return Lock.objects.select_related("owner").filter(pk=lock_id).first()


def _locks_on(pipeline_id, environment_id) -> QuerySet[Lock]:
    """The environment's own lock and its pipeline's freeze, its own first (NULLS LAST
    spelt out: SQLite sorts NULLs first, PostgreSQL last)."""
    return (
        Lock.objects.filter(pipeline_id=pipeline_id)
        .filter(Q(environment=environment_id) | Q(environment__isnull=True))
        .order_by(F("environment_id").asc(nulls_last=True))
    )


def freeze_of(pipeline: Pipeline) -> Lock | None:
    """The lock on all of `pipeline`, if any."""
    return _find(pipeline, None)


def check_unlocked(environment: Environment) -> None:
    """Raise EnvironmentLocked, saying who locked it and why, if `environment` is locked."""
    found = lock_on(environment)
    if found is None:
        return
    scope = environment.name if found.environment_id else "the whole pipeline"
    raise EnvironmentLocked(
        f"{environment.name} is locked: {found.owner.get_username()} locked {scope} "
        f"{found.created_at:%Y-%m-%d %H:%M} UTC: {found.reason}",
        environment=environment.name,
        locked_by=found.owner.get_username(),
        reason=found.reason,
        since=found.created_at.isoformat(),
        scope="environment" if found.environment_id else "pipeline",
    )


def _find(pipeline: Pipeline, environment: Environment | None) -> Lock | None:
    return (
        Lock.objects.filter(pipeline=pipeline, environment=environment)
        .select_related("owner")
        .first()
    )


def _scope(pipeline: Pipeline, environment: Environment | None) -> str:
    return environment.name if environment else f"all of {pipeline.name}"
