"""Asking the signers: when a candidate reaches the environment a checklist is signed on (a
deployment to uat succeeds, and live, promoted from uat, has a checklist), the roles whose
items do not count for it yet are asked, once (docs/signers.md).

- Slack targets get one message: a line per role, with the role's mention of that target's
  `mentions`, and a link to each item;
- webhook targets get the `signoff.requested` event (JSON, signed like every other);
- e-mail targets with `signers = true` send each asked role's users who have an address an
  e-mail (text and HTML) with the links; e-mail targets with `to` do not get asks.

Each (item, candidate) is claimed in the database before anything is sent (`SignoffRequest`,
unique), so retries, redelivered tasks and deployments racing ask once; the news leaves after
commit through pipelines/notifications.py (Celery, retried). Text that came from outside —
the branch, the commit message, the labels — is escaped for Slack (& < >) and for HTML.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from pipelines import notifications
from pipelines.checklist import ChecklistState, checklist_state
from pipelines.models import (
    ChecklistItem,
    Deployment,
    DeploymentStatus,
    Environment,
    Release,
    SignoffRequest,
)
from pipelines.notifications import Payload, Target
from pipelines.roles import Role

logger = logging.getLogger(__name__)

EVENT = "signoff.requested"
# The most users of one role e-mailed about one candidate (the rest are logged as skipped).
MAX_RECIPIENTS = 200
SUBJECT_CHARS = 72  # of a commit's subject, quoted in a message


@dataclass(frozen=True)
class Ask:
    """One checklist item whose signers are asked, and where they sign it."""

    item: ChecklistItem
    url: str

    @property
    def role(self) -> str:
        return self.item.role


def ask_signers_after(sender, deployment: Deployment, **kwargs) -> None:
    """Listens to `deployment_ended` (pipelines/apps.py): a deployment that succeeded brought
    a new candidate to every environment promoted from there."""
    if deployment.status != DeploymentStatus.SUCCEEDED:
        return
    try:
        ask_signers(deployment.environment)
    except Exception:  # asking is news: it never fails what it reports
        logger.exception("could not ask the signers after deployment %s", deployment.pk)


def ask_signers(source: Environment) -> list[Ask]:
    """Ask the signers of every checklist that `source`'s current release is a candidate of,
    for the items not counting yet that nobody asked about for this candidate. Returns what
    it asked (empty when there was nothing new to ask)."""
    pipeline = source.pipeline
    targets = [t for t in pipeline.notifications or [] if asks(t)]
    if not targets:
        return []
    asked: list[Ask] = []
    for target in Environment.objects.filter(promote_from=source).order_by("position"):
        with transaction.atomic():
            state = checklist_state(target)
            claimed = _claim(target, state)
            if claimed:
                _send(targets, target, state.candidate, claimed)
                asked += claimed
    return asked


def asks(target: Target) -> bool:
    """Whether a notification target takes `signoff.requested`."""
    return target["kind"] in ("slack", "webhook") or bool(target.get("signers"))


def candidate_key(target: Environment, candidate: Release) -> str:
    """What a sign-off vouches for (pipelines/checklist.py): the artifact, and the target's
    release at the time."""
    return f"{candidate.artifact.digest}@{target.current_release_id or 0}"


def item_url(item: ChecklistItem) -> str:
    """Straight to the item on the board's promotion panel (its `id`), as an absolute URL."""
    board = reverse("board", args=[item.environment.pipeline.name])
    return f"{settings.SLIPWAY_BASE_URL}{board}#{item_anchor(item)}"


def item_anchor(item: ChecklistItem) -> str:
    return f"checklist-{item.environment.name}-{item.key}"


def _claim(target: Environment, state: ChecklistState) -> list[Ask]:
    """The items to ask about, each claimed for this candidate; those claimed already
    (another deployment, a retry, a racing worker) are left out."""
    candidate = state.candidate
    if candidate is None or candidate.artifact_id is None:
        return []
    current = target.current_release
    if current is not None and current.artifact_id == candidate.artifact_id:
        return []  # up to date: nothing to sign
    key = candidate_key(target, candidate)
    claimed = []
    for missing in state.missing:
        try:
            with transaction.atomic():  # a racing claim waits for ours, then fails here
                SignoffRequest.objects.create(item=missing.item, candidate=key)
        except IntegrityError:
            continue
        claimed.append(Ask(item=missing.item, url=item_url(missing.item)))
    return claimed


