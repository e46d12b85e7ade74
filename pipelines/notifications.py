"""Telling people about deploys and promotions: Slack, signed JSON webhooks, e-mail.

A pipeline's targets come from `[[pipeline.notifications]]` in its pipeline.toml. News leaves
after commit, in the background (pipelines/runner/dispatch.py: a Celery task on the default queue
when REDIS_URL is set, else in this process), is retried by Celery after each of
SLIPWAY_NOTIFICATION_RETRY_DELAYS and logged; a failed delivery never fails what it reports.

Events: deployment.started (requested), deployment.succeeded, deployment.failed (failed,
interrupted, or not started because a freeze window began), promotion.done (a promotion's
deployment succeeded; sent instead of deployment.succeeded), probe.changed (the drift probe:
ok, drift or unreachable) and checklist.bypassed (a lead's break-glass deploy or rollback to
an environment with a checklist, with its reason), freeze.bypassed (a lead's deploy,
rollback or promotion inside a scheduled freeze window, with its reason and the window),
signoff.requested (pipelines/signers.py: a new candidate asks the signers whose items do not
count for it yet), environment.created, environment.deleted and environment.refused (a
branch environment made, deleted, or not made for want of a port;
docs/branch-environments.md).
Payloads:
- slack: `{"text": …}`, as Slack's incoming webhooks take it;
- webhook: `{"event", "text", "pipeline", "environment", "deployment", …}` with
  `X-Slipway-Event: <event>` and `X-Slipway-Timestamp: <unix seconds>`; under the secret in
  the variable `secret_env` names, `X-Slipway-Signature: sha256=<hex>` is HMAC-SHA256 of
  "<timestamp>.<body>" (receivers refuse old timestamps: no replays);
- email: subject "[Slipway] <text>", the same facts as the body.
Each delivery, an SMTP session included, must end within SLIPWAY_NOTIFICATION_SECONDS
(pipelines/deadline.py); redirects are never followed.
"""

import hashlib
import hmac
import http.client
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from pipelines.deadline import Deadline, DeadlineExceeded, HTTPConnection, HTTPSConnection
from pipelines.models import AuditEvent, Deployment, Promotion
from pipelines.runner.dispatch import dispatch, run_here

logger = logging.getLogger(__name__)

KINDS = ("slack", "webhook", "email")
SIGNATURE_HEADER = "X-Slipway-Signature"
TIMESTAMP_HEADER = "X-Slipway-Timestamp"
READ_TIMEOUT = 10  # seconds, each connect or read; the whole exchange: SLIPWAY_NOTIFICATION_SECONDS
MAX_ANSWER_BYTES = 64 * 1024
# Seconds to wait before each retry (settings.SLIPWAY_NOTIFICATION_RETRY_DELAYS overrides).
RETRY_DELAYS = (5, 30, 120)

AUDIT_ACTIONS = {
    "deployment_requested": "deployment.started",
    "deployment_succeeded": "deployment.succeeded",
    "deployment_failed": "deployment.failed",
    "deployment_interrupted": "deployment.failed",
    # The runner did not start it: a freeze window began after it was queued (docs/freezes.md).
    "deployment_refused_frozen": "deployment.failed",
    "probe_changed": "probe.changed",
    "checklist_bypassed": "checklist.bypassed",
    "freeze_bypassed": "freeze.bypassed",
    "branch_environment_created": "environment.created",
    "branch_environment_deleted": "environment.deleted",
    "branch_environment_refused": "environment.refused",
}

Target = dict[str, str]
Payload = dict[str, Any]


class DeliveryFailed(Exception):
    pass


