"""Bearer-token authentication, shared by the Django views and the streaming upload app."""

from pipelines.models import ApiToken
from pipelines.tokens import InvalidToken, authenticate


def authenticate_header(authorization: str | None) -> ApiToken:
    """The token of an `Authorization: Bearer <token>` header. Raises InvalidToken (401)."""
    if not authorization:
        raise InvalidToken(
            "This endpoint needs an API token: send 'Authorization: Bearer <token>'."
        )
    scheme, _, raw = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise InvalidToken("Send the API token as 'Authorization: Bearer <token>'.")
    return authenticate(raw)
