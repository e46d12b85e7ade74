"""The audit page verifies only what is new since its checkpoint (so its work stays flat as
history grows), re-checks the checkpoint's own event, and shows what the full verification
(`manage.py verify_audit`, which never trusts the checkpoint) last found."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines import audit
from pipelines.models import AuditCheckpoint, AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/pipelines/webshop/audit/"
TABLE = AuditEvent._meta.db_table


def add(pipeline, n: int) -> None:
    for i in range(n):
        audit.record("note", f"event {i}", pipeline=pipeline)


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def event(pipeline, seq: int) -> AuditEvent:
    return AuditEvent.objects.get(pipeline=pipeline, seq=seq)


def last_seq(pipeline) -> int:
    return AuditEvent.objects.filter(pipeline=pipeline).order_by("-seq").first().seq


def verify_audit() -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", "webshop", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue()
    return 0, out.getvalue()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.fixture
def hashes(monkeypatch):
    """How many events the code under test hashed (its work)."""
    counted = {"n": 0}
    real = audit.chain_hash

    def counting(**fields):
        counted["n"] += 1
        return real(**fields)

    monkeypatch.setattr(audit, "chain_hash", counting)
    return counted


def test_a_second_view_checks_only_the_events_new_since_the_first(pipeline, client_for, hashes):
    client = client_for("qa")
    add(pipeline, 30)
    first = client.get(AUDIT).content.decode()
    assert "This view checked every event, from the first." in text(first)
    assert hashes["n"] == last_seq(pipeline)
    checkpoint = last_seq(pipeline)

    add(pipeline, 3)
    hashes["n"] = 0
    page = text(client.get(AUDIT).content.decode())
    assert hashes["n"] == 4  # the 3 new events and the checkpoint's own, checked again
    assert f"Chain verified up to event {checkpoint + 3}" in page
    assert (
        f"This view checked events {checkpoint + 1} to {checkpoint + 3}, "
        f"after event {checkpoint}" in page
    )
    hashes["n"] = 0
    page = text(client.get(AUDIT).content.decode())
    assert hashes["n"] == 1
    assert f"Nothing new since event {checkpoint + 3}" in page


def test_the_page_does_the_same_work_with_a_long_history_as_with_a_short_one(
    pipeline, client_for, hashes, monkeypatch
):
    monkeypatch.setattr(audit, "PAGE_BATCH", 100)
    client = client_for("lead")

    def work_of_a_view_after_five_new_events() -> tuple[int, int]:
        while b"newer event" in client.get(AUDIT).content:
            pass  # the backlog, a batch per view
        add(pipeline, 5)
        hashes["n"] = 0
        with CaptureQueriesContext(connection) as captured:
            assert client.get(AUDIT).status_code == 200
        return len(captured), hashes["n"]

    add(pipeline, 20)
    short = work_of_a_view_after_five_new_events()
    add(pipeline, 450)
    assert work_of_a_view_after_five_new_events() == short
    assert short[1] == 6


def test_a_long_backlog_is_checked_a_batch_per_view(pipeline, client_for, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_BATCH", 10)
    add(pipeline, 24)
    total = last_seq(pipeline)
    client = client_for("qa")
    page = text(client.get(AUDIT).content.decode())
    assert "Chain verified up to event 10" in page
    assert f"{total - 10} newer events will be checked by the next views (or at once" in page
    page = text(client.get(AUDIT).content.decode())
    assert "Chain verified up to event 20" in page
    page = text(client.get(AUDIT).content.decode())
    assert f"Chain verified up to event {total}" in page and "newer event" not in page


def test_a_change_after_the_checkpoint_is_shown_on_the_page(pipeline, client_for):
    client = client_for("qa")
    add(pipeline, 5)
    client.get(AUDIT)
    add(pipeline, 5)
    victim = event(pipeline, last_seq(pipeline) - 2)
    sql(f"UPDATE {TABLE} SET message = %s WHERE id = %s", ["nothing happened", victim.pk])
    page = client.get(AUDIT).content.decode()
    assert 'data-audit-chain="broken"' in page
    assert f"event #{victim.pk} (seq {victim.seq}) does not match its hash" in page
    # It stays shown, view after view: a broken chain does not move the checkpoint.
    assert f"event #{victim.pk} (seq {victim.seq})" in client.get(AUDIT).content.decode()


def test_a_change_to_the_checkpoints_own_event_is_shown_on_the_page(pipeline, client_for):
    client = client_for("qa")
    add(pipeline, 5)
    client.get(AUDIT)
    victim = event(pipeline, last_seq(pipeline))
    sql(f"UPDATE {TABLE} SET data = %s WHERE id = %s", ['{"forged": true}', victim.pk])
    page = text(client.get(AUDIT).content.decode())
    assert f"event #{victim.pk} (seq {victim.seq}), the last one verified before" in page
    assert "was changed since" in page


def test_cutting_off_the_newest_events_is_shown_on_the_page(pipeline, client_for):
    client = client_for("qa")
    add(pipeline, 5)
    client.get(AUDIT)
    newest = last_seq(pipeline)
    sql(f"DELETE FROM {TABLE} WHERE pipeline_id = %s AND seq >= %s", [pipeline.pk, newest - 1])
    page = text(client.get(AUDIT).content.decode())
    assert f"event {newest} of the chain, the last one verified before" in page
    assert "was removed" in page


def test_a_change_before_the_checkpoint_is_found_by_verify_audit_and_then_shown(
    pipeline, client_for
):
    client = client_for("qa")
    add(pipeline, 8)
    client.get(AUDIT)
    victim = event(pipeline, 3)
    sql(f"UPDATE {TABLE} SET message = %s WHERE id = %s", ["rewritten history", victim.pk])
    # The page does not walk the old events again, and says so.
    page = text(client.get(AUDIT).content.decode())
    assert "only the full verification checks them again" in page
    assert "never run on this pipeline" in page

    code, output = verify_audit()
    assert code == 1 and f"event #{victim.pk} (seq 3) does not match its hash" in output
    page = client.get(AUDIT).content.decode()
    assert 'data-audit-full="broken"' in page
    assert f"event #{victim.pk} (seq 3) does not match its hash" in page


def test_the_page_says_when_the_full_verification_last_ran(pipeline, client_for, hashes):
    add(pipeline, 12)
    assert verify_audit()[0] == 0
    hashes["n"] = 0
    page = client_for("qa").get(AUDIT).content.decode()
    assert 'data-audit-full="verified"' in page
    assert f"the chain held up to event {last_seq(pipeline)}" in text(page)
    # A whole chain moved the checkpoint to its end: the page re-checks one event only.
    assert hashes["n"] == 1
    assert f"Nothing new since event {last_seq(pipeline)}" in text(page)


def test_a_checkpoint_moved_in_the_database_is_refused(pipeline, client_for):
    """Someone who changes an event and moves the checkpoint past it, without SECRET_KEY."""
    client = client_for("qa")
    add(pipeline, 5)
    client.get(AUDIT)
    add(pipeline, 5)
    victim = event(pipeline, 7)
    sql(f"UPDATE {TABLE} SET message = %s WHERE id = %s", ["nothing happened", victim.pk])
    newest = event(pipeline, last_seq(pipeline))
    AuditCheckpoint.objects.filter(pipeline=pipeline).update(seq=newest.seq, hash=newest.hash)
    page = client.get(AUDIT).content.decode()
    assert 'data-audit-checkpoint="refused"' in page
    assert f"event #{victim.pk} (seq 7) does not match its hash" in page
