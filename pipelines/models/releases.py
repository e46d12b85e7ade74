from django.conf import settings
from django.db import models
from django.db.models import Q


class ReleaseCause(models.TextChoices):
    AUTO_DEPLOY = "auto_deploy", "auto-deploy of a passing build"
    MANUAL = "manual", "manual deploy"
    PROMOTION = "promotion", "promotion"
    ROLLBACK = "rollback", "rollback"


class Release(models.Model):
    """An artifact made (or being made) current on an environment: v1, v2, … per environment.

    A rollback is a new release of old bytes; history is never rewritten.
    """

    environment = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="releases"
    )
    version = models.PositiveIntegerField()
    build = models.ForeignKey("pipelines.Build", on_delete=models.PROTECT, related_name="releases")
    artifact = models.ForeignKey(
        "pipelines.Artifact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="releases",
    )
    cause = models.CharField(max_length=16, choices=ReleaseCause.choices)
    # Human label of the cause: "promotion from uat", "rollback to v3", …
    # A break-glass deploy adds "checklist bypassed by lead because …" (docs/security.md).
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When it became current (its deployment succeeded); empty until then.
    deployed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["environment", "-version"]
        indexes = [
            # The last releases that went live in each environment (the cards' sparklines).
            models.Index(
                fields=["environment", "-deployed_at", "-id"], name="release_newest_deployed"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "version"], name="one_release_per_version"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="release_version_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.label}"

    @property
    def label(self) -> str:
        return release_label(self.version)


class Promotion(models.Model):
    """A lead's click: the pinned artifact, the checklist as it stood, the deployment it made."""

    source = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="promotions_out"
    )
    target = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="promotions_in"
    )
    artifact = models.ForeignKey("pipelines.Artifact", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checklist_snapshot = models.JSONField(default=list, blank=True)
    deployment = models.OneToOneField(
        "pipelines.Deployment", on_delete=models.PROTECT, related_name="promotion"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The signed receipt (JSON), issued once when the deployment has ended (pipelines/receipts.py).
    receipt = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="promotion_between_two_environments"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source.name} → {self.target.name} ({self.artifact})"

    def get_absolute_url(self) -> str:
        return f"/promotions/{self.pk}/"


def release_label(version: int) -> str:
    """How people name a release: "v12" (the board's sparklines label rows they never load)."""
    return f"v{version}"