def audit_recorded(sender, instance: AuditEvent, created: bool, **kwargs) -> None:
    """Listens to every new audit event: the deploy ones become news for the pipeline's targets."""
    event = instance
    if not created:
        return
    name = AUDIT_ACTIONS.get(event.action)
    if name is None or event.pipeline is None:
        return
    pipeline = event.pipeline
    targets = news_targets(pipeline.notifications)
    if not targets:
        return
    if name == "probe.changed":
        send(targets, probe_payload(pipeline.name, event))
        return
    if name.startswith("environment."):
        send(pipeline.notifications, branch_environment_payload(name, pipeline.name, event))
        return
    deployment = (
        Deployment.objects.select_related(
            "release__build", "release__artifact", "environment", "requested_by"
        )
        .filter(pk=event.data.get("deployment"))
        .first()
    )
    if deployment is None:
        return
    promotion = Promotion.objects.select_related("source").filter(deployment=deployment).first()
    if promotion is not None and name == "deployment.succeeded":
        name = "promotion.done"
    payload = payload_for(
        name, pipeline.name, deployment, promotion, reason=event.data.get("reason", "")
    )
    if name == "freeze.bypassed":
        payload["window"] = event.data.get("window")
    send(targets, payload)


def news_targets(targets: Sequence[Target]) -> list[Target]:
    """The targets that get deploy news: all but the e-mails to signers (pipelines/signers.py)."""
    return [target for target in targets or () if not target.get("signers")]


def payload_for(
    name: str,
    pipeline: str,
    deployment: Deployment,
    promotion: Promotion | None = None,
    *,
    reason: str = "",
) -> Payload:
    release, env = deployment.release, deployment.environment
    build, artifact = release.build, release.artifact
    by = deployment.requested_by
    what = f"{release.label} of {build.short_sha}"
    texts = {
        "checklist.bypassed": f"{pipeline}: checklist of {env.name} bypassed by "
        f"{by.get_username() if by else '?'} because {reason}: deploying {what} "
        f"({release.description})",
        "freeze.bypassed": f"{pipeline}: freeze of {env.name} broken by "
        f"{by.get_username() if by else '?'} because {reason}: deploying {what} "
        f"({release.description})",
        "deployment.started": f"{pipeline}: deploying {what} to {env.name} ({release.description})",
        "deployment.succeeded": f"{pipeline}: {env.name} now runs {what}",
        "deployment.failed": f"{pipeline}: deployment of {what} to {env.name} "
        f"{deployment.status}: {env.name} keeps its previous release"
        + (f" ({deployment.error})" if deployment.error else ""),
        "promotion.done": f"{pipeline}: promoted {build.short_sha} "
        f"({artifact.digest if artifact else 'no artifact'}) from "
        f"{promotion.source.name if promotion else '?'} to {env.name} as {release.label}",
    }
    return {
        "event": name,
        "text": texts[name],
        "pipeline": pipeline,
        "environment": env.name,
        "deployment": deployment.pk,
        "status": deployment.status,
        "version": release.label,
        "sha": build.sha,
        "digest": artifact.digest if artifact else None,
        "by": by.get_username() if by else None,
        "promoted_from": promotion.source.name if promotion else None,
        "reason": reason or None,
        "path": deployment.get_absolute_url(),
        "time": timezone.now().isoformat(),
    }


def probe_payload(pipeline: str, event: AuditEvent) -> Payload:
    """The drift probe's news: an environment now serves as deployed, drifts, or is down."""
    environment = event.environment.name if event.environment else None
    return {
        "event": "probe.changed",
        "text": f"{pipeline}: {event.message}",
        "pipeline": pipeline,
        "environment": environment,
        "status": event.data.get("status"),
        "serving_sha": event.data.get("serving_sha") or None,
        "sha": event.data.get("deployed_sha") or None,
        "detail": event.data.get("detail") or None,
        "path": f"/pipelines/{pipeline}/environments/{environment}/",
        "time": timezone.now().isoformat(),
    }


def branch_environment_payload(name: str, pipeline: str, event: AuditEvent) -> Payload:
    """A branch environment made, deleted, or refused (no free port): its branch and port."""
    return {
        "event": name,
        "text": f"{pipeline}: {event.message}",
        "pipeline": pipeline,
        "environment": event.environment.name if event.environment else None,
        "branch": event.data.get("branch"),
        "port": event.data.get("port"),
        "time": timezone.now().isoformat(),
    }


def send(targets: Sequence[Target], payload: Payload) -> None:
    """Deliver `payload` to every target once the current transaction commits."""
    targets = list(targets)
    delays = tuple(getattr(settings, "SLIPWAY_NOTIFICATION_RETRY_DELAYS", RETRY_DELAYS))
    transaction.on_commit(lambda: _dispatch(targets, payload, delays), robust=True)


