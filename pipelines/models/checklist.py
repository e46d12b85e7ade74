from django.conf import settings
from django.db import models
from django.utils import timezone

from pipelines.roles import Role


class ChecklistItemQuerySet(models.QuerySet):
    def active(self) -> "ChecklistItemQuerySet":
        """The items that gate promotion (and make an environment guarded): not retired."""
        return self.filter(retired_at__isnull=True)


class ChecklistItem(models.Model):
    """Something a person of a given role vouches for before promotion to an environment."""

    environment = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="checklist_items"
    )
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=200)
    role = models.CharField(max_length=16, choices=Role.choices)
    # A sign-off expires after this long (empty: until the candidate changes).
    valid_for = models.DurationField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    # Set by the loader when pipeline.toml no longer lists the item: kept for its history,
    # but it no longer gates promotion. Cleared when the item comes back.
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = ChecklistItemQuerySet.as_manager()

    class Meta:
        ordering = ["environment", "position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "key"], name="unique_checklist_key"),
        ]

    def __str__(self) -> str:
        return f"{self.environment}: {self.label}"


class Signoff(models.Model):
    """A person vouching for one candidate: the upstream artifact and the target's release then.

    It counts only while that candidate is unchanged, unexpired and unrevoked.
    """

    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="signoffs")
    artifact = models.ForeignKey("pipelines.Artifact", on_delete=models.PROTECT, related_name="+")
    target_release = models.ForeignKey(
        "pipelines.Release", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"{self.item.key} by {self.user} for {self.artifact}"

    @property
    def expires_at(self):
        if self.item.valid_for is None:
            return None
        return self.signed_at + self.item.valid_for


class SignoffRequest(models.Model):
    """The signers of an item were asked about one candidate (pipelines/signers.py): at most
    once, however many deployments, retries or workers bring that candidate along."""

    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="+")
    # "<artifact digest>@<target's current release id, 0: none>": what a sign-off vouches for.
    candidate = models.CharField(max_length=100)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "candidate"], name="ask_signers_once"),
        ]

    def __str__(self) -> str:
        return f"{self.item.key} asked about {self.candidate}"
