"""The database side of the WebSocket consumers (plain sync functions; the consumers call
them through `database_sync_to_async`)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from itertools import chain

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from dashboard.deployment_status import status_html
from dashboard.partials import BRANCH_GROUP, CARD, FREEZE_BANNER, HOP, PANEL
from pipelines.board import read_board
from pipelines.logs import lines_after
from pipelines.models import Deployment, Pipeline
from pipelines.roles import User, can_view, read_roles, roles_of
from pipelines.statuses import FINAL_STATUSES

# Lines per frame when replaying or refilling from the database.
REPLAY_CHUNK = 1000
LINE_FIELDS = ("seq", "stream", "text")


@dataclass
class Access:
    close_code: int | None = None  # None: allowed
    roles: set[str] = field(default_factory=set)
    pipeline: Pipeline | None = None


@dataclass
class DeploymentState:
    status: str
    last_seq: int

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


def _viewer_roles(user: User | None) -> set[str] | None:
    user = user or AnonymousUser()
    return roles_of(user) if can_view(user) else None


def deployment_access(user: User | None, deployment_id: int) -> Access:
    roles = _viewer_roles(user)
    if roles is None:
        return Access(close_code=4403)
    if not Deployment.objects.filter(pk=deployment_id).exists():
        return Access(close_code=4404)
    return Access(roles=roles)


def pipeline_access(user: User | None, name: str) -> Access:
    roles = _viewer_roles(user)
    if roles is None:
        return Access(close_code=4403)
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        return Access(close_code=4404)
    return Access(roles=roles, pipeline=pipeline)


def still_allowed(user: User | None, session_key: str | None) -> bool:
    """Whether a socket opened by `user` may go on (`sockets_still_allowed` of one)."""
    return sockets_still_allowed([(user, session_key)])[0]


def sockets_still_allowed(sockets: Sequence[tuple[User | None, str | None]]) -> list[bool]:
    """For each socket (the user who opened it, its session key): whether it may go on.
    Its session must still sign that user in (a logout deletes it, a password change
    invalidates it; `auth.get_user`'s rules) and they must still hold a role. Read afresh
    from the database, never from what the socket remembers, in three queries however many
    sockets (sessions, users, roles): a web process checks all its sockets at once
    (dashboard/access_watch.py). Read only: unlike `auth.get_user`, a session that only a
    fallback secret verifies is not rotated here (the page's next request does that)."""
    sessions = _session_data({key for user, key in sockets if _signed_in(user) and key})
    claims = {key: _claim(data) for key, data in sessions.items()}
    users = _users({claim for claim in claims.values() if claim is not None})
    read_roles(users.values())
    allowed = []
    for user, key in sockets:
        claim = claims.get(key) if _signed_in(user) and key else None
        current = users.get(claim) if claim is not None else None
        allowed.append(
            current is not None
            and current.pk == user.pk
            and _session_verified(current, sessions[key])
            and can_view(current)
        )
    return allowed


def _signed_in(user: User | None) -> bool:
    return user is not None and user.is_authenticated


def _session_data(keys: set[str]) -> dict[str, dict]:
    """The data of the sessions that still exist and have not expired, by key."""
    if not keys:
        return {}
    engine = import_module(settings.SESSION_ENGINE)
    if not issubclass(engine.SessionStore, DatabaseSessionStore):  # one by one, then
        stores = {key: engine.SessionStore(session_key=key) for key in keys}
        return {key: data for key, store in stores.items() if (data := store.load())}
    rows = engine.SessionStore.get_model_class().objects.filter(
        session_key__in=keys, expire_date__gt=timezone.now()
    )
    decode = engine.SessionStore().decode
    return {key: decode(data) for key, data in rows.values_list("session_key", "session_data")}


def _claim(data: dict) -> tuple[str, object] | None:
    """(backend path, user id) a session signs in, if its backend is still configured."""
    try:
        backend, user_id = data[auth.BACKEND_SESSION_KEY], data[auth.SESSION_KEY]
        user_id = auth.get_user_model()._meta.pk.to_python(user_id)
    except (KeyError, ValidationError):
        return None
    return (backend, user_id) if backend in settings.AUTHENTICATION_BACKENDS else None


def _users(claims: set[tuple[str, object]]) -> dict[tuple[str, object], AbstractBaseUser]:
    """The users the sessions sign in, as each session's backend would give them: those of
    ModelBackend (and subclasses that keep its `get_user`) in one query."""
    found: dict[tuple[str, object], AbstractBaseUser] = {}
    batched: dict[object, list[tuple[str, ModelBackend]]] = defaultdict(list)
    for path, user_id in claims:
        backend = auth.load_backend(path)
        if type(backend).get_user is ModelBackend.get_user:
            batched[user_id].append((path, backend))
        elif (user := backend.get_user(user_id)) is not None:
            found[(path, user_id)] = user
    for user in auth.get_user_model()._default_manager.filter(pk__in=batched):
        for path, backend in batched[user.pk]:
            if backend.user_can_authenticate(user):
                found[(path, user.pk)] = user
    return found


def _session_verified(user: AbstractBaseUser, data: dict) -> bool:
    """The session's hash matches the user's password (current or a fallback secret)."""
    if not hasattr(user, "get_session_auth_hash"):
        return True
    session_hash = data.get(auth.HASH_SESSION_KEY)
    known = chain([user.get_session_auth_hash()], user.get_session_auth_fallback_hash())
    return bool(session_hash) and any(constant_time_compare(session_hash, h) for h in known)


def deployment_state(deployment_id: int) -> DeploymentState:
    status, last_seq = Deployment.objects.values_list("status", "last_seq").get(pk=deployment_id)
    return DeploymentState(status, last_seq)


def stored_lines(deployment_id: int, *, after: int, upto: int | None = None) -> list[dict]:
    """Up to REPLAY_CHUNK lines with after < seq <= upto, in order, with what the page shows
    of them (the time is left out: converting it is most of the cost of a big replay)."""
    count = REPLAY_CHUNK if upto is None else min(REPLAY_CHUNK, upto - after)
    return list(lines_after(deployment_id, after, count).values(*LINE_FIELDS))


def status_frame(deployment_id: int, roles: set[str]) -> str:
    deployment = Deployment.objects.get(pk=deployment_id)
    return status_html(deployment, roles, oob=True)


def board_frame(pipeline: Pipeline, user: User) -> str:
    """Every live part of the board (the freeze banner, each card, each promotion between
    two environments and its panel), for this user, as out-of-band swaps."""
    context = {"pipeline": pipeline, "user": user, "roles": roles_of(user), "oob": True}
    board = read_board(pipeline)
    banner = {**context, "freeze": board.freeze, "scheduled": board.scheduled}
    parts = [render_to_string(FREEZE_BANNER, banner)]
    for card in board.cards:
        if card.environment.template_id:
            continue  # a row of its template's group
        partial = BRANCH_GROUP if card.environment.per_branch else CARD
        parts.append(render_to_string(partial, {**context, "card": card}))
        if card.environment.promote_from_id:
            parts.append(render_to_string(HOP, {**context, "card": card}))
            parts.append(render_to_string(PANEL, {**context, "card": card}))
    return "".join(parts)