def _dispatch(targets: list[Target], payload: Payload, delays: tuple[float, ...]) -> None:
    for target in targets:
        args = (target, payload, list(delays))
        try:
            dispatch(deliver_task, *args, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:  # the broker is down: this process still gets the news out
            logger.exception("could not queue a %s notification; sending it here", target["kind"])
            run_here(deliver_task, *args)


@shared_task(name="pipelines.deliver_notification", bind=True, max_retries=None)
def deliver_task(self, target: Target, payload: Payload, delays: list[float]) -> bool:
    """Try once, then once after each delay (Celery's retry); log every failure.
    True if it got through."""
    attempt, attempts = self.request.retries + 1, len(delays) + 1
    try:
        deliver(target, payload)
    except Exception as exc:
        logger.warning(
            "%s notification %s failed (attempt %d of %d): %s",
            *(target["kind"], payload["event"], attempt, attempts, exc),
        )
        if attempt >= attempts:
            logger.error("gave up on the %s notification %s", target["kind"], payload["event"])
            return False
        delay = delays[attempt - 1]
        if self.request.is_eager:  # in-process, Celery retries at once: wait as a worker would
            time.sleep(delay)
        raise self.retry(countdown=delay) from exc
    logger.info("sent %s notification %s", target["kind"], payload["event"])
    return True


def deliver(target: Target, payload: Payload) -> None:
    """One attempt; raises on any failure."""
    kind = target["kind"]
    if kind == "slack":
        _post(target["url"], json.dumps({"text": payload["text"]}).encode(), {})
    elif kind == "webhook":
        body = json.dumps(payload, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {"X-Slipway-Event": payload["event"], TIMESTAMP_HEADER: timestamp}
        if target.get("secret_env"):
            secret = os.environ.get(target["secret_env"])
            if not secret:
                raise DeliveryFailed(f"${target['secret_env']} is not set: not sending unsigned")
            headers[SIGNATURE_HEADER] = "sha256=" + signature(secret, timestamp, body)
        _post(target["url"], body, headers)
    elif kind == "email":
        message = EmailMultiAlternatives(
            subject=" ".join(f"[Slipway] {payload['text']}".split())[:200],
            body=payload.get("body") or _email_body(payload),
            to=[target["to"]],
        )
        if payload.get("html"):  # rendered with Django's autoescaping (pipelines/signers.py)
            message.attach_alternative(payload["html"], "text/html")
        try:
            with Deadline(settings.SLIPWAY_NOTIFICATION_SECONDS):  # the whole SMTP session
                message.send()
        except DeadlineExceeded as exc:
            raise DeliveryFailed(f"sending e-mail {exc}") from None
    else:
        raise DeliveryFailed(f"unknown notification kind {kind!r}")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What receivers compare (in constant time) with the header's hex: HMAC-SHA256 of
    "<timestamp>.<body>", so that a captured delivery cannot be replayed later."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST `body`, the whole exchange within EXCHANGE_SECONDS; redirects are not followed
    (they would carry the signature elsewhere)."""
    parts = urlsplit(url)
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=READ_TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": "slipway", **headers}
    try:
        with Deadline(settings.SLIPWAY_NOTIFICATION_SECONDS):
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)
    except DeadlineExceeded as exc:
        raise DeliveryFailed(f"{url} {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{url}: {exc or type(exc).__name__}") from None
    finally:
        connection.close()
    if 300 <= response.status < 400:
        raise DeliveryFailed(
            f"{url} answered {response.status} (a redirect, not followed: give the final URL)"
        )
    if response.status >= 300:
        raise DeliveryFailed(f"{url} answered {response.status}")


def _email_body(payload: Payload) -> str:
    facts = ["pipeline", "environment", "version", "sha", "digest", "status", "by", "path"]
    lines = [payload["text"], ""]
    lines += [f"{key}: {payload[key]}" for key in facts if payload.get(key) is not None]
    return "\n".join(lines) + "\n"
