"""API tokens: created for a user, shown once, stored as a sha256, revocable.

A token acts with its user's roles. Tokens are high-entropy random strings, so a
plain sha256 is enough to store them (no slow password hash needed).
"""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from pipelines import audit
from pipelines.errors import NotFound, SlipwayError
from pipelines.models import ApiToken
from pipelines.numbers import parse_whole_number

TOKEN_PREFIX = "slw_"
PREFIX_LENGTH = 12
# last_used_at is a hint for people, not a log: skip the write when it is this fresh.
LAST_USED_PRECISION = timedelta(seconds=60)


class InvalidToken(SlipwayError):
    code = "unauthorized"
    http_status = 401


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    user: AbstractBaseUser,
    *,
    name: str = "",
    by: AbstractBaseUser | None = None,
    expires_in: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for `user`, valid until revoked or for `expires_in`. Returns (token, raw):
    `raw` is never stored, show it once."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:PREFIX_LENGTH],
        token_hash=hash_token(raw),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    until = f", expires {token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else ""
    audit.record(
        "token_created",
        f"API token {token.prefix}… ({name or 'unnamed'}) created for {user}{until}",
        pipeline=None,
        actor=by,
        token=token.pk,
        user=str(user),
    )
    return token, raw


def revoke_token(token: ApiToken, *, by: AbstractBaseUser | None = None) -> ApiToken:
    """Revoke a token for good. Revoking twice keeps the first time."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db()
        if updated:
            audit.record(
                "token_revoked",
                f"API token {token.prefix}… ({token.name or 'unnamed'}) of {token.user} revoked",
                pipeline=None,
                actor=by,
                token=token.pk,
                user=str(token.user),
            )
    return token


def find_token(prefix_or_id: str) -> ApiToken:
    """The token with this id or listed prefix (as `list_tokens` shows it)."""
    value = prefix_or_id.strip().rstrip("…")
    query = ApiToken.objects.select_related("user")
    token_id = parse_whole_number(value)
    matches = list(
        query.filter(pk=token_id) if token_id is not None else query.filter(prefix=value)
    )
    if len(matches) != 1:
        raise NotFound(f"There is no single token with id or prefix {value!r}.", token=value)
    return matches[0]


def authenticate(raw: str) -> ApiToken:
    """The active token for a raw bearer token, its user loaded. Raises InvalidToken."""
    raw = raw.strip()
    if not raw:
        raise InvalidToken("The bearer token is empty.")
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    if token is None:
        raise InvalidToken("This API token is not valid. Create one with `manage.py create_token`.")
    if token.revoked_at is not None:
        raise InvalidToken(f"This API token was revoked on {token.revoked_at:%Y-%m-%d %H:%M}.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise InvalidToken(
            f"This API token expired on {token.expires_at:%Y-%m-%d %H:%M}: create a new one."
        )
    if not token.user.is_active:
        raise InvalidToken(f"The account {token.user} of this API token is deactivated.")
    _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
