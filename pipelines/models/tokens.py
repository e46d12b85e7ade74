from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token for the REST API, acting with its user's roles.

    Only the sha256 of the token is stored: the token itself is shown once, at creation.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the token, to tell tokens apart in listings.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # None: until revoked. Past it the token is refused (`create_token --expires 90d`).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        label = f"{self.name} " if self.name else ""
        return f"{label}{self.prefix}… of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
