"""Writing deployment logs: rows first (the source of truth), dense seq from 1.

Each batch reserves its seq range, counts its error lines and notes the first one in one
UPDATE of the deployment, then stores the lines: with COPY on PostgreSQL (the fastest way
in, see docs/architecture.md), one executemany elsewhere. Text is made storable first:
PostgreSQL refuses NUL and text that is not UTF-8, and one such line must not lose a batch.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from pipelines.models import Deployment, LogLine

Line = tuple[str, str]  # (stream, text)


class StoredLine(NamedTuple):
    """A line as stored (what publishing needs; lighter than a LogLine instance)."""

    seq: int
    time: datetime
    stream: str
    text: str


_COLUMNS = ("deployment_id", "seq", "time", "stream", "text")
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FIRST_ERROR_CHARS = 500

ERROR_WORDS = ("error", "failed", "fatal", "traceback", "exception")
# Also exception names as Python, Java or JS print them: "KeyError: 'x'", "IOException";
# not a count of none ("0 failed", "no errors" read as good news).
_ERROR = re.compile(
    rf"(?<!\b0 )(?<!\bno )\b({'|'.join(ERROR_WORDS)})\b|(?-i:[A-Za-z0-9](Error|Exception)\b)",
    re.IGNORECASE,
)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")  # colours, OSC
# Slipway's own failure lines (the runner's "✖ switch failed: …").
FAILURE_MARK = "✖"


def is_error(stream: str, text: str) -> bool:
    """An error line: stdout or stderr naming an error, or Slipway's own failure line."""
    if stream == LogLine.Stream.SYSTEM:
        return text.startswith(FAILURE_MARK)
    if "\x1b" in text:  # "\x1b[31mERROR" is an error word in red
        text = _ESCAPES.sub("", text)
    return _ERROR.search(text) is not None


def storable(text: str) -> str:
    """`text` with NUL and what UTF-8 cannot encode (lone surrogates, such as undecodable
    bytes smuggled in by surrogateescape) replaced by U+FFFD, one for one."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _storable_lines(lines: list[Line]) -> list[Line]:
    """One search over the whole batch first: nearly every batch is clean."""
    if _UNSTORABLE.search("\n".join(text for _, text in lines)) is None:
        return lines
    return [(stream, storable(text)) for stream, text in lines]


def append_log(deployment: Deployment, lines: Iterable[Line]) -> list[StoredLine]:
    """Store lines after the deployment's last seq and return them.

    The seq range is reserved with one UPDATE … SET last_seq = last_seq + n RETURNING
    last_seq, so concurrent writers never hand out the same seq and seqs stay dense.
    """
    lines = _storable_lines(list(lines))
    if not lines:
        return []
    now = timezone.now()
    errors = [i for i, (stream, text) in enumerate(lines) if is_error(stream, text)]
    with transaction.atomic(savepoint=False):  # inside the writer's transaction: no SAVEPOINT
        last = _reserve(deployment.pk, len(lines), errors, lines)
        first = last - len(lines) + 1
        if connection.vendor == "postgresql":
            _copy(deployment.pk, first, now, lines)
        else:
            _insert(deployment.pk, first, now, lines)
    deployment.last_seq = last
    if errors and deployment.first_error_seq is None:
        deployment.first_error_seq = first + errors[0]
        deployment.first_error = lines[errors[0]][1][:FIRST_ERROR_CHARS]
    deployment.error_count += len(errors)
    return [StoredLine(first + i, now, stream, text) for i, (stream, text) in enumerate(lines)]


def _reserve(deployment_id: int, count: int, errors: list[int], lines: list[Line]) -> int:
    """Hand out `count` seqs and count the batch's errors; the new last seq. (In an UPDATE
    the right-hand side reads the row as it was: `last_seq + k` is this batch's k-th line.)"""
    table = connection.ops.quote_name(Deployment._meta.db_table)
    sql = f"UPDATE {table} SET last_seq = last_seq + %s"
    params: list = [count]
    if errors:
        first = errors[0]
        sql += (
            ", error_count = error_count + %s,"
            " first_error = CASE WHEN first_error_seq IS NULL THEN %s ELSE first_error END,"
            " first_error_seq = COALESCE(first_error_seq, last_seq + %s)"
        )
        params += [len(errors), lines[first][1][:FIRST_ERROR_CHARS], first + 1]
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} WHERE id = %s RETURNING last_seq", [*params, deployment_id])
        return cursor.fetchone()[0]


def _names() -> tuple[str, str]:
    table = connection.ops.quote_name(LogLine._meta.db_table)
    return table, ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)


def _copy(deployment_id: int, first: int, now, lines: list[Line]) -> None:
    """COPY … FROM STDIN through psycopg: several times faster than INSERTs."""
    table, columns = _names()
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for i, (stream, text) in enumerate(lines):
            copy.write_row((deployment_id, first + i, now, stream, text))


def _insert(deployment_id: int, first: int, now, lines: list[Line]) -> None:
    """One executemany: bulk_create spends most of its time building model instances."""
    table, columns = _names()
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
