"""Writing and reading deployment logs: rows first (the source of truth), dense seq from 1.

Each batch reserves its seq range, counts its error lines and notes the first one in one
UPDATE of the deployment, then stores the lines: with COPY on PostgreSQL (the fastest way
in, see docs/architecture.md "Live updates"), one executemany elsewhere.
Text is made storable first: PostgreSQL refuses NUL and text that is not UTF-8, and one
such line must not lose a batch.

Pages of a log are read as ranges of seqs (`lines_after`, `lines_before`): seqs are dense, so
"seq N+1 to N+k" are "the k lines after N", and no database has to plan the latter.
"""

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import accumulate, chain
from operator import itemgetter
from typing import NamedTuple, overload

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.utils import timezone

from pipelines.copy_batch import copy_batch
from pipelines.models import Deployment, LogLine

Line = tuple[str, str]  # (stream, text)
_stream, _text = itemgetter(0), itemgetter(1)


class StoredLine(NamedTuple):
    """A line as stored (what publishing needs; lighter than a LogLine instance)."""

    seq: int
    time: datetime
    stream: str
    text: str


class StoredLines(Sequence[StoredLine]):
    """A batch as stored: seqs `first`, first + 1, …, one `time` for all. Keeps the lines as
    they came, (stream, text) pairs: publishing sends them so, with no object per line."""

    __slots__ = ("first", "lines", "time")

    def __init__(self, first: int, time: datetime, lines: list[Line]) -> None:
        self.first, self.time, self.lines = first, time, lines

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, index: int) -> StoredLine: ...
    @overload
    def __getitem__(self, index: slice) -> list[StoredLine]: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.lines)))]
        stream, text = self.lines[index]
        return StoredLine(self.first + range(len(self.lines))[index], self.time, stream, text)


_COLUMNS = ("deployment_id", "seq", "time", "stream", "text")
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FIRST_ERROR_CHARS = 500
# COPY's text format: a backslash starts an escape (`\N` is NULL), tab and newline separate.
_COPY_SPECIAL = ("\\", "\t", "\n", "\r")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

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


def lines_after(deployment_id: int, after: int, count: int) -> QuerySet[LogLine]:
    """The lines after seq `after`, `count` at most, in order.

    Asked as a range of seqs, not as "the first `count` lines past `after`": PostgreSQL's
    statistics know nothing of a log still being written, and it planned the latter as a
    bitmap scan and a sort of every line past `after`, for each page (fifty viewers refilling
    a 100,000-line log kept it busy for half a minute, at 1,600 lines/s each)."""
    seqs = {"seq__gt": after, "seq__lte": after + count}
    return LogLine.objects.filter(deployment_id=deployment_id, **seqs).order_by("seq")


def lines_before(deployment_id: int, before: int, count: int) -> QuerySet[LogLine]:
    """The lines before seq `before`, `count` at most, in order (a range, as `lines_after`)."""
    seqs = {"seq__lt": before, "seq__gte": before - count}
    return LogLine.objects.filter(deployment_id=deployment_id, **seqs).order_by("seq")


def is_error(stream: str, text: str) -> bool:
    """An error line: stdout or stderr naming an error, or Slipway's own failure line."""
    if stream == LogLine.Stream.SYSTEM:
        return text.startswith(FAILURE_MARK)
    if "\x1b" in text:  # "\x1b[31mERROR" is an error word in red
        text = _ESCAPES.sub("", text)
    return _ERROR.search(text) is not None


def error_lines(lines: list[Line]) -> list[int]:
    """The indexes of the error lines of a batch: `is_error` of each line, the pattern tried
    only on the lines that may name an error (nearly every batch has none)."""
    streams = list(map(_stream, lines))
    if LogLine.Stream.SYSTEM not in streams:  # the usual batch: a command's output alone
        return _naming_an_error(_without_escapes(list(map(_text, lines))))
    outputs = [i for i, stream in enumerate(streams) if stream != LogLine.Stream.SYSTEM]
    found = {outputs[n] for n in _naming_an_error(_without_escapes([lines[i][1] for i in outputs]))}
    failures = {
        i
        for i, (stream, text) in enumerate(lines)
        if stream == LogLine.Stream.SYSTEM and text.startswith(FAILURE_MARK)
    }
    return sorted(found | failures)


def _without_escapes(texts: list[str]) -> list[str]:
    """`texts` with their colour and OSC sequences taken out (one look first: most have none)."""
    if "\x1b" not in "".join(texts):
        return texts
    return [_ESCAPES.sub("", text) if "\x1b" in text else text for text in texts]


