"""Who reads a badge or the cctray feed: tools outside the dashboard (an <img> in a README,
CCMenu in the menu bar) cannot log in, so they bring an API token — in `?token=` (badges) or
as the password of HTTP Basic (cctray clients). One rule for both, here (docs/insight.md)."""

import base64
import binascii

from django.http import HttpRequest

from pipelines.errors import PermissionDenied
from pipelines.roles import User, can_view
from pipelines.tokens import InvalidToken, authenticate


def outside_reader(request: HttpRequest) -> User | None:
    """The viewer behind this request: signed in, or by the API token it carries.

    None when it carries nothing (anonymous). Raises InvalidToken (401) for a bad token or
    a Basic username that is not the token's user, PermissionDenied (403) for a user
    without a Slipway role.
    """
    user = request.user if request.user.is_authenticated else None
    raw_token = request.GET.get("token")
    basic = _basic_credentials(request.headers.get("Authorization", ""))
    if basic is not None:
        username, raw_token = basic
        token = authenticate(raw_token)
        if token.user.get_username() != username:
            raise InvalidToken("The username is not the owner of this API token.")
        user = token.user
    elif raw_token is not None:
        user = authenticate(raw_token).user
    if user is not None and not can_view(user):
        raise PermissionDenied(f"{user} holds no Slipway role yet: ask a team lead to add one.")
    return user


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidToken("The Basic credentials are not base64 of 'username:token'.") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidToken("The Basic credentials are not 'username:token'.")
    return username, password
