import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def validate_sha(value: str) -> None:
    if not SHA_RE.match(value):
        raise ValidationError("A commit sha is 7 to 64 lowercase hex characters.")


def validate_digest(value: str) -> None:
    if not DIGEST_RE.match(value):
        raise ValidationError("A digest is 'sha256:' followed by 64 lowercase hex characters.")


class Artifact(models.Model):
    """Immutable build output, stored once by content (sha256)."""

    digest = models.CharField(max_length=71, unique=True, validators=[validate_digest])
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The Heroku slug made of these bytes, once the heroku driver uploaded them: every later
    # release of this artifact (promotion to the next app, rollback) reuses the same slug.
    heroku_slug_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(digest__regex=r"^sha256:[0-9a-f]{64}$"), name="artifact_digest_format"
            ),
        ]

    def __str__(self) -> str:
        return self.digest

    @property
    def short_digest(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]


class BuildStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


class Build(models.Model):
    """What CI reported for one commit of a pipeline. Re-posting updates it."""

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="builds"
    )
    sha = models.CharField(max_length=64, validators=[validate_sha])
    branch = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)
    author = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=BuildStatus.choices, default=BuildStatus.PENDING
    )
    tests_passed = models.PositiveIntegerField(null=True, blank=True)
    tests_failed = models.PositiveIntegerField(null=True, blank=True)
    tests_skipped = models.PositiveIntegerField(null=True, blank=True)
    coverage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # At most one artifact per build; one artifact may serve many builds (same bytes).
    artifact = models.ForeignKey(
        Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="builds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["pipeline", "branch", "created_at"]),
            # The newest builds of a pipeline (deployable builds, the API) at any history size.
            models.Index(fields=["pipeline", "-created_at", "-id"], name="build_newest_first"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "sha"], name="one_build_per_commit"),
            models.CheckConstraint(
                condition=Q(status__in=BuildStatus.values), name="build_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(coverage__isnull=True) | Q(coverage__gte=0, coverage__lte=100),
                name="build_coverage_is_a_percentage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}@{self.short_sha}"

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def tests_total(self) -> int | None:
        counts = (self.tests_passed, self.tests_failed, self.tests_skipped)
        if all(c is None for c in counts):
            return None
        return sum(c or 0 for c in counts)

    @property
    def subject(self) -> str:
        """The first line of the commit message."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


class TestOutcomes(models.Model):
    """Each test case of a build's JUnit report and how it ended, stored compactly:
    zlib-compressed JSON {"suite.Class::test_name": "p" | "f" | "s"} (pipelines/test_outcomes.py).
    """

    __test__ = False  # not a pytest test class, whatever its name

    build = models.OneToOneField(Build, on_delete=models.CASCADE, related_name="test_outcomes")
    count = models.PositiveIntegerField()
    packed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "test outcomes"

    def __str__(self) -> str:
        return f"{self.count} test outcomes of {self.build}"
