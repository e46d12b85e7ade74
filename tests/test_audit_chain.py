"""The audit log as a hash chain: an event changed, removed or inserted behind Slipway's back
(a direct SQL statement) is found by `manage.py verify_audit` and shown on the audit page."""

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from pipelines import audit
from pipelines.models import AuditEvent
from tests.services import need_postgres
from tests.test_audit_log import history  # noqa: F401  (a fixture: a promotion and its story)

pytestmark = pytest.mark.django_db

AUDIT = "/pipelines/webshop/audit/"
TABLE = AuditEvent._meta.db_table


def verify(*args) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def chain(pipeline) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pipeline=pipeline).order_by("seq"))


def test_an_untouched_history_is_verified_to_its_last_event(history, client_for):  # noqa: F811
    events = chain(history)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    code, output = verify()
    assert code == 0
    assert f"webshop: chain verified up to event {len(events)}" in output
    page = client_for("qa").get(AUDIT).content.decode()
    assert 'data-audit-chain="verified"' in page
    assert f"Chain verified up to event {len(events)}" in page


def test_a_direct_sql_update_of_an_old_event_is_found(history, client_for):  # noqa: F811
    victim = next(e for e in chain(history) if e.action == "signoff")
    sql(f"UPDATE {TABLE} SET message = %s WHERE id = %s", ["signed by nobody", victim.pk])
    code, output = verify("webshop")
    assert code == 1
    assert f"event #{victim.pk} (seq {victim.seq}) does not match its hash" in output
    assert f"holds up to event {victim.seq - 1}" in output
    page = client_for("qa").get(AUDIT).content.decode()
    assert 'data-audit-chain="broken"' in page and f"event #{victim.pk}" in page


def test_a_changed_actor_or_detail_is_found_too(history):  # noqa: F811
    victim = next(e for e in chain(history) if e.action == "promotion")
    sql(f"UPDATE {TABLE} SET actor_id = NULL WHERE id = %s", [victim.pk])
    assert f"event #{victim.pk}" in verify()[1]
    sql(f"UPDATE {TABLE} SET actor_id = %s WHERE id = %s", [victim.actor_id, victim.pk])
    assert verify()[0] == 0  # put back exactly, it holds again
    sql(f"UPDATE {TABLE} SET data = %s WHERE id = %s", ['{"digest": "sha256:forged"}', victim.pk])
    assert f"event #{victim.pk} (seq {victim.seq}) does not match its hash" in verify()[1]


def test_a_direct_sql_delete_is_found(history, client_for):  # noqa: F811
    events = chain(history)
    victim, after = events[3], events[4]
    sql(f"DELETE FROM {TABLE} WHERE id = %s", [victim.pk])
    code, output = verify()
    assert code == 1
    assert f"event {victim.seq} of the chain, before #{after.pk}, were removed" in output
    page = client_for("lead").get(AUDIT).content.decode()
    assert 'data-audit-chain="broken"' in page


def test_a_delete_covered_up_by_renumbering_is_found(history):  # noqa: F811
    events = chain(history)
    victim = events[2]
    sql(f"DELETE FROM {TABLE} WHERE id = %s", [victim.pk])
    for event in events[3:]:
        sql(f"UPDATE {TABLE} SET seq = seq - 1 WHERE id = %s", [event.pk])
    code, output = verify()
    assert code == 1
    assert f"event #{events[3].pk}" in output and "holds up to event 2" in output


def test_a_direct_sql_insert_is_found(history):  # noqa: F811
    last = chain(history)[-1]
    sql(
        f"INSERT INTO {TABLE} (pipeline_id, action, message, data, created_at, seq, prev_hash, "
        "hash) VALUES (%s, 'promotion', 'lead promoted a build nobody signed', '{}', %s, %s, %s, "
        "%s)",
        [history.pk, last.created_at, last.seq + 1, last.hash, "0" * 64],
    )
    forged = AuditEvent.objects.get(pipeline=history, seq=last.seq + 1)
    code, output = verify()
    assert code == 1
    assert f"event #{forged.pk} (seq {forged.seq}) does not match its hash" in output
    assert f"holds up to event {last.seq}" in output


def test_an_insert_in_the_middle_is_found(history):  # noqa: F811
    events = chain(history)
    # Make room after seq 2 (from the end, so the unique seq holds meanwhile), then insert.
    for event in reversed(events[2:]):
        sql(f"UPDATE {TABLE} SET seq = seq + 1 WHERE id = %s", [event.pk])
    sql(
        f"INSERT INTO {TABLE} (pipeline_id, action, message, data, created_at, seq, prev_hash, "
        "hash) VALUES (%s, 'signoff', 'qa signed', '{}', %s, 3, %s, %s)",
        [history.pk, events[1].created_at, events[1].hash, events[2].hash],
    )
    code, output = verify()
    assert code == 1
    assert "holds up to event 2" in output


def test_each_pipeline_and_the_events_without_one_have_their_own_chain(history, users):  # noqa: F811
    from pipelines.config import load_pipeline_text
    from tests.conftest import EXAMPLE_TOML

    other = load_pipeline_text(EXAMPLE_TOML.replace('"webshop"', '"shop2"'), source="test")
    audit.record("note", "no pipeline", pipeline=None, actor=users["lead"])
    assert [e.seq for e in chain(other)] == [1]
    assert AuditEvent.objects.filter(pipeline__isnull=True).order_by("-seq").first().seq >= 1
    code, output = verify()
    assert code == 0
    assert "shop2: chain verified up to event 1" in output
    assert "(events without a pipeline): chain verified" in output


def test_details_are_hashed_as_the_database_gives_them_back(pipeline):
    event = audit.record("note", "tuple and int keys", pipeline=pipeline, ids=(1, 2), n={3: "x"})
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.data == {"ids": [1, 2], "n": {"3": "x"}}
    assert event.computed_hash() == event.hash


@pytest.mark.django_db(transaction=True)
def test_appenders_racing_on_postgresql_each_get_their_own_place(pipeline):
    need_postgres()
    errors = []

    def append(n: int) -> None:
        try:
            for i in range(10):
                audit.record("note", f"writer {n} event {i}", pipeline=pipeline)
        except Exception as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = audit.verify_chain(pipeline)
    assert report.ok and report.events == 41  # the load's own event + 40
