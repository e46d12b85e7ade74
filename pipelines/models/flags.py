from django.db import models

RULE_FIELDS = ("description", "default", "users", "groups", "percentage")


class FeatureFlag(models.Model):
    """An on/off feature of one environment, evaluated for each user (docs/feature-flags.md).

    On for the listed `users` (targeting keys) and `groups`, for `percentage` of the
    targeting keys by a stable hash; `default` for everyone else.
    """

    environment = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="flags"
    )
    key = models.SlugField(max_length=64)
    description = models.CharField(max_length=500, blank=True)
    default = models.BooleanField(default=False)
    users = models.JSONField(default=list, blank=True)
    groups = models.JSONField(default=list, blank=True)
    percentage = models.PositiveSmallIntegerField(default=0)
    # The declaration of pipeline.toml last applied: a file that says something new wins,
    # the same file loaded again keeps what the page changed since.
    declared = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment", "key"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "key"], name="unique_flag_key"),
            models.CheckConstraint(
                condition=models.Q(percentage__lte=100), name="flag_percentage_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment}/{self.key}"

    def rules(self) -> dict:
        """What the page and pipeline.toml set, as the audit log records it."""
        return {name: getattr(self, name) for name in RULE_FIELDS}


class FlagKey(models.Model):
    """The key an application presents to read one environment's flags over OFREP.

    Like API tokens, only its sha256 is stored: the key is shown once, at creation.
    """

    environment = models.ForeignKey(
        "pipelines.Environment", on_delete=models.CASCADE, related_name="flag_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["environment", "-created_at"]

    def __str__(self) -> str:
        label = f"{self.name} " if self.name else ""
        return f"{label}{self.prefix}… of {self.environment}"
