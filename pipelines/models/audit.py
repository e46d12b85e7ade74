import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

# The hash before a chain's first event.
GENESIS = "0" * 64
# The first key of the PostgreSQL advisory locks that serialise appenders (the second: the
# pipeline's id, 0 for the events without a pipeline).
CHAIN_LOCK_SPACE = 0x5A1A  # "Slipway audit"


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Append-only record of every state change and who made it.

    The events of a pipeline form a hash chain (the events without a pipeline, one more):
    `seq` counts 1, 2, 3, … and `hash` covers the event's fields and the hash of the one
    before, so an event changed, removed or inserted behind Slipway's back breaks the chain
    (pipelines/audit.py verifies it; docs/audit.md).
    """

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", null=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    environment = models.ForeignKey(
        "pipelines.Environment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=32)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "seq"],
                condition=Q(pipeline__isnull=False),
                name="one_audit_event_per_seq",
            ),
            models.UniqueConstraint(
                fields=["seq"],
                condition=Q(pipeline__isnull=True),
                name="one_unscoped_audit_event_per_seq",
            ),
        ]
        # The audit page is paged by keyset on id within a pipeline (dashboard/keyset.py).
        indexes = [models.Index(fields=["pipeline", "-id"], name="audit_newest_first")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}: {self.message}"

    def save(self, *args, **kwargs):
        """Append to the chain: after its last event, with the next seq and the hash."""
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        # As the database gives it back (lists, string keys), so the hash matches later.
        self.data = json.loads(json.dumps(self.data))
        with transaction.atomic():
            self._lock_chain()
            last = self.chain().order_by("-seq").values("seq", "hash").first()
            self.seq = last["seq"] + 1 if last else 1
            self.prev_hash = last["hash"] if last else GENESIS
            self.created_at = timezone.now()
            self.hash = self.computed_hash()
            super().save(*args, **kwargs)

    def _lock_chain(self) -> None:
        """One appender per chain at a time, until its transaction ends. PostgreSQL: an
        advisory lock on the chain; SQLite writes one transaction at a time anyway."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [CHAIN_LOCK_SPACE, self.pipeline_id or 0],
                )

    def chain(self) -> models.QuerySet:
        """The events of this event's chain: its pipeline's, or those without a pipeline."""
        return chain_of(self.pipeline_id)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def computed_hash(self) -> str:
        return chain_hash(
            prev_hash=self.prev_hash,
            seq=self.seq,
            pipeline_id=self.pipeline_id,
            environment_id=self.environment_id,
            actor_id=self.actor_id,
            action=self.action,
            message=self.message,
            data=self.data,
            created_at=self.created_at,
        )


def chain_of(pipeline_id: int | None) -> models.QuerySet:
    if pipeline_id is None:
        return AuditEvent.objects.filter(pipeline__isnull=True)
    return AuditEvent.objects.filter(pipeline_id=pipeline_id)


def chain_hash(
    *,
    prev_hash: str,
    seq: int,
    pipeline_id: int | None,
    environment_id: int | None,
    actor_id: int | None,
    action: str,
    message: str,
    data: Any,
    created_at: datetime,
) -> str:
    """SHA-256 of an event's fields and the previous hash, in one canonical JSON form.

    The form is a promise to every chain already stored: change it and they all break.
    """
    fields = {
        "prev": prev_hash,
        "seq": seq,
        "pipeline": pipeline_id,
        "environment": environment_id,
        "actor": actor_id,
        "action": action,
        "message": message,
        "data": data,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditCheckpoint(models.Model):
    """How far a pipeline's chain was verified, so the audit page checks only what is new.

    `seq`/`hash`: the last event the page (or `verify_audit`) found holding; the page re-checks
    that event and walks on from it. `full_*`: the last run of `manage.py verify_audit`, which
    always walks the whole chain and never trusts this row. `mac` (a keyed hash under
    SECRET_KEY) makes a row written behind Slipway's back show as such (docs/audit.md).
    """

    pipeline = models.OneToOneField(
        "pipelines.Pipeline",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="audit_checkpoint",
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)
    checked_at = models.DateTimeField(null=True, blank=True)
    full_at = models.DateTimeField(null=True, blank=True)
    full_seq = models.PositiveBigIntegerField(default=0)
    full_broken = models.CharField(max_length=500, blank=True, default="")
    mac = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit of pipeline {self.pipeline_id} checked up to event {self.seq}"
