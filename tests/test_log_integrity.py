"""The log table has no foreign key to its deployment (docs/architecture.md, "Live updates"):
lines are refused for a deployment that is not there, whichever way they are written, and
every way a deployment is deleted takes its lines with it, even while a batch is being
written. The log is keyed, and read, by (deployment, seq)."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from pipelines.logs import append_log, commit_log
from pipelines.models import Deployment, LogLine
from tests.deploying import wait_for
from tests.services import need_postgres
from tests.watching import TIMEOUT, running_deployment

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, WITHOUT_KEY = "0026_deployment_log_errors_counted", "0027_logline_without_foreign_key"


def appended_in_a_transaction(deployment, lines) -> None:
    with transaction.atomic():
        append_log(deployment, lines)


# The two ways a batch goes in (pipelines/logs.py): both refuse the same way.
WAYS = pytest.mark.parametrize("write", [appended_in_a_transaction, commit_log])


def lines_of(deployment_id: int) -> list[str]:
    return list(
        LogLine.objects.filter(deployment_id=deployment_id)
        .order_by("seq")
        .values_list("text", flat=True)
    )


def orphans() -> int:
    return LogLine.objects.exclude(deployment_id__in=Deployment.objects.values("pk")).count()


@WAYS
def test_lines_for_a_deployment_that_never_existed_are_refused_and_nothing_is_stored(
    pipeline, write
):
    ghost = Deployment(pk=987_654)

    with pytest.raises(Deployment.DoesNotExist, match="#987654 does not exist"):
        write(ghost, [("stdout", "to nowhere"), ("stderr", "error: nobody reads this")])

    assert LogLine.objects.count() == 0


@WAYS
def test_lines_for_a_deployment_deleted_meanwhile_are_refused_and_nothing_is_stored(
    pipeline, write
):
    deployment = running_deployment(pipeline)
    runners_copy = Deployment.objects.get(pk=deployment.pk)
    write(runners_copy, [("stdout", "first batch")])
    Deployment.objects.get(pk=deployment.pk).delete()

    with pytest.raises(Deployment.DoesNotExist, match="its log lines are not stored"):
        write(runners_copy, [("stdout", "after the delete")])

    assert lines_of(deployment.pk) == []
    assert LogLine.objects.count() == 0


def itself(deployment):
    return deployment


def release_of(deployment):
    return deployment.release


def environment_of(deployment):
    return deployment.environment


@pytest.mark.parametrize("deleted", [itself, release_of, environment_of])
def test_deleting_a_deployment_its_release_or_its_environment_deletes_its_lines_only(
    pipeline, deleted
):
    doomed, kept = running_deployment(pipeline, "dev"), running_deployment(pipeline, "uat")
    for deployment in (doomed, kept):
        commit_log(deployment, [("stdout", f"line {n} of #{deployment.pk}") for n in range(3)])

    deleted(Deployment.objects.get(pk=doomed.pk)).delete()

    assert lines_of(doomed.pk) == []
    assert lines_of(kept.pk) == [f"line {n} of #{kept.pk}" for n in range(3)]
    assert orphans() == 0


def test_deleting_a_deployment_in_the_admin_deletes_its_lines(pipeline):
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", "in the admin")])
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    page = f"/admin/pipelines/deployment/{deployment.pk}/delete/"
    assert admin.post(page, {"post": "yes"}).status_code == 302

    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert lines_of(deployment.pk) == []


def waiting_on_a_lock() -> bool:
    """Another session of this database is waiting for a lock (a row's, here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def in_a_thread(work, failures: list) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 — the test asserts what was raised
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_deployment_deleted_while_a_batch_is_written_takes_that_batch_with_it(pipeline):
    """The delete waits for the batch's transaction (both lock the deployment's row first),
    then deletes its lines too: none is left behind without its deployment."""
    need_postgres()  # SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", "committed before")])
    written, commit = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def write() -> None:
        with transaction.atomic():
            append_log(Deployment.objects.get(pk=deployment.pk), [("stdout", "being written")])
            written.set()
            commit.wait(TIMEOUT)

    writer = in_a_thread(write, failures)
    assert written.wait(TIMEOUT)
    deleter = in_a_thread(lambda: Deployment.objects.get(pk=deployment.pk).delete(), failures)
    wait_for(waiting_on_a_lock, what="the delete to wait for the batch")
    commit.set()
    writer.join(TIMEOUT)
    deleter.join(TIMEOUT)

    assert failures == []
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert lines_of(deployment.pk) == []
    assert orphans() == 0


@WAYS
def test_a_batch_written_while_its_deployment_is_deleted_is_refused_and_stores_nothing(
    pipeline, write
):
    need_postgres()  # SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)
    deployment = running_deployment(pipeline)
    runners_copy = Deployment.objects.get(pk=deployment.pk)
    write(runners_copy, [("stdout", "committed before")])
    deleted, commit = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def delete() -> None:
        with transaction.atomic():
            Deployment.objects.get(pk=deployment.pk).delete()
            deleted.set()
            commit.wait(TIMEOUT)

    deleter = in_a_thread(delete, failures)
    assert deleted.wait(TIMEOUT)
    writer = in_a_thread(lambda: write(runners_copy, [("stdout", "too late")]), failures)
    wait_for(waiting_on_a_lock, what="the batch to wait for the delete")
    commit.set()
    deleter.join(TIMEOUT)
    writer.join(TIMEOUT)

    assert [type(failure) for failure in failures] == [Deployment.DoesNotExist]
    assert lines_of(deployment.pk) == []
    assert orphans() == 0


def test_the_log_is_read_by_deployment_and_seq_through_the_primary_key(pipeline):
    """Without the index on deployment_id alone, the pages' and the API's look-up
    (deployment_id = … AND seq > … ORDER BY seq) still finds its rows in the table's key.
    Sequential scans are ruled out: on a tiny table the planner would rightly prefer one,
    and the question is which index serves."""
    need_postgres()  # SQLite's plan names no index by this name
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", str(n)) for n in range(50)])

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = deployment.log_lines.filter(seq__gt=10).order_by("seq")[:20].explain()

    assert "pipelines_logline_pkey" in plan


def log_table_constraints() -> list[dict]:
    with connection.cursor() as cursor:
        return list(
            connection.introspection.get_constraints(cursor, LogLine._meta.db_table).values()
        )


def log_table_keys() -> tuple[bool, bool]:
    """(a foreign key on deployment_id, an index on deployment_id alone) in the database."""
    on_deployment = [c for c in log_table_constraints() if c["columns"] == ["deployment_id"]]
    return (
        any(c["foreign_key"] for c in on_deployment),
        any(c["index"] and not c["unique"] for c in on_deployment),
    )


def migrate_to(name: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("pipelines", name)])


