"""Promoting what an environment runs to the next one: the same artifact, never rebuilt.

Gated by the target's checklist and locks; exactly once however many clicks arrive together,
because everything is decided while holding the target's row lock (SELECT … FOR UPDATE on
PostgreSQL, the IMMEDIATE write lock on SQLite).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from pipelines import audit, checklist, freezes, locks
from pipelines.deploy_rules import check_lead, clean_reason
from pipelines.deploys import check_broker, queue_deployment
from pipelines.errors import (
    CandidateChanged,
    ChecklistIncomplete,
    Conflict,
    InvalidInput,
    PromotionRunning,
)
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import Deployment, Environment, Pipeline, Promotion, ReleaseCause
from pipelines.statuses import ACTIVE_STATUSES


def promote(
    pipeline: Pipeline,
    source: Environment,
    target: Environment,
    *,
    by: AbstractBaseUser,
    digest: str | None = None,
    reason: str = "",
) -> Deployment:
    """Deploy `source`'s current artifact to `target` once its checklist is complete.

    `digest` pins the artifact the lead saw: if `source` changed since, nothing happens.
    Inside a scheduled freeze window it is refused unless the lead gives a break-glass
    `reason` (pipelines/freezes.py).
    """
    check_lead(by, f"promote {source.name} to {target.name}")
    if target.pipeline_id != pipeline.pk or source.pipeline_id != pipeline.pk:
        raise InvalidInput(f"Both environments must belong to {pipeline.name}.", field="to")
    if target.promote_from_id != source.pk:
        upstream = target.promote_from.name if target.promote_from else "nowhere"
        raise InvalidInput(
            f"{target.name} is promoted from {upstream}, not from {source.name}.", field="from"
        )
    reason = clean_reason(reason)
    # No reaping first: a deployment still active (a dead runner's too) refuses the promotion.
    check_broker()
    with transaction.atomic():
        # Serialises promotions (and deploys) of the target: the second click waits here.
        target = (
            Environment.objects.select_for_update(of=("self",))
            .select_related(
                "current_release__artifact",
                "promote_from__current_release__artifact",
                "promote_from__current_release__build",
            )
            .get(pk=target.pk)
        )
        locks.check_unlocked(target)
        # The window first, before what else is missing.
        window = freezes.check_not_frozen(target, by=by, reason=reason)
        _refuse_while_deploying(target)
        candidate = checklist.candidate_of(target)
        if candidate is None or candidate.artifact is None:
            raise Conflict(f"{source.name} runs no artifact yet: there is nothing to promote.")
        artifact = candidate.artifact
        if digest and digest != artifact.digest:
            raise CandidateChanged(
                f"{source.name} now runs {artifact.digest} ({candidate.label}), "
                f"you saw {digest} — reload and check again.",
                digest=artifact.digest,
                seen=digest,
            )
        current = target.current_release
        if current is not None and current.artifact_id == artifact.pk:
            raise Conflict(
                f"{target.name} already runs {artifact.digest} ({current.label}).",
                release=current.label,
            )
        items = list(checklist.active_items_with_latest_signoff().filter(environment=target))
        state = checklist.evaluate(target, items, candidate)
        if not state.complete:
            missing = [s.as_data() for s in state.missing]
            names = "; ".join(f"{m['label']} ({m['message']})" for m in missing)
            raise ChecklistIncomplete(
                f"The checklist for {target.name} is not complete: {names}.", missing=missing
            )
        # Under this lock, checked above: queued without asking everything again.
        deployment = queue_deployment(
            target,
            candidate.build,
            cause=ReleaseCause.PROMOTION,
            by=by,
            description=f"promotion from {source.name}",
            freeze=window,
            break_glass=reason,
        )
        promotion = Promotion.objects.create(
            source=source,
            target=target,
            artifact=artifact,
            requested_by=by,
            checklist_snapshot=[s.as_data() for s in state.items],
            deployment=deployment,
        )
        audit.record(
            "promotion",
            f"{by.get_username()} promoted {candidate.build.short_sha} ({artifact.digest}) "
            f"from {source.name} to {target.name}",
            pipeline=pipeline,
            environment=target,
            actor=by,
            promotion=promotion.pk,
            deployment=deployment.pk,
            digest=artifact.digest,
            sha=candidate.build.sha,
        )
        publish_after_commit(publish_board, pipeline.pk)
    return deployment


def _refuse_while_deploying(target: Environment) -> None:
    running = (
        Deployment.objects.filter(environment=target, status__in=ACTIVE_STATUSES)
        .select_related("promotion")
        .first()
    )
    if running is None:
        return
    if hasattr(running, "promotion"):
        raise PromotionRunning(
            f"A promotion is already running: deployment #{running.pk} to {target.name}.",
            deployment=running.pk,
            url=running.get_absolute_url(),
        )
    raise PromotionRunning(
        f"Deployment #{running.pk} to {target.name} is still {running.status}; "
        "promote once it is done.",
        deployment=running.pk,
        url=running.get_absolute_url(),
    )