def _naming_an_error(texts: list[str]) -> list[int]:
    """The indexes of the texts (without escapes) `_ERROR` finds something in.

    The pattern is only tried on the texts that hold an error word, found by substring
    searches over them all joined (many times faster than the pattern, whose look-behinds
    are tried at every position): every match holds one of the words. Lowered ASCII keeps
    its offsets; a text that is not ASCII is always tried (the pattern's case-insensitive
    match also takes letters such as "İ" for "i")."""
    output = "\n".join(texts)
    if output.isascii():
        lowered = output.lower()
        if not any(word in lowered for word in ERROR_WORDS):
            return []
        starts = list(accumulate((len(text) + 1 for text in texts), initial=0))
        candidates = set()
        for word in ERROR_WORDS:
            at = lowered.find(word)
            while at >= 0:
                candidates.add(bisect_right(starts, at) - 1)
                at = lowered.find(word, at + len(word))
    else:
        candidates = {
            n
            for n, text in enumerate(texts)
            if not text.isascii() or any(word in text.lower() for word in ERROR_WORDS)
        }
    return sorted(n for n in candidates if _ERROR.search(texts[n]))


def storable(text: str) -> str:
    """`text` with NUL and what UTF-8 cannot encode (lone surrogates, such as undecodable
    bytes smuggled in by surrogateescape) replaced by U+FFFD, one for one."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _storable_lines(lines: list[Line]) -> list[Line]:
    """One look at the whole batch first: nearly every batch is clean. (Substring searches
    are many times faster than the pattern's; only text that is not ASCII can hold a
    surrogate.)"""
    joined = "".join(map(_text, lines))
    if "\x00" not in joined and (joined.isascii() or _UNSTORABLE.search(joined) is None):
        return lines
    return [(stream, storable(text)) for stream, text in lines]


def append_log(deployment: Deployment, lines: Iterable[Line]) -> StoredLines:
    """Store lines after the deployment's last seq, inside the caller's transaction, and
    return them.

    The seq range is reserved with one UPDATE … SET last_seq = last_seq + n RETURNING
    last_seq, so concurrent writers never hand out the same seq and seqs stay dense.
    """
    lines = _storable_lines(list(lines))
    now = timezone.now()
    if not lines:
        return StoredLines(deployment.last_seq + 1, now, [])
    return _append(deployment, now, lines, error_lines(lines))


def _append(deployment: Deployment, now: datetime, lines: list[Line], errors: list[int]):
    """`append_log` of storable, non-empty lines whose error lines are known."""
    with transaction.atomic(savepoint=False):  # inside the writer's transaction: no SAVEPOINT
        if connection.vendor == "postgresql":
            last = _reserve_pipelined(deployment.pk, len(lines), errors, lines)
            _copy(deployment.pk, last - len(lines) + 1, now, lines)
        else:
            last = _reserve(deployment.pk, len(lines), errors, lines)
            _insert(deployment.pk, last - len(lines) + 1, now, lines)
    return _noted(deployment, last, now, lines, errors)


def commit_log(deployment: Deployment, lines: Iterable[Line]) -> StoredLines:
    """`append_log` in a transaction of its own, committed when this returns (inside an
    outer transaction: a savepoint of it).

    On PostgreSQL outside a transaction, the batch is one round trip
    (pipelines/copy_batch.py): its seqs are formatted before the server answers, so the
    range is reserved on the condition that the deployment's last seq is still the one this
    writer knows. When another writer came first, nothing is written and the batch is
    stored the usual way."""
    lines = _storable_lines(list(lines))
    now = timezone.now()
    if not lines:
        return StoredLines(deployment.last_seq + 1, now, [])
    errors = error_lines(lines)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql" and not db.in_atomic_block:
        last = _copy_in_one_trip(db, deployment, now, lines, errors)
        if last is not None:
            return _noted(deployment, last, now, lines, errors)
    with transaction.atomic():
        return _append(deployment, now, lines, errors)


def _noted(
    deployment: Deployment, last: int, now: datetime, lines: list[Line], errors: list[int]
) -> StoredLines:
    """The stored batch; `deployment` told what its row now says."""
    first = last - len(lines) + 1
    deployment.last_seq = last
    if errors and deployment.first_error_seq is None:
        deployment.first_error_seq = first + errors[0]
        deployment.first_error = lines[errors[0]][1][:FIRST_ERROR_CHARS]
    deployment.error_count += len(errors)
    return StoredLines(first, now, lines)


def _reservation(
    deployment_id: int,
    count: int,
    errors: list[int],
    lines: list[Line],
    *,
    expected: int | None = None,
) -> tuple[str, list]:
    """The UPDATE that hands out `count` seqs and counts the batch's errors, returning the
    new last seq; with `expected`, only while the last seq is that. (In an UPDATE the
    right-hand side reads the row as it was: `last_seq + k` is this batch's k-th line.)"""
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
    sql += " WHERE id = %s"
    params.append(deployment_id)
    if expected is not None:
        sql += " AND last_seq = %s"
        params.append(expected)
    return f"{sql} RETURNING last_seq", params


def _reserve(deployment_id: int, count: int, errors: list[int], lines: list[Line]) -> int:
    """Hand out `count` seqs and count the batch's errors; the new last seq."""
    with connection.cursor() as cursor:
        cursor.execute(*_reservation(deployment_id, count, errors, lines))
        row = cursor.fetchone()
    if row is None:  # the log table has no foreign key: this is what refuses the lines
        raise Deployment.DoesNotExist(
            f"Deployment #{deployment_id} does not exist (deleted?): its log lines are not stored."
        )
    return row[0]


def _reserve_pipelined(deployment_id: int, count: int, errors: list[int], lines: list[Line]):
    """`_reserve` in psycopg's pipeline mode: the transaction's BEGIN and the UPDATE go to
    the server together, one round trip instead of two (COPY cannot be pipelined)."""
    connection.ensure_connection()
    with connection.connection.pipeline():
        return _reserve(deployment_id, count, errors, lines)


def _copy_in_one_trip(
    db: BaseDatabaseWrapper, deployment: Deployment, now: datetime, lines: list[Line], errors
) -> int | None:
    """The batch reserved and copied in one round trip, committed; its last seq, or None
    when the deployment's last seq was no longer `deployment.last_seq` (nothing written)."""
    expected = deployment.last_seq
    reserve, params = _reservation(deployment.pk, len(lines), errors, lines, expected=expected)
    table, columns = _names()
    db.ensure_connection()
    with db.wrap_database_errors:
        conn = db.connection
        if all(type(value) is int for value in params):
            reserve = reserve % tuple(params)
        else:  # with the first error's text, quoted by psycopg
            reserve = psycopg.ClientCursor(conn).mogrify(reserve, params)
        row = copy_batch(
            conn,
            before=reserve,
            copy=f"COPY {table} ({columns}) FROM STDIN",
            data=lambda: copy_rows(deployment.pk, expected + 1, now, lines).encode(),
        )
    return None if row is None else int(row[0])


def _names() -> tuple[str, str]:
    table = connection.ops.quote_name(LogLine._meta.db_table)
    return table, ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)


