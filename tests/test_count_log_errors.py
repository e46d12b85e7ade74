"""`manage.py count_log_errors`: logs stored before error lines were counted as written get
their count and first error, read in bounded chunks, and a stopped run goes on where it was."""

import pytest
from django.core.management import CommandError, call_command

import pipelines.management.commands.count_log_errors as command
from pipelines.logs import append_log
from pipelines.models import Deployment
from tests.watching import running_deployment

pytestmark = pytest.mark.django_db(transaction=True)


class Stopped(Exception):
    pass


def stored_before_counting(pipeline, lines, environment: str = "dev") -> Deployment:
    """A deployment whose log was stored as it was before the count existed."""
    deployment = running_deployment(pipeline, environment)
    append_log(deployment, lines)
    Deployment.objects.filter(pk=deployment.pk).update(
        status="failed", error_count=0, first_error_seq=None, first_error="",
        log_errors_counted=False,
    )  # fmt: skip
    return deployment


def counted(deployment) -> tuple:
    deployment.refresh_from_db()
    return (
        deployment.error_count,
        deployment.first_error_seq,
        deployment.first_error,
        deployment.log_errors_counted,
    )


def test_old_logs_get_their_error_count_and_first_error_read_in_chunks(pipeline):
    lines = [("stdout", f"copying {n}") for n in range(7)]  # no error in the first chunks
    lines += [("stderr", "ERROR: disk full " + "x" * 600), ("stdout", "0 failed")]
    lines += [("system", "✖ switch failed: disk full"), ("stdout", "KeyError: 'cart'")]
    old = stored_before_counting(pipeline, lines)
    clean = stored_before_counting(pipeline, [("stdout", "all good")], "uat")

    call_command("count_log_errors", "--chunk", "3")

    count, first_seq, first_error, done = counted(old)
    assert (count, first_seq, done) == (3, 8, True)
    assert first_error == ("ERROR: disk full " + "x" * 600)[:500]  # as the page quotes it
    assert counted(clean) == (0, None, "", True)


def test_a_deployment_made_now_needs_no_count_and_is_left_alone(pipeline, monkeypatch):
    new = running_deployment(pipeline)
    append_log(new, [("stdout", "ERROR: one")])
    looked_at = []
    monkeypatch.setattr(command, "recount_errors", lambda pk, chunk: looked_at.append(pk))

    call_command("count_log_errors")

    assert looked_at == []
    assert counted(new) == (1, 1, "ERROR: one", True)


def test_a_stopped_run_goes_on_where_it_was_when_started_again(pipeline, monkeypatch):
    old = [
        stored_before_counting(pipeline, [("stdout", f"error {n}")], environment)
        for n, environment in enumerate(("dev", "uat", "live"))
    ]
    real = command.recount_errors
    calls = []

    def stopped_at_the_second(pk, chunk):
        calls.append(pk)
        if len(calls) == 2:
            raise Stopped  # a kill, or the operator's Ctrl-C, half-way
        real(pk, chunk=chunk)

    monkeypatch.setattr(command, "recount_errors", stopped_at_the_second)
    with pytest.raises(Stopped):
        call_command("count_log_errors")
    assert [counted(d)[3] for d in old] == [True, False, False]

    calls.clear()
    monkeypatch.setattr(command, "recount_errors", lambda pk, chunk: [calls.append(pk), real(pk)])
    call_command("count_log_errors")

    assert calls == [old[1].pk, old[2].pk]  # the first is not read again
    assert [counted(d)[:2] for d in old] == [(1, 1), (1, 1), (1, 1)]


def test_a_chunk_of_no_lines_is_refused_with_a_clear_message():
    with pytest.raises(CommandError, match="--chunk must be 1 line or more, not 0"):
        call_command("count_log_errors", "--chunk", "0")
