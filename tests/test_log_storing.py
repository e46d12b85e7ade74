"""Storing log lines (COPY on PostgreSQL, executemany on SQLite; run both): dense seqs
whoever writes, any text stored, the million-line cap, error lines found as they come.
Both ways in: `append_log` inside the writer's transaction, and `commit_log` (the runner's:
on PostgreSQL one round trip per batch, its seqs formatted before the server answers)."""

import random
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from pipelines.logs import append_log, commit_log, error_lines, is_error
from pipelines.models import Deployment, LogLine
from pipelines.runner.log_writer import LogWriter
from tests.watching import running_deployment

pytestmark = pytest.mark.django_db(transaction=True)

CUT_NOTE = "further output of this deployment is not stored."
WRITERS = 6
BATCHES = 20


def stored(deployment) -> list[tuple[int, str, str]]:
    return list(deployment.log_lines.order_by("seq").values_list("seq", "stream", "text"))


def appended_in_a_transaction(deployment, lines) -> None:
    with transaction.atomic():
        append_log(deployment, lines)


# The two ways a batch goes in; tests of what every batch guarantees run with both.
WAYS = pytest.mark.parametrize("write", [appended_in_a_transaction, commit_log])


def writing_together(deployment, batches, write) -> list[Exception]:
    """WRITERS threads, each with its own connection and its own copy of the deployment,
    `write` `batches(writer)` (lists of lines) at the same moment; what they raised."""
    start = threading.Barrier(WRITERS)
    failures = []

    def run(writer: int) -> None:
        try:
            mine = Deployment.objects.get(pk=deployment.pk)
            start.wait()
            for lines in batches(writer):
                write(mine, lines)
        except Exception as exc:  # noqa: BLE001 — reported by the caller's assertion
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


@WAYS
def test_concurrent_writers_get_dense_seqs_and_keep_their_own_order(pipeline, write):
    deployment = running_deployment(pipeline)
    failures = writing_together(
        deployment,
        lambda w: [[("stdout", f"w{w} b{b} l{n}") for n in range(7)] for b in range(BATCHES)],
        write,
    )

    assert failures == []
    rows = stored(deployment)
    total = WRITERS * BATCHES * 7
    assert [seq for seq, _, _ in rows] == list(range(1, total + 1))
    for writer in range(WRITERS):
        texts = [text for _, _, text in rows if text.startswith(f"w{writer} ")]
        assert texts == [f"w{writer} b{b} l{n}" for b in range(BATCHES) for n in range(7)]
    deployment.refresh_from_db()
    assert deployment.last_seq == total


@WAYS
def test_nul_bytes_and_text_that_is_not_utf8_are_stored_replaced_and_lose_no_line(pipeline, write):
    deployment = running_deployment(pipeline)
    undecodable = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # lone surrogates
    write(
        deployment,
        [
            ("stdout", "before"),
            ("stdout", "a\x00b"),
            ("stderr", undecodable),
            ("stdout", "\ud800 half a pair"),
            ("stdout", "tab\tback\\slash\r\nnewline"),  # COPY's own escapes
            ("stdout", "after ✓ 🚀"),
            ("stdout", "\\N"),  # COPY's NULL, were it not escaped
            ("stderr", "\\."),  # COPY's end of data, likewise
        ],
    )
    assert stored(deployment) == [
        (1, "stdout", "before"),
        (2, "stdout", "a\ufffdb"),
        (3, "stderr", "caf\ufffd \ufffd"),
        (4, "stdout", "\ufffd half a pair"),
        (5, "stdout", "tab\tback\\slash\r\nnewline"),
        (6, "stdout", "after ✓ 🚀"),
        (7, "stdout", "\\N"),
        (8, "stderr", "\\."),
    ]


def test_a_writer_overtaken_by_another_stores_after_the_others_lines(pipeline):
    """The runner's batch carries the seqs it expects; another writer (a cancel note from
    the web) came first: the batch goes after that writer's lines, none lost or repeated."""
    deployment = running_deployment(pipeline)
    runner = Deployment.objects.get(pk=deployment.pk)
    commit_log(runner, [("stdout", "one"), ("stdout", "two")])
    appended_in_a_transaction(Deployment.objects.get(pk=deployment.pk), [("system", "note")])

    stored_batch = commit_log(runner, [("stdout", "three"), ("stderr", "error: four")])

    assert (stored_batch.first, runner.last_seq) == (4, 5)
    assert stored(deployment) == [
        (1, "stdout", "one"),
        (2, "stdout", "two"),
        (3, "system", "note"),
        (4, "stdout", "three"),
        (5, "stderr", "error: four"),
    ]
    deployment.refresh_from_db()
    assert (deployment.last_seq, deployment.error_count, deployment.first_error_seq) == (5, 1, 5)


