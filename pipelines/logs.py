"""Writing deployment logs: rows first (the source of truth), dense seq from 1."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pipelines.models import Deployment, LogLine

Line = tuple[str, str]  # (stream, text)


def append_log(deployment: Deployment, lines: Iterable[Line]) -> list[LogLine]:
    """Store lines after the deployment's last seq and return them.

    The seq range is reserved with one UPDATE … SET last_seq = last_seq + n,
    so concurrent writers never hand out the same seq and seqs stay dense.
    """
    lines = list(lines)
    if not lines:
        return []
    now = timezone.now()
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).update(last_seq=F("last_seq") + len(lines))
        last = Deployment.objects.values_list("last_seq", flat=True).get(pk=deployment.pk)
        first = last - len(lines) + 1
        rows = LogLine.objects.bulk_create(
            LogLine(deployment_id=deployment.pk, seq=first + i, time=now, stream=stream, text=text)
            for i, (stream, text) in enumerate(lines)
        )
    deployment.last_seq = last
    return rows