def migrate_to_the_latest() -> None:
    """What the other tests run on."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("pipelines"))


def test_the_migration_goes_back_and_forth_on_a_table_with_rows_keeping_every_line(pipeline):
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", f"line {n}") for n in range(1, 1001)])
    expected = lines_of(deployment.pk)
    try:
        migrate_to(BEFORE)
        assert log_table_keys() == (True, True)
        assert lines_of(deployment.pk) == expected

        migrate_to_the_latest()
        assert log_table_keys() == (False, False)
        assert lines_of(deployment.pk) == expected
        commit_log(deployment, [("stdout", "after the migration")])
        assert lines_of(deployment.pk) == [*expected, "after the migration"]
    finally:
        migrate_to_the_latest()


def primary_key_columns() -> set[str]:
    """(SQLite's introspection lists them in the table's order, not the key's.)"""
    return next(set(c["columns"]) for c in log_table_constraints() if c["primary_key"])


def test_keying_the_log_by_deployment_and_seq_goes_back_and_forth_keeping_every_line(pipeline):
    deployment = running_deployment(pipeline)
    commit_log(deployment, [("stdout", f"line {n}") for n in range(1, 1001)])
    expected = lines_of(deployment.pk)
    try:
        migrate_to(WITHOUT_KEY)
        assert primary_key_columns() == {"id"}
        assert lines_of(deployment.pk) == expected

        migrate_to_the_latest()
        assert primary_key_columns() == {"deployment_id", "seq"}
        assert lines_of(deployment.pk) == expected
        commit_log(deployment, [("stdout", "after the migration")])
        assert lines_of(deployment.pk) == [*expected, "after the migration"]
    finally:
        migrate_to_the_latest()


def test_a_seq_is_written_once_per_deployment_whatever_writes_it(pipeline):
    """The key refuses a second line at a seq of the same deployment (the writers reserve
    seqs, the key is what holds if one ever did not), and takes the same seq elsewhere."""
    first, second = running_deployment(pipeline, "dev"), running_deployment(pipeline, "uat")
    commit_log(first, [("stdout", "one")])
    now = timezone.now()

    LogLine.objects.create(deployment=second, seq=1, time=now, text="the same seq elsewhere")
    with pytest.raises(IntegrityError), transaction.atomic():
        LogLine.objects.create(deployment=first, seq=1, time=now, text="again")

    assert lines_of(first.pk) == ["one"]