def test_a_batch_the_database_refuses_stores_nothing_and_the_writer_goes_on(pipeline):
    """A batch is all or nothing, its seq range too; the writer's connection is left
    outside the failed transaction, ready for the next batch."""
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", "one")])
    LogLine.objects.create(deployment=deployment, seq=3, time=timezone.now(), text="in the way")

    with pytest.raises(IntegrityError):
        commit_log(deployment, [("stdout", "two"), ("stderr", "error: three")])

    deployment.refresh_from_db()
    assert (deployment.last_seq, deployment.error_count) == (1, 0)
    assert stored(deployment) == [(1, "stdout", "one"), (3, "stdout", "in the way")]
    LogLine.objects.filter(seq=3).delete()
    commit_log(deployment, [("stdout", "two")])
    assert stored(deployment) == [(1, "stdout", "one"), (2, "stdout", "two")]


def test_rows_that_fail_while_being_formatted_store_nothing_and_reserve_no_seqs(pipeline):
    """The one-trip batch formats its rows while the server runs the statement before the
    COPY: if that fails, the statement is undone too and the connection is ready again."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-trip batch is PostgreSQL's")
    from pipelines.copy_batch import copy_batch

    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", "one")])

    def unformattable() -> bytes:
        raise ValueError("not rows")

    connection.ensure_connection()
    with pytest.raises(ValueError, match="not rows"):
        copy_batch(
            connection.connection,
            before=f"UPDATE pipelines_deployment SET last_seq = last_seq + 5"
            f" WHERE id = {deployment.pk} RETURNING last_seq",
            copy="COPY pipelines_logline (deployment_id, seq, time, stream, text) FROM STDIN",
            data=unformattable,
        )

    deployment.refresh_from_db()
    assert deployment.last_seq == 1
    commit_log(deployment, [("stdout", "two")])
    assert stored(deployment) == [(1, "stdout", "one"), (2, "stdout", "two")]


def test_the_log_is_cut_at_a_million_lines_with_one_marker(pipeline, settings):
    """The default cap, reached for real: a million rows made by the database itself, then
    the runner's writer goes past it."""
    assert settings.SLIPWAY_LOG_MAX_LINES == 1_000_000
    deployment = running_deployment(pipeline)
    already = settings.SLIPWAY_LOG_MAX_LINES - 5
    _fill(deployment, already)
    deployment.refresh_from_db()
    writer = LogWriter(deployment, max_lines=settings.SLIPWAY_LOG_MAX_LINES, flush_seconds=60)
    for n in range(20):
        writer.write(f"more {n}")
    writer.system("Step release ended.")
    writer.flush()

    tail = list(
        deployment.log_lines.filter(seq__gt=already).order_by("seq").values_list("seq", "text")
    )
    assert tail == [
        *((already + 1 + n, f"more {n}") for n in range(5)),
        (1_000_001, f"✂ Log cut at 1,000,000 lines: {CUT_NOTE}"),
        (1_000_002, "Step release ended."),
    ]
    assert writer.dropped == 15
    assert LogLine.objects.filter(deployment=deployment).count() == 1_000_002


def _fill(deployment, count: int) -> None:
    """`count` lines, seq 1…count, written by the database in one statement."""
    table = LogLine._meta.db_table
    if connection.vendor == "postgresql":
        rows = "SELECT %s, n, now(), 'stdout', 'line ' || n FROM generate_series(1, %s) AS n"
    else:
        rows = (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
            "SELECT %s, n, datetime('now'), 'stdout', 'line ' || n FROM s"
        )
    params = [deployment.pk, count] if connection.vendor == "postgresql" else [count, deployment.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (deployment_id, seq, time, stream, text) {rows}", params
        )
    Deployment.objects.filter(pk=deployment.pk).update(last_seq=count)


