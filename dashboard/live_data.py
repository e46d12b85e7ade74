"""The database side of the WebSocket consumers (plain sync functions; the consumers call
them through `database_sync_to_async`)."""

from dataclasses import dataclass, field
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from dashboard.deployment_status import status_html
from dashboard.partials import BRANCH_GROUP, CARD, FREEZE_BANNER, HOP, PANEL
from pipelines.board import read_board
from pipelines.models import Deployment, LogLine, Pipeline
from pipelines.roles import User, can_view, roles_of
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
    """Whether a socket opened by `user` may go on: its session still signs them in (a logout
    deletes it, a password change invalidates it) and they still hold a role. Read afresh
    from the database, never from what the socket remembers."""
    if user is None or not user.is_authenticated or not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    current = auth.get_user(SimpleNamespace(session=session))
    return current.is_authenticated and current.pk == user.pk and can_view(current)


def deployment_state(deployment_id: int) -> DeploymentState:
    status, last_seq = Deployment.objects.values_list("status", "last_seq").get(pk=deployment_id)
    return DeploymentState(status, last_seq)


def stored_lines(deployment_id: int, *, after: int, upto: int | None = None) -> list[dict]:
    """Up to REPLAY_CHUNK lines with after < seq <= upto, in order, with what the page shows
    of them (the time is left out: converting it is most of the cost of a big replay)."""
    lines = LogLine.objects.filter(deployment_id=deployment_id, seq__gt=after)
    if upto is not None:
        lines = lines.filter(seq__lte=upto)
    return list(lines.order_by("seq").values(*LINE_FIELDS)[:REPLAY_CHUNK])


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
