from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from pipelines.statuses import ACTIVE_STATUSES, DeploymentStatus, StepStatus


class Deployment(models.Model):
    """One run that tries to make a release current."""

    environment = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="deployments"
    )
    release = models.OneToOneField(
        "pipelines.Release", on_delete=models.CASCADE, related_name="deployment"
    )
    status = models.CharField(
        max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Who works on it while it runs ("host:pid:token"): a runner, or the reaper that took
    # it over from a dead one. Beats and the final UPDATE only count for this runner.
    runner = models.CharField(max_length=200, blank=True)
    # When the reaper last handed a queued deployment to a runner again, and how often.
    handed_at = models.DateTimeField(null=True, blank=True)
    handoffs = models.PositiveSmallIntegerField(default=0)
    # What the runner is about to do that cannot be undone (switching `current`, creating a
    # Heroku release), recorded before it does it, so the reaper can settle a dead runner's
    # deployment: see docs/operations.md.
    intent = models.JSONField(default=dict, blank=True)
    # The process groups of the commands it started ({"host": …, "pgid": …}).
    process_groups = models.JSONField(default=list, blank=True)
    # What the reaper did after its runner died ("v1 put back", "v2 confirmed by …").
    settled = models.CharField(max_length=300, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The highest LogLine.seq written so far; seqs are handed out from here.
    last_seq = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A lead's reason for deploying inside a scheduled freeze window (break-glass): the
    # runner starts it even though the environment is frozen (pipelines/freezes.py).
    freeze_bypass_reason = models.CharField(max_length=200, blank=True)
    # Not started: a freeze window began after it was queued (an auto-deploy then waits).
    refused_by_freeze = models.BooleanField(default=False)
    # Error lines of the log, found as they are written (pipelines/logs.py), so that no
    # page scans a million-line log for them.
    error_count = models.PositiveIntegerField(default=0)
    first_error_seq = models.PositiveIntegerField(null=True, blank=True)
    first_error = models.TextField(blank=True)
    # False for deployments stored before the error lines were counted as written: their
    # count waits for `manage.py count_log_errors` (docs/operations.md).
    log_errors_counted = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # An environment's deployments, paged by keyset on id (dashboard/keyset.py)…
            models.Index(fields=["environment", "-id"], name="deployment_newest_first"),
            # …its newest by creation (the board's last one, badges' recent ones)…
            models.Index(
                fields=["environment", "-created_at", "-id"], name="deployment_newest_created"
            ),
            # …and the few active ones, which the board looks up among thousands.
            models.Index(
                fields=["environment"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="active_deployments",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(status=DeploymentStatus.RUNNING),
                name="one_running_deployment_per_environment",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeploymentStatus.values), name="deployment_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"deployment #{self.pk} of {self.environment}"

    def get_absolute_url(self) -> str:
        return reverse("deployment", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class DeploymentStep(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deployment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "position"], name="one_step_per_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class LogLine(models.Model):
    """One line of a deployment's log: the source of truth the live view replays."""

    class Stream(models.TextChoices):
        STDOUT = "stdout"
        STDERR = "stderr"
        SYSTEM = "system"

    # Keyed by (deployment, seq), the way every reader asks: one index to keep up per line
    # written, no id column, no id sequence.
    pk = models.CompositePrimaryKey("deployment", "seq")
    # No foreign key in the database: its check costs PostgreSQL more than the rest of the
    # row, once per line; nor an index of its own (the key starts with it). A batch's
    # transaction updates, so locks, its deployment's row before writing its lines, refused
    # when there is none; a delete locks it before deleting the lines (on_delete still
    # cascades): docs/architecture.md, "Live updates".
    deployment = models.ForeignKey(
        Deployment,
        on_delete=models.CASCADE,
        related_name="log_lines",
        db_constraint=False,
        db_index=False,
    )
    seq = models.PositiveIntegerField()
    time = models.DateTimeField()
    stream = models.CharField(max_length=8, choices=Stream.choices, default=Stream.STDOUT)
    text = models.TextField()

    class Meta:
        ordering = ["deployment", "seq"]
        constraints = [
            models.CheckConstraint(condition=Q(seq__gte=1), name="log_seq_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.seq}: {self.text[:60]}"