def test_error_lines_are_counted_as_written_on_stdout_stderr_and_slipways_own_lines(pipeline):
    deployment = running_deployment(pipeline)
    append_log(
        deployment,
        [
            ("stdout", "Running migrations…"),
            ("stdout", "ERROR: migration 0042 failed"),
            ("stderr", "warning: deprecated"),
        ],
    )
    append_log(
        deployment,
        [
            ("stderr", "Traceback (most recent call last):"),
            ("system", "✖ switch failed: current is not a symlink"),
            ("system", "Step release failed."),  # the step's note, not an error of its own
        ],
    )
    deployment.refresh_from_db()
    assert deployment.error_count == 3
    assert deployment.first_error_seq == 2
    assert deployment.first_error == "ERROR: migration 0042 failed"


@WAYS
def test_concurrent_writers_agree_on_the_first_error_and_the_count(pipeline, write):
    deployment = running_deployment(pipeline)
    failures = writing_together(
        deployment,
        lambda w: [[("stdout", "ok"), ("stderr", f"error {w}.{b}")] for b in range(5)],
        write,
    )

    assert failures == []
    deployment.refresh_from_db()
    first = deployment.log_lines.filter(stream="stderr").order_by("seq").first()
    assert deployment.error_count == WRITERS * 5
    assert (deployment.first_error_seq, deployment.first_error) == (first.seq, first.text)


@pytest.mark.parametrize(
    ("stream", "text", "error"),
    [
        ("stdout", "ERROR: migration failed", True),
        ("stdout", "django.db.utils.ProgrammingError: relation missing", True),
        ("stderr", "java.lang.NullPointerException", True),
        ("stdout", "Traceback (most recent call last):", True),
        ("system", "✖ switch failed: disk full", True),
        ("stdout", "120 passed, 0 failed", False),
        ("stdout", "no errors found", False),
        ("stdout", "Terror of the deep", False),
        ("system", "Step release failed.", False),
        ("stderr", "warning: deprecated", False),
    ],
)
def test_what_counts_as_an_error_line(stream, text, error):
    assert is_error(stream, text) is error


def test_a_batch_finds_the_same_error_lines_as_each_line_looked_at_alone():
    """append_log looks at a batch's output joined first: nothing may hide or appear there."""
    lines = [
        ("stdout", "120 passed, 0"),
        ("stdout", "failed"),  # "0\nfailed" is not "0 failed"
        ("stdout", "no"),
        ("stdout", "errors here"),
        ("stdout", "Value"),
        ("stdout", "Error"),  # "Value\nError" is not "ValueError"
        ("system", "✖ switch failed"),
        ("system", "error in a note is not an error"),
        ("stdout", "\x1b[31mERR\x1b[0mOR"),  # an error word cut by colours
        ("stdout", "FAİLED"),  # not ASCII: the pattern's own case-insensitivity decides
        ("stdout", "all good"),
    ]
    alone = [i for i, (stream, text) in enumerate(lines) if is_error(stream, text)]

    assert error_lines(lines) == alone
    assert error_lines([line for line in lines if line[0] == "system"]) == [0]
    assert error_lines([("stdout", "fine"), ("stdout", "quite fine")]) == []


ERROR_FRAGMENTS = [
    "error",
    "ERROR",
    "Error",
    "failed",
    "FAILED",
    "fatal",
    "traceback",
    "exception",
    "ValueError",
    "IOException",
    "0 ",
    "no ",
    "No ",
    "Terror",
    "errors",
    "FAİLED",
    "ﬁ",
    "K",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b]8;;x\x07",
    "\x1b]0;error",
    "\n",
    " ",
    "x",
    "1",
    "é",
    "✖ ",
]


@pytest.mark.parametrize("seed", range(10))
def test_error_lines_agree_with_is_error_on_every_line_of_a_random_batch(seed):
    """Each match of the joined search names its line: nothing may hide or appear there."""
    rng = random.Random(seed)
    lines = [
        (
            rng.choice(["stdout", "stderr", "system"]),
            "".join(rng.choice(ERROR_FRAGMENTS) for _ in range(rng.randint(0, 6))),
        )
        for _ in range(500)
    ]
    if seed % 2:  # all ASCII: the substring search's own way
        lines = [(stream, text) for stream, text in lines if text.isascii()]

    assert error_lines(lines) == [i for i, (s, t) in enumerate(lines) if is_error(s, t)]
