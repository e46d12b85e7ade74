"""Recording who changed what: every use-case that changes state calls `record`.

Deploy news for Slack, webhooks and e-mail listens to the new rows (pipelines/apps.py).

The events of each pipeline form a hash chain (pipelines/models/audit.py): `record` appends
to it, `verify_chain` walks it and names the first event that was changed, removed or
inserted behind Slipway's back (docs/audit.md). `verify_chain` is the full walk of `manage.py
verify_audit`; the audit page calls `verify_since_checkpoint`, which walks only the events
after the last one it found holding (a checkpoint it re-checks), so its work does not grow
with history.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from pipelines.models import AuditCheckpoint, AuditEvent, Environment, Pipeline
from pipelines.models.audit import GENESIS, chain_hash, chain_of

# The most events one view of the audit page verifies (hashing one takes ~10-90 µs): a page
# never does more work than this, however much happened since the last view; the rest waits
# for the next views (or `verify_audit`, which moves the checkpoint to the end of a chain it
# found whole).
PAGE_BATCH = 200


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
    verified_hash: str = GENESIS  # the hash of event `verified_seq`

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
    rows = _rows(pipeline.pk if pipeline else None)
    return _walk(name, rows, expected_seq=1, expected_prev=GENESIS, verified_at=None)


def _walk(
    name: str,
    rows: Iterable[dict[str, Any]],
    *,
    expected_seq: int,
    expected_prev: str,
    verified_at: datetime | None,
) -> ChainReport:
    """Check `rows` in order as the events that follow event `expected_seq - 1`."""
    count = 0
    for row in rows:
        count += 1
        problem = _problem(row, expected_seq, expected_prev)
        if problem:
            return ChainReport(
                name, count, expected_seq - 1, verified_at, problem, row["id"], expected_prev
            )
        expected_seq, expected_prev, verified_at = row["seq"] + 1, row["hash"], row["created_at"]
    return ChainReport(name, count, expected_seq - 1, verified_at, verified_hash=expected_prev)


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
    """Every pipeline's chain (remembered for its audit page), then the chain of the events
    without a pipeline."""
    reports = [verify_and_remember(p) for p in Pipeline.objects.order_by("name")]
    if AuditEvent.objects.filter(pipeline__isnull=True).exists():
        reports.append(verify_chain(None))
    return reports


def verify_and_remember(pipeline: Pipeline) -> ChainReport:
    """`verify_chain`, and what it found kept for the audit page ("full verification last ran
    …"). A whole chain also moves the page's checkpoint to its end."""
    report = verify_chain(pipeline)
    checkpoint = AuditCheckpoint.objects.filter(pipeline=pipeline).first()
    if checkpoint is None or not _genuine(checkpoint):  # a forged one is not built upon
        checkpoint = AuditCheckpoint(pipeline=pipeline)
    checkpoint.full_at = timezone.now()
    checkpoint.full_seq = report.verified_seq
    checkpoint.full_broken = report.broken[:500]
    if report.ok and report.verified_seq >= checkpoint.seq:
        checkpoint.seq, checkpoint.hash = report.verified_seq, report.verified_hash
        checkpoint.checked_at = checkpoint.full_at
    checkpoint.mac = _mac(checkpoint)
    checkpoint.save()
    return report


@dataclass(frozen=True)
class PageCheck:
    """What one view of the audit page verified, and what it relied on."""

    chain: ChainReport  # verified_seq: how far the chain holds, by this view and earlier ones
    checkpoint_seq: int  # the event this view started from (re-checked); 0: the first
    checkpoint_at: datetime | None  # when the events before were last verified
    checkpoint_refused: bool  # the stored checkpoint was not written by Slipway: started over
    unchecked: int  # newer events this view left to the next ones (over PAGE_BATCH)
    full_at: datetime | None  # when `verify_audit` last ran on this pipeline (None: never)
    full_seq: int
    full_broken: str  # what it found broken ("" when the chain held)

    @property
    def new_events(self) -> int:
        """How many events this view verified beyond its checkpoint."""
        return max(self.chain.verified_seq - self.checkpoint_seq, 0)


def verify_since_checkpoint(pipeline: Pipeline) -> PageCheck:
    """Verify what is new since the pipeline's checkpoint, at most PAGE_BATCH events, in a
    constant number of queries; move the checkpoint forward when it all holds.

    The checkpoint's own event is fetched again and must still have the hash it had, so a
    change to it shows; a change to an event before it is `verify_audit`'s to find.
    """
    stored = AuditCheckpoint.objects.filter(pipeline=pipeline).first()
    refused = stored is not None and stored.seq > 0 and not _genuine(stored)
    start_seq, start_hash = (stored.seq, stored.hash) if stored and not refused else (0, GENESIS)
    start_at = stored.checked_at if stored and not refused else None
    rows = list(
        chain_of(pipeline.pk)
        .filter(seq__gte=max(start_seq, 1), seq__lte=start_seq + PAGE_BATCH)
        .order_by("seq", "id")
        .values(*FIELDS)
    )
    if start_seq:
        problem = _checkpoint_problem(rows, start_seq, start_hash, start_at)
        if problem:
            chain = ChainReport(
                pipeline.name,
                len(rows),
                start_seq - 1,
                None,
                problem,
                rows[0]["id"] if rows else None,
            )
            return _page_check(stored, chain, start_seq, start_at, refused, 0)
        verified_at, rows = rows[0]["created_at"], rows[1:]
    else:
        verified_at = None
    chain = _walk(
        pipeline.name,
        rows,
        expected_seq=start_seq + 1,
        expected_prev=start_hash,
        verified_at=verified_at,
    )
    unchecked = 0
    if chain.ok and chain.verified_seq == start_seq + PAGE_BATCH:
        last = chain_of(pipeline.pk).order_by("-seq").values_list("seq", flat=True).first()
        unchecked = max((last or 0) - chain.verified_seq, 0)
    if chain.ok and chain.verified_seq > start_seq:
        _advance(pipeline, stored, chain.verified_seq, chain.verified_hash)
    return _page_check(stored, chain, start_seq, start_at, refused, unchecked)


def _checkpoint_problem(
    rows: list[dict[str, Any]], seq: int, expected_hash: str, checked_at: datetime | None
) -> str:
    """What is wrong with the checkpoint's event (rows[0] should be it); "" when it holds."""
    when = f" (verified {checked_at:%Y-%m-%d %H:%M:%S} UTC)" if checked_at else ""
    if not rows or rows[0]["seq"] != seq:
        return f"event {seq} of the chain, the last one verified before{when}, was removed."
    row = rows[0]
    fields = {key: row[key] for key in FIELDS if key not in ("id", "hash")}
    if row["hash"] != expected_hash or chain_hash(**fields) != expected_hash:
        return (
            f"event #{row['id']} (seq {seq}), the last one verified before{when}, "
            "was changed since."
        )
    return ""


def _page_check(
    stored: AuditCheckpoint | None,
    chain: ChainReport,
    start_seq: int,
    start_at: datetime | None,
    refused: bool,
    unchecked: int,
) -> PageCheck:
    genuine = stored is not None and not refused
    return PageCheck(
        chain=chain,
        checkpoint_seq=start_seq,
        checkpoint_at=start_at,
        checkpoint_refused=refused,
        unchecked=unchecked,
        full_at=stored.full_at if genuine else None,
        full_seq=stored.full_seq if genuine else 0,
        full_broken=stored.full_broken if genuine else "",
    )


def _advance(pipeline: Pipeline, stored: AuditCheckpoint | None, seq: int, hash_: str) -> None:
    """Move the checkpoint forward to event `seq`, unless someone moved it meanwhile."""
    checkpoint = AuditCheckpoint(pipeline=pipeline)
    if stored is not None and _genuine(stored):  # keep what verify_audit found
        checkpoint.full_at, checkpoint.full_seq = stored.full_at, stored.full_seq
        checkpoint.full_broken = stored.full_broken
    checkpoint.seq, checkpoint.hash, checkpoint.checked_at = seq, hash_, timezone.now()
    checkpoint.mac = _mac(checkpoint)
    if stored is None:
        try:
            with transaction.atomic():
                checkpoint.save(force_insert=True)
        except IntegrityError:
            pass  # another view made it first: it is as good as this one
        return
    fields = ("seq", "hash", "checked_at", "full_at", "full_seq", "full_broken", "mac")
    # Only over the row as this view read it: a racing view or verify_audit wins.
    AuditCheckpoint.objects.filter(pipeline=pipeline, mac=stored.mac).update(
        **{field: getattr(checkpoint, field) for field in fields}
    )


def _mac(checkpoint: AuditCheckpoint) -> str:
    """A keyed hash of the row under SECRET_KEY: someone who can write the database but does
    not hold the key cannot move the checkpoint past an event they changed."""
    stamp = [
        checkpoint.pipeline_id,
        checkpoint.seq,
        checkpoint.hash,
        _instant(checkpoint.checked_at),
        _instant(checkpoint.full_at),
        checkpoint.full_seq,
        checkpoint.full_broken,
    ]
    value = "\x1f".join(str(part) for part in stamp)
    return salted_hmac("slipway.audit-checkpoint", value, algorithm="sha256").hexdigest()


def _instant(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else ""


def _genuine(checkpoint: AuditCheckpoint) -> bool:
    return constant_time_compare(checkpoint.mac, _mac(checkpoint))
