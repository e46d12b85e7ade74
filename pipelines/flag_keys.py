"""Environment keys for OFREP: an application reads one environment's flags with one.

Made like API tokens (pipelines/tokens.py): random, shown once, stored as a sha256,
revocable, every creation and revocation audited.
"""

import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from pipelines import audit
from pipelines.errors import NotFound
from pipelines.models import Environment, FlagKey
from pipelines.numbers import parse_whole_number
from pipelines.tokens import PREFIX_LENGTH, InvalidToken, hash_token

KEY_PREFIX = "slf_"
LAST_USED_PRECISION = timedelta(seconds=60)


def create_flag_key(
    env: Environment, *, name: str = "", by: AbstractBaseUser | None = None
) -> tuple[FlagKey, str]:
    """A new key for `env`'s flags. Returns (key, raw): `raw` is never stored, show it once."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = FlagKey.objects.create(
        environment=env, name=name[:100], prefix=raw[:PREFIX_LENGTH], key_hash=hash_token(raw)
    )
    audit.record(
        "flag_key_created",
        f"Flag key {key.prefix}… ({name or 'unnamed'}) created for {env.name}",
        pipeline=env.pipeline,
        environment=env,
        actor=by,
        flag_key=key.pk,
    )
    return key, raw


def revoke_flag_key(key: FlagKey, *, by: AbstractBaseUser | None = None) -> FlagKey:
    """Revoke for good; revoking twice keeps the first time."""
    with transaction.atomic():
        updated = FlagKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        key.refresh_from_db()
        if updated:
            env = key.environment
            audit.record(
                "flag_key_revoked",
                f"Flag key {key.prefix}… ({key.name or 'unnamed'}) of {env.name} revoked",
                pipeline=env.pipeline,
                environment=env,
                actor=by,
                flag_key=key.pk,
            )
    return key


def find_flag_key(prefix_or_id: str) -> FlagKey:
    value = prefix_or_id.strip().rstrip("…")
    query = FlagKey.objects.select_related("environment__pipeline")
    key_id = parse_whole_number(value)
    matches = list(query.filter(pk=key_id) if key_id is not None else query.filter(prefix=value))
    if len(matches) != 1:
        raise NotFound(f"There is no single flag key with id or prefix {value!r}.", key=value)
    return matches[0]


def environment_for(authorization: str | None) -> Environment:
    """The environment whose flags an `Authorization: Bearer <key>` header may read."""
    scheme, _, raw = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise InvalidToken(
            "Send the environment's flag key as 'Authorization: Bearer <key>' "
            "(python manage.py create_flag_key PIPELINE ENVIRONMENT makes one)."
        )
    key = (
        FlagKey.objects.select_related("environment__pipeline")
        .filter(key_hash=hash_token(raw.strip()))
        .first()
    )
    if key is None:
        raise InvalidToken("This flag key is not valid.")
    if key.revoked_at is not None:
        raise InvalidToken(f"This flag key was revoked on {key.revoked_at:%Y-%m-%d %H:%M}.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        FlagKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.environment