def copy_rows(deployment_id: int, first: int, now: datetime, lines: list[Line]) -> str:
    """The batch as COPY's text format, formatted here in one go: psycopg's `write_row`
    adapts each value of each row, which costs more than the database's whole insert.
    Every column but the text is known to need no escaping."""
    if not lines:
        return ""
    streams, texts = zip(*lines, strict=True)
    together = "".join(texts)
    if any(special in together for special in _COPY_SPECIAL):  # rare: escape only then
        texts = [text.translate(_COPY_ESCAPES) for text in texts]
    # One %-format of the whole batch: a row's template repeated, its values interleaved.
    row = f"{deployment_id}\t%d\t{now.isoformat()}\t%s\t%s\n"
    seqs = range(first, first + len(texts))
    return (row * len(texts)) % tuple(chain.from_iterable(zip(seqs, streams, texts, strict=True)))


def _copy(deployment_id: int, first: int, now: datetime, lines: list[Line]) -> None:
    """COPY … FROM STDIN through psycopg: several times faster than INSERTs."""
    table, columns = _names()
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(copy_rows(deployment_id, first, now, lines))


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


def lock_before_deleting_lines(sender, instance: Deployment, using: str, **kwargs) -> None:
    """Deployment's pre_delete (pipelines/apps.py): its row is locked before Django deletes
    its lines, as each batch locks it before writing them, so no batch commits lines
    between the deletion of the lines and of the row (the log table has no foreign key to
    refuse them; docs/architecture.md, "Live updates"). SQLite writes one at a time."""
    Deployment.objects.using(using).select_for_update().filter(pk=instance.pk).exists()


# Lines read at once when a stored log is counted again: memory stays bounded however long.
RECOUNT_CHUNK = 5000


def recount_errors(deployment_id: int, *, chunk: int = RECOUNT_CHUNK) -> None:
    """Count the error lines of a stored log again and note its first (for deployments
    stored before they were counted as written), reading it `chunk` lines at a time by seq,
    and mark it counted. Idempotent; under the deployment's row lock, so that a writer still
    appending waits and then adds its own batch to a count that includes every line before."""
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        count, first_seq, first_text, after = 0, None, "", 0
        while True:
            rows = list(
                lines_after(deployment_id, after, chunk).values_list("seq", "stream", "text")
            )
            if not rows:
                break
            errors = error_lines([(stream, text) for _, stream, text in rows])
            if errors and first_seq is None:
                first_seq, _, first_text = rows[errors[0]]
            count += len(errors)
            after = rows[-1][0]
        deployment.error_count = count
        deployment.first_error_seq = first_seq
        deployment.first_error = first_text[:FIRST_ERROR_CHARS]
        deployment.log_errors_counted = True
        deployment.save(
            update_fields=["error_count", "first_error_seq", "first_error", "log_errors_counted"]
        )
