"""Writing deployment logs: rows first (the source of truth), dense seq from 1."""

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from pipelines.models import Deployment, LogLine

Line = tuple[str, str]  # (stream, text)

_COLUMNS = ("deployment_id", "seq", "time", "stream", "text")


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
        _insert(deployment.pk, first, now, lines)
    deployment.last_seq = last
    return [
        LogLine(deployment_id=deployment.pk, seq=first + i, time=now, stream=stream, text=text)
        for i, (stream, text) in enumerate(lines)
    ]


def _insert(deployment_id: int, first: int, now, lines: list[Line]) -> None:
    """One executemany: a busy deployment writes tens of thousands of lines a second, and
    bulk_create spends most of that time building and compiling model instances."""
    table = connection.ops.quote_name(LogLine._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    time = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
            [
                (deployment_id, first + i, time, stream, text)
                for i, (stream, text) in enumerate(lines)
            ],
        )
