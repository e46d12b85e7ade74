"""Signed promotion receipts: who approved exactly these bytes, checkable outside Slipway.

When a promotion's deployment ends, its receipt is issued once and kept: the pipeline, the
source and target, the artifact, the build with its tests and coverage, each sign-off (who,
role, when, for which digest), who promoted and when, the deployment's result with the
sha-256 of its full log, and the hash of its last audit event (docs/audit.md). It is signed
with the server's Ed25519 key (pipelines/signing.py has the format).

The key: SLIPWAY_RECEIPT_KEY (a PEM private key) when set, else a key Slipway makes once and
keeps in SLIPWAY_RECEIPT_KEY_FILE (var/receipt-key.pem, mode 0600), like the secret key.
"""

import hashlib
import json
import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from pipelines import signing
from pipelines.errors import ReceiptNotReady
from pipelines.logs import lines_after
from pipelines.models import AuditEvent, Deployment, Promotion
from pipelines.statuses import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

LOG_CHUNK = 5000


@cache
def signing_key() -> Ed25519PrivateKey:
    pem = settings.SLIPWAY_RECEIPT_KEY
    if not pem:
        pem = _key_file(Path(settings.SLIPWAY_RECEIPT_KEY_FILE))
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("The receipt signing key must be an Ed25519 private key.")
    return key


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def _key_file(path: Path) -> str:
    """The key kept in `path`, made on first use. Two processes starting together agree: the
    file appears whole (written aside, then linked into place) and the first link wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".receipt-key-")  # mode 0600
        try:
            os.write(fd, pem)
            os.fsync(fd)
            os.close(fd)
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(aside)
    return path.read_text()


def receipt_path(promotion: Promotion) -> str:
    return f"/api/v1/promotions/{promotion.pk}/receipt"


def signed_receipt(promotion: Promotion) -> dict[str, Any]:
    """The promotion's signed receipt, issued now if its deployment has ended since."""
    if not promotion.receipt:
        issue(promotion)
    return json.loads(promotion.receipt)


def issue(promotion: Promotion) -> None:
    """Sign and keep the receipt once the deployment has ended (the first issue stays)."""
    deployment = promotion.deployment
    deployment.refresh_from_db()
    if deployment.status in ACTIVE_STATUSES:
        raise ReceiptNotReady(
            f"Deployment #{deployment.pk} of this promotion is still {deployment.status}: the "
            "receipt is issued when it ends.",
            deployment=deployment.pk,
            status=deployment.status,
        )
    text = json.dumps(signing.sign(build_receipt(promotion), signing_key()), ensure_ascii=False)
    Promotion.objects.filter(pk=promotion.pk, receipt="").update(receipt=text)
    promotion.receipt = Promotion.objects.values_list("receipt", flat=True).get(pk=promotion.pk)


def issue_when_ended(sender, deployment: Deployment, **kwargs) -> None:
    """Listens to `deployment_ended` (pipelines/apps.py): a promotion's receipt is issued as
    soon as its deployment has ended, whether anyone asks for it or not."""
    promotion = Promotion.objects.filter(deployment_id=deployment.pk, receipt="").first()
    if promotion is None:
        return
    try:
        issue(promotion)
    except Exception:  # then it is issued on its first request instead
        logger.exception("the receipt of promotion %s could not be issued", promotion.pk)


def build_receipt(promotion: Promotion) -> dict[str, Any]:
    promotion = Promotion.objects.select_related(
        "source__pipeline",
        "target",
        "artifact",
        "requested_by",
        "deployment__release__build",
    ).get(pk=promotion.pk)
    deployment = promotion.deployment
    build = deployment.release.build
    log_sha256, log_lines = log_digest(deployment.pk)
    last_event = (
        AuditEvent.objects.filter(
            pipeline=promotion.source.pipeline, data__deployment=deployment.pk
        )
        .order_by("-seq")
        .values("seq", "hash")
        .first()
    )
    return {
        "type": signing.RECEIPT_TYPE,
        "version": 1,
        "promotion": promotion.pk,
        "url": f"/promotions/{promotion.pk}/",
        "pipeline": promotion.source.pipeline.name,
        "source": promotion.source.name,
        "target": promotion.target.name,
        "artifact": {"digest": promotion.artifact.digest, "size": promotion.artifact.size},
        "build": {
            "sha": build.sha,
            "branch": build.branch,
            "tests": {
                "passed": build.tests_passed,
                "failed": build.tests_failed,
                "skipped": build.tests_skipped,
            },
            "coverage": str(build.coverage) if build.coverage is not None else None,
            "ci_url": build.url,
        },
        "signoffs": [_signoff(item) for item in promotion.checklist_snapshot],
        "promoted_by": promotion.requested_by.get_username(),
        "promoted_at": _time(promotion.created_at),
        "deployment": {
            "id": deployment.pk,
            "release": deployment.release.label,
            "status": deployment.status,
            "started_at": _time(deployment.started_at),
            "finished_at": _time(deployment.finished_at),
            "log_sha256": log_sha256,
            "log_lines": log_lines,
        },
        "audit": last_event,
        "issued_at": _time(timezone.now()),
    }


def _signoff(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "item": item.get("key"),
        "label": item.get("label"),
        "role": item.get("role"),
        "signed_by": item.get("signed_by"),
        "signed_at": item.get("signed_at"),
        "digest": item.get("digest"),
    }


def log_digest(deployment_id: int) -> tuple[str, int]:
    """The sha-256 of the whole log as /deployments/{id}/log.txt serves it, and its lines."""
    digest, count, after = hashlib.sha256(), 0, 0
    while True:
        lines = list(lines_after(deployment_id, after, LOG_CHUNK).values_list("seq", "text"))
        if not lines:
            return digest.hexdigest(), count
        for _, text in lines:
            digest.update(f"{text}\n".encode())
        count += len(lines)
        after = lines[-1][0]


def _time(value) -> str | None:
    return value.isoformat() if value else None
