"""The runner's log writer (pipelines/runner/log_writer.py): a command's output handed over a
chunk at a time is stored as if line by line, in batches as big as a reasonable message, and
nothing is lost or written twice when the database blinks or another writer comes in
between."""

from itertools import groupby
from operator import itemgetter

import pytest
from django.db import connection

from pipelines.logs import commit_log
from pipelines.models import Deployment
from pipelines.runner.database import DatabaseAway
from pipelines.runner.log_writer import MAX_BATCH, MAX_BATCH_CHARS, LogWriter
from tests.blinking import DatabaseProxy
from tests.services import need_postgres
from tests.test_log_storing import CUT_NOTE
from tests.watching import running_deployment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("cap", [1000, 1_000_000])
def test_a_chunk_of_output_is_stored_as_its_lines_written_one_by_one(pipeline, cap):
    """The runner hands over output a chunk at a time (LogWriter.write_lines): masked,
    shortened, batched and cut at the cap exactly as line by line."""
    chunk = [
        "token=s3cret-value ok",
        "x" * 10_050,  # too long: cut
        "two secrets: s3cret-value and multi",
        *(f"line {n}" for n in range(1200)),  # past a batch, and past the cap below
    ]

    def stored_by(write, environment: str) -> list[tuple[str, str]]:
        deployment = running_deployment(pipeline, environment)
        writer = LogWriter(deployment, max_lines=cap, flush_seconds=60)
        writer.mask("s3cret-value")
        writer.mask("multi\nline secret")
        write(writer)
        writer.system("Step release ended.")
        writer.flush()
        return list(deployment.log_lines.order_by("seq").values_list("stream", "text"))

    one_by_one = stored_by(lambda w: [w.write(text) for text in chunk], "dev")
    at_once = stored_by(lambda w: w.write_lines(list(chunk)), "uat")

    assert at_once == one_by_one
    assert one_by_one[0] == ("stdout", "token=*** ok")
    assert one_by_one[1][1].endswith(" … (line cut)")
    assert one_by_one[2] == ("stdout", "two secrets: *** and ***")
    assert len(one_by_one) == (1002 if cap == 1000 else len(chunk) + 1)  # + cut note, step


def test_a_fast_command_is_stored_in_big_batches_and_long_lines_in_smaller_ones(pipeline):
    """Each batch is one transaction, one message and one frame to every watcher: as few as
    may be, but a batch of long lines stays a reasonable message (MAX_BATCH_CHARS)."""

    def batches_of(texts: list[str], environment: str) -> list[int]:
        deployment = running_deployment(pipeline, environment)
        writer = LogWriter(deployment, max_lines=1_000_000, flush_seconds=60)
        writer.write_lines(texts)
        writer.flush()
        stored = deployment.log_lines.order_by("seq").values_list("time", "text")
        assert [text for _, text in stored] == texts
        return [len(list(batch)) for _, batch in groupby(stored, key=itemgetter(0))]

    short = [f"line {n}" for n in range(4 * MAX_BATCH + 100)]
    long = [f"{n:05d} " + "x" * 9_000 for n in range(300)]

    assert batches_of(short, "dev") == [MAX_BATCH, MAX_BATCH, MAX_BATCH, MAX_BATCH, 100]
    per_batch = MAX_BATCH_CHARS // len(long[0])
    assert batches_of(long, "uat") == [per_batch, per_batch, 300 - 2 * per_batch]


CUT_AT_CAP = f"✂ Log cut at {MAX_BATCH + 5:,} lines: {CUT_NOTE}"


def stored(deployment: Deployment) -> list[tuple[int, str]]:
    return list(deployment.log_lines.order_by("seq").values_list("seq", "text"))


@pytest.mark.parametrize("cap", [1_000_000, MAX_BATCH + 5])  # far, and near (line by line)
def test_lines_the_database_did_not_take_stay_pending_and_go_with_the_next_flush(
    pipeline, settings, cap
):
    """The database goes away as a batch fills: the writer says so (DatabaseAway, which
    fails the step) and keeps the lines, the rest of the chunk too; once it is back, every
    line is stored once, in order (up to the cap, then its marker)."""
    need_postgres()
    settings.SLIPWAY_DB_RETRY_SECONDS = 0.3
    deployment = running_deployment(pipeline)
    first = [f"line {n}" for n in range(MAX_BATCH + 10)]
    writer = LogWriter(deployment, max_lines=cap, flush_seconds=60)
    db = connection.settings_dict
    real = db["HOST"], db["PORT"]
    with DatabaseProxy() as proxy:
        db["HOST"], db["PORT"] = proxy.host, proxy.port  # new connections go through it
        connection.close()
        try:
            proxy.down()
            with pytest.raises(DatabaseAway, match="while storing the log"):
                writer.write_lines(first)
            proxy.up()
            writer.write_lines(["after the blink"])
            writer.flush()
        finally:
            db["HOST"], db["PORT"] = real
            connection.close()
    expected = [*first, "after the blink"] if cap > len(first) else [*first[:cap], CUT_AT_CAP]
    assert stored(deployment) == list(enumerate(expected, start=1))


def test_lines_another_writer_adds_between_batches_are_kept_and_seqs_stay_dense(pipeline):
    """A line from the web process (a cancel request's note) lands between the runner's
    batches: every line once, seqs dense, the runner's in their order, and the runner's
    next batch goes after it."""
    deployment = running_deployment(pipeline)
    runner = [f"runner {n}" for n in range(3 * MAX_BATCH)]
    writer = LogWriter(deployment, max_lines=1_000_000, flush_seconds=60)
    writer.write_lines(runner[:MAX_BATCH])
    commit_log(Deployment.objects.get(pk=deployment.pk), [("system", "from the web")])
    writer.write_lines(runner[MAX_BATCH:])
    writer.flush()

    lines = stored(deployment)
    assert [seq for seq, _ in lines] == list(range(1, len(runner) + 2))
    assert [text for _, text in lines if text != "from the web"] == runner
    assert [text for _, text in lines].count("from the web") == 1
    assert deployment.last_seq == Deployment.objects.get(pk=deployment.pk).last_seq
