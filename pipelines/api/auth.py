"""Bearer-token authentication, shared by the Django views and the streaming upload app.

Wrong tokens are counted per client address; past the login failure limit (django-axes'
AXES_FAILURE_LIMIT, for AXES_COOLOFF_TIME) that address gets 429, even with a good token.
"""

from django.conf import settings
from django.core.cache import cache

from pipelines.errors import SlipwayError
from pipelines.models import ApiToken
from pipelines.tokens import InvalidToken, authenticate


class TooManyFailures(SlipwayError):
    code = "too_many_failures"
    http_status = 429


def authenticate_header(authorization: str | None, address: str | None = None) -> ApiToken:
    """The token of an `Authorization: Bearer <token>` header. Raises InvalidToken (401), or
    TooManyFailures (429) while `address` is locked out."""
    if not authorization:
        raise InvalidToken(
            "This endpoint needs an API token: send 'Authorization: Bearer <token>'."
        )
    scheme, _, raw = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise InvalidToken("Send the API token as 'Authorization: Bearer <token>'.")
    key = f"slipway:token-failures:{address or 'unknown'}"
    cooloff = settings.AXES_COOLOFF_TIME
    if cache.get(key, 0) >= settings.AXES_FAILURE_LIMIT:
        minutes = round(cooloff.total_seconds() / 60)
        raise TooManyFailures(
            f"Too many wrong API tokens from {address or 'this address'}: try again in "
            f"{minutes} minutes.",
            retry_after=int(cooloff.total_seconds()),
        )
    try:
        return authenticate(raw)
    except InvalidToken:
        if not cache.add(key, 1, timeout=cooloff.total_seconds()):
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.add(key, 1, timeout=cooloff.total_seconds())
        raise
