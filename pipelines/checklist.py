"""Signing off a promotion's checklist, and whether each sign-off still counts.

A sign-off vouches for one candidate: the upstream artifact and the target's current release
at signing time. Only an item's latest sign-off matters; it counts while it is not revoked, not
expired (`valid_for`) and the candidate is unchanged.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from pipelines import audit
from pipelines.durations import format_duration
from pipelines.errors import CandidateChanged, Conflict, InvalidInput, PermissionDenied
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import Artifact, ChecklistItem, Environment, Release, Signoff
from pipelines.models.queries import Columns, placeholders, read_rows, table
from pipelines.roles import has_role


class Reason(StrEnum):
    """Why an item does not count (yet)."""

    NOT_SIGNED = "not_signed"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CANDIDATE_CHANGED = "candidate_changed"
    TARGET_CHANGED = "target_changed"


@dataclass(frozen=True)
class ItemState:
    item: ChecklistItem
    # The item's latest sign-off, whether it counts or not.
    signoff: Signoff | None
    reason: Reason | None
    explanation: str

    @property
    def counts(self) -> bool:
        return self.reason is None

    @property
    def expires_at(self) -> datetime | None:
        if self.signoff is None or self.item.valid_for is None:
            return None
        return self.signoff.signed_at + self.item.valid_for

    def as_data(self) -> dict[str, Any]:
        signoff = self.signoff
        return {
            "key": self.item.key,
            "label": self.item.label,
            "role": self.item.role,
            "reason": self.reason.value if self.reason else None,
            "message": self.explanation,
            "signed_by": signoff.user.get_username() if signoff else None,
            "signed_at": signoff.signed_at.isoformat() if signoff else None,
            "digest": signoff.artifact.digest if signoff else None,
        }


@dataclass(frozen=True)
class ChecklistState:
    items: list[ItemState]
    candidate: Release | None

    @property
    def complete(self) -> bool:
        return self.candidate is not None and all(state.counts for state in self.items)

    @property
    def missing(self) -> list[ItemState]:
        return [state for state in self.items if not state.counts]

    @property
    def signed(self) -> int:
        """How many items count now ("1 of 3 signed")."""
        return sum(state.counts for state in self.items)


def active_items_with_latest_signoff() -> QuerySet[ChecklistItem]:
    """Checklist items that gate promotion, each with `latest_signoffs` (at most one), prefetched:
    usable inside another query's Prefetch, so the board's query count stays constant."""
    latest = Signoff.objects.select_related("user", "revoked_by", "artifact").order_by(
        "-signed_at", "-id"
    )
    return (
        ChecklistItem.objects.active()
        .order_by("position", "key")
        .prefetch_related(Prefetch("signoffs", queryset=latest[:1], to_attr="latest_signoffs"))
    )


def items_with_latest_signoff(environment_ids: list[int]) -> dict[int, list[ChecklistItem]]:
    """Each environment's active items in order, each with `latest_signoffs` as
    `active_items_with_latest_signoff()` prefetches them (who signed, who revoked, the
    artifact), in one query: the board's, where the prefetch took most of the read's time in
    Python (docs/architecture.md, "The board's read model")."""
    if not environment_ids:
        return {}
    item, signoff = Columns(ChecklistItem, "i"), Columns(Signoff, "s")
    signer, revoker = Columns(get_user_model(), "u"), Columns(get_user_model(), "ru")
    artifact = Columns(Artifact, "a")
    q = connection.ops.quote_name
    signoffs, users = table(Signoff), table(get_user_model())
    sql = (
        f"SELECT {item.select}, {signoff.select}, {signer.select}, {revoker.select}, "
        f"{artifact.select} FROM {table(ChecklistItem)} i "
        f"LEFT JOIN {signoffs} s ON s.{q('id')} = (SELECT x.{q('id')} FROM {signoffs} x "
        f"WHERE x.{q('item_id')} = i.{q('id')} "
        f"ORDER BY x.{q('signed_at')} DESC, x.{q('id')} DESC LIMIT 1) "
        f"LEFT JOIN {users} u ON u.{q('id')} = s.{q('user_id')} "
        f"LEFT JOIN {users} ru ON ru.{q('id')} = s.{q('revoked_by_id')} "
        f"LEFT JOIN {table(Artifact)} a ON a.{q('id')} = s.{q('artifact_id')} "
        f"WHERE i.{q('environment_id')} IN ({placeholders(environment_ids)}) "
        f"AND i.{q('retired_at')} IS NULL "
        f"ORDER BY i.{q('environment_id')}, i.{q('position')}, i.{q('key')}"
    )
    found: dict[int, list[ChecklistItem]] = {}
    columns = [item, signoff, signer, revoker, artifact]
    for found_item, latest, user, revoked_by, signed_artifact in read_rows(
        sql, environment_ids, columns
    ):
        if latest is not None:
            latest.item, latest.user, latest.artifact = found_item, user, signed_artifact
            latest.revoked_by = revoked_by
        found_item.latest_signoffs = [latest] if latest else []
        found.setdefault(found_item.environment_id, []).append(found_item)
    return found


def evaluate(
    target: Environment,
    items: list[ChecklistItem],
    candidate: Release | None,
    *,
    now: datetime | None = None,
) -> ChecklistState:
    """The state of `target`'s checklist for promoting `candidate` (upstream's current release).

    `items` come from `active_items_with_latest_signoff()`; `target.current_release` and
    `target.promote_from` are read, so select them along.
    """
    now = now or timezone.now()
    states = [_item_state(target, item, candidate, now) for item in items]
    return ChecklistState(items=states, candidate=candidate)


def checklist_state(target: Environment, *, now: datetime | None = None) -> ChecklistState:
    """Load and evaluate `target`'s checklist as it stands in the database now."""
    target = Environment.objects.select_related(
        "current_release", "promote_from__current_release__artifact"
    ).get(pk=target.pk)
    items = list(active_items_with_latest_signoff().filter(environment=target))
    return evaluate(target, items, candidate_of(target), now=now)


