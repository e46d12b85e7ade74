"""Recording who changed what: every use-case that changes state calls `record`.

Deploy news for Slack, webhooks and e-mail listens to the new rows (pipelines/apps.py).

The events of each pipeline form a hash chain (pipelines/models/audit.py): `record` appends
to it, `verify_chain` walks it and names the first event that was changed, removed or
inserted behind Slipway's back (docs/audit.md).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from pipelines.models import AuditEvent, Environment, Pipeline
from pipelines.models.audit import GENESIS, chain_hash, chain_of


def record(
    action: str,
    message: str,
    *,
    pipeline: Pipeline | None,
    environment: Environment | None = None,
    actor: AbstractBaseUser | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one event to the audit log. `actor` None means Slipway or CI acted on its own."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        pipeline=pipeline,
        environment=environment,
        actor=actor,
        action=action,
        message=message[:500],
        data=data,
    )


@dataclass(frozen=True)
class ChainReport:
    """The result of walking one chain: `broken` says what is wrong with the first bad event."""

    pipeline: str  # its name, or "" for the events without a pipeline
    events: int
    verified_seq: int  # the last event up to which everything holds (0: none)
    verified_at: datetime | None  # that event's time
    broken: str = ""  # empty when the whole chain holds
    broken_event: int | None = None  # the id of the first event that does not hold

    @property
    def ok(self) -> bool:
        return not self.broken


FIELDS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    "pipeline_id",
    "environment_id",
    "actor_id",
    "action",
    "message",
    "data",
    "created_at",
)


def verify_chain(pipeline: Pipeline | None) -> ChainReport:
    """Walk a pipeline's chain (None: the events without a pipeline) from its first event."""
    name = pipeline.name if pipeline else ""
    expected_seq, expected_prev = 1, GENESIS
    verified_at = None
    count = 0
    for row in _rows(pipeline.pk if pipeline else None):
        count += 1
        problem = _problem(row, expected_seq, expected_prev)
        if problem:
            return ChainReport(name, count, expected_seq - 1, verified_at, problem, row["id"])
        expected_seq, expected_prev, verified_at = row["seq"] + 1, row["hash"], row["created_at"]
    return ChainReport(name, count, expected_seq - 1, verified_at)


def _problem(row: dict[str, Any], expected_seq: int, expected_prev: str) -> str:
    """What is wrong with this event, the one the chain expects next; "" when it holds."""
    seq, event_id = row["seq"], row["id"]
    if seq < expected_seq:
        return f"event #{event_id} has no place in the chain: it was inserted."
    if seq > expected_seq:
        missing = (
            f"event {expected_seq}"
            if seq == expected_seq + 1
            else f"events {expected_seq} to {seq - 1}"
        )
        return f"{missing} of the chain, before #{event_id}, were removed."
    if row["prev_hash"] != expected_prev:
        return (
            f"event #{event_id} (seq {seq}) does not follow the event before it: "
            "an event was removed or inserted there."
        )
    fields = {key: row[key] for key in FIELDS if key not in ("id", "hash")}
    if row["hash"] != chain_hash(**fields):
        return (
            f"event #{event_id} (seq {seq}) does not match its hash: it was changed (or inserted)."
        )
    return ""


def _rows(pipeline_id: int | None) -> Iterator[dict[str, Any]]:
    rows = chain_of(pipeline_id).order_by("seq", "id").values(*FIELDS)
    return rows.iterator(chunk_size=2000)


def verify_all() -> list[ChainReport]:
    """Every pipeline's chain, then the chain of the events without a pipeline."""
    reports = [verify_chain(p) for p in Pipeline.objects.order_by("name")]
    if AuditEvent.objects.filter(pipeline__isnull=True).exists():
        reports.append(verify_chain(None))
    return reports