def _send(targets: list[Target], target: Environment, candidate: Release, asks_: list[Ask]):
    facts = _facts(target, candidate, asks_)
    for destination in targets:
        if destination.get("signers"):
            _send_emails(destination, target, candidate, asks_, facts)
        elif destination["kind"] == "slack":
            text = slack_text(target, candidate, asks_, destination.get("mentions", {}))
            notifications.send([destination], facts | {"text": text})
        else:
            notifications.send([destination], facts)


def _facts(target: Environment, candidate: Release, asks_: list[Ask]) -> Payload:
    """The webhook's body (and the base of the others)."""
    build, source = candidate.build, target.promote_from
    pipeline = target.pipeline.name
    roles = ", ".join(_role_name(role) for role, _ in _by_role(asks_))
    return {
        "event": EVENT,
        "text": f"{pipeline}: {source.name} runs {candidate.label} of {build.short_sha}: "
        f"sign-off wanted before it goes to {target.name} ({roles})",
        "pipeline": pipeline,
        "environment": target.name,
        "source": source.name,
        "version": candidate.label,
        "sha": build.sha,
        "branch": build.branch,
        "digest": candidate.artifact.digest,
        "items": [
            {"key": a.item.key, "label": a.item.label, "role": a.role, "url": a.url} for a in asks_
        ],
        "path": reverse("board", args=[pipeline]),
        "time": timezone.now().isoformat(),
    }


def slack_text(
    target: Environment, candidate: Release, asks_: list[Ask], mentions: dict[str, str]
) -> str:
    """The Slack message: a line per role, its mention (configured, so trusted) first; all
    else escaped, so a commit message cannot mention anyone or make a link."""
    build, source = candidate.build, target.promote_from
    subject = _shortened(build.subject)
    head = (
        f"{escape_slack(target.pipeline.name)}: {escape_slack(source.name)} runs "
        f"{escape_slack(candidate.label)} of `{build.short_sha}`"
        + (f" “{escape_slack(subject)}”" if subject else "")
        + (f" ({escape_slack(build.branch)})" if build.branch else "")
        + f". Before it goes to {escape_slack(target.name)}, please sign:"
    )
    lines = [head]
    for role, role_asks in _by_role(asks_):
        who = mentions.get(role) or escape_slack(_role_name(role))
        links = "; ".join(f"<{a.url}|{escape_slack(a.item.label)}>" for a in role_asks)
        lines.append(f"• {who}: {links}")
    return "\n".join(lines)


def escape_slack(text: str) -> str:
    """Slack's escaping of its control characters (only these three: docs/signers.md)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _send_emails(
    destination: Target,
    target: Environment,
    candidate: Release,
    asks_: list[Ask],
    facts: Payload,
) -> None:
    """An e-mail per role, to each of its users who has an address (one delivery each, so
    one bad address is retried alone)."""
    for role, role_asks in _by_role(asks_):
        users = list(
            get_user_model()
            .objects.filter(groups__name=role, is_active=True)
            .exclude(email="")
            .order_by("pk")
            .values_list("email", flat=True)[: MAX_RECIPIENTS + 1]
        )
        if len(users) > MAX_RECIPIENTS:
            logger.warning("role %s has more than %d users with e-mail", role, MAX_RECIPIENTS)
            users = users[:MAX_RECIPIENTS]
        if not users:
            logger.info("nobody of role %s has an e-mail address to ask", role)
            continue
        context = {
            "pipeline": target.pipeline.name,
            "target": target.name,
            "source": target.promote_from.name,
            "candidate": candidate,
            "subject": _shortened(candidate.build.subject),
            "role": _role_name(role),
            "asks": role_asks,
        }
        labels = "; ".join(a.item.label for a in role_asks)
        payload = facts | {
            "text": f"{target.pipeline.name}: your sign-off for {target.name}: {labels}",
            "body": render_to_string("email/signoff_requested.txt", context),
            "html": render_to_string("email/signoff_requested.html", context),
        }
        for address in dict.fromkeys(users):
            notifications.send([{"kind": "email", "to": address}], payload)


def _by_role(asks_: Iterable[Ask]) -> list[tuple[str, list[Ask]]]:
    ordered = sorted(asks_, key=lambda a: (a.role, a.item.position, a.item.key))
    return [(role, list(group)) for role, group in groupby(ordered, key=lambda a: a.role)]


def _role_name(role: str) -> str:
    try:
        return Role(role).label
    except ValueError:
        return role


def _shortened(text: str) -> str:
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 1] + "…"