def candidate_of(target: Environment) -> Release | None:
    """What promotion would copy to `target`: its upstream's current release, if any."""
    source = target.promote_from
    return source.current_release if source else None


def _item_state(
    target: Environment, item: ChecklistItem, candidate: Release | None, now: datetime
) -> ItemState:
    latest = item.latest_signoffs[0] if item.latest_signoffs else None

    def state(reason: Reason | None, explanation: str) -> ItemState:
        return ItemState(item=item, signoff=latest, reason=reason, explanation=explanation)

    if latest is None:
        return state(Reason.NOT_SIGNED, "not signed yet")
    if latest.revoked_at is not None:
        who = latest.revoked_by.get_username() if latest.revoked_by else "someone"
        return state(Reason.REVOKED, f"revoked by {who}")
    source = target.promote_from.name if target.promote_from else "upstream"
    if candidate is None or latest.artifact_id != candidate.artifact_id:
        now_runs = f"now runs {candidate.label}" if candidate else "has nothing deployed now"
        return state(
            Reason.CANDIDATE_CHANGED,
            f"{source} {now_runs}: this was signed for another artifact",
        )
    if latest.target_release_id != target.current_release_id:
        return state(
            Reason.TARGET_CHANGED,
            f"{target.name} changed since it was signed (now "
            f"{target.current_release.label if target.current_release else 'empty'})",
        )
    if item.valid_for is not None and now >= latest.signed_at + item.valid_for:
        return state(Reason.EXPIRED, f"expired: it is valid for {format_duration(item.valid_for)}")
    return state(None, "signed")


# Use-cases


def sign(
    item: ChecklistItem,
    *,
    by: AbstractBaseUser,
    note: str = "",
    digest: str | None = None,
) -> Signoff:
    """`by` vouches for `item` for the current candidate; `digest` pins the one they saw."""
    if not has_role(by, item.role):
        raise PermissionDenied(
            f'Only {item.get_role_display()} may sign "{item.label}".', key=item.key
        )
    if item.retired_at is not None:
        raise Conflict(f'"{item.label}" is no longer on the checklist.', key=item.key)
    if len(note) > 500:
        raise InvalidInput("A note is at most 500 characters.", field="note")
    target = Environment.objects.select_related(
        "pipeline", "current_release", "promote_from__current_release__artifact"
    ).get(pk=item.environment_id)
    candidate = candidate_of(target)
    if candidate is None or candidate.artifact is None:
        source = target.promote_from.name if target.promote_from else "upstream"
        raise Conflict(f"{source} runs no artifact yet: there is nothing to sign for.")
    if digest and digest != candidate.artifact.digest:
        raise CandidateChanged(
            f"{target.promote_from.name} now runs {candidate.artifact.digest} "
            f"({candidate.label}), you saw {digest} — reload and check again.",
            digest=candidate.artifact.digest,
        )
    with transaction.atomic():
        signoff = Signoff.objects.create(
            item=item,
            artifact=candidate.artifact,
            target_release=target.current_release,
            user=by,
            note=note,
        )
        audit.record(
            "signoff",
            f'{by.get_username()} signed "{item.label}" for {candidate.build.short_sha} '
            f"({candidate.artifact.digest})",
            pipeline=target.pipeline,
            environment=target,
            actor=by,
            item=item.key,
            digest=candidate.artifact.digest,
            note=note,
        )
        publish_after_commit(publish_board, target.pipeline_id)
    return signoff


def revoke(signoff: Signoff, *, by: AbstractBaseUser) -> Signoff:
    """Withdraw a sign-off; anyone holding the item's role may (a colleague may know better)."""
    item = signoff.item
    if not has_role(by, item.role):
        raise PermissionDenied(
            f'Only {item.get_role_display()} may revoke "{item.label}".', key=item.key
        )
    with transaction.atomic():
        revoked = Signoff.objects.filter(pk=signoff.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=by
        )
        if not revoked:
            raise Conflict(f'This sign-off of "{item.label}" is already revoked.', key=item.key)
        signoff.refresh_from_db()
        env = item.environment
        audit.record(
            "signoff_revoked",
            f'{by.get_username()} revoked the sign-off of "{item.label}" by '
            f"{signoff.user.get_username()}",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            item=item.key,
            signoff=signoff.pk,
        )
        publish_after_commit(publish_board, env.pipeline_id)
    return signoff
