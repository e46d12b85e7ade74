"""The audit log page: every change with who and when, filterable, paginated, append-only."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from pipelines import audit, checklist, locks
from pipelines.models import AuditEvent
from pipelines.models.audit import AppendOnlyError
from tests.promoting import env, item, sign_everything, uat_runs_a_new_build
from tests.test_promote import promote_live

pytestmark = pytest.mark.django_db

AUDIT = "/pipelines/webshop/audit/"


def rows(html: str) -> list[tuple[str, str]]:
    """(action, who) of each row, newest first."""
    found = re.findall(
        r'<tr data-audit-event="\d+" data-action="([^"]+)">'
        r"\s*<td[^>]*>.*?</td>\s*<td[^>]*>(.*?)</td>",
        html,
        re.S,
    )
    return [(action, re.sub(r"<[^>]+>", "", who).strip()) for action, who in found]


@pytest.fixture
def history(pipeline, users):
    """A sign-off, a revoke, a lock and unlock, then a promotion and its deployment."""
    uat_runs_a_new_build(pipeline)
    live = env(pipeline, "live")
    checklist.revoke(checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"]), by=users["qa"])
    locks.lock(pipeline, live, by=users["lead"], reason="demo")
    locks.unlock(pipeline, live, by=users["lead"])
    sign_everything(pipeline, users)
    promote_live(pipeline, users["lead"])
    return pipeline


def test_it_lists_every_kind_of_change_with_who_made_it(history, client_for):
    html = client_for("support").get(AUDIT).content.decode()
    listed = rows(html)
    for expected in [
        ("signoff", "qa"),
        ("signoff_revoked", "qa"),
        ("lock", "lead"),
        ("unlock", "lead"),
        ("promotion", "lead"),
        ("deployment_requested", "lead"),
        ("deployment_succeeded", "Slipway / CI"),
    ]:
        assert expected in listed, expected
    assert listed.index(("promotion", "lead")) < listed.index(("lock", "lead"))  # newest first


def test_it_filters_by_environment_and_user(history, client_for):
    client = client_for("developer")
    by_qa = rows(client.get(AUDIT, {"user": "qa"}).content.decode())
    assert by_qa and {who for _, who in by_qa} == {"qa"}
    on_uat = client.get(AUDIT, {"environment": "uat"}).content.decode()
    assert {action for action, _ in rows(on_uat)} <= {
        "deployment_requested",
        "deployment_started",
        "deployment_running",
        "deployment_succeeded",
    }
    both = rows(client.get(AUDIT, {"environment": "live", "user": "lead"}).content.decode())
    assert ("lock", "lead") in both and ("signoff", "qa") not in both


def test_it_is_paginated_keeping_the_filter(pipeline, users, client_for):
    for n in range(60):
        audit.record("note", f"event {n}", pipeline=pipeline, actor=users["lead"])
    client = client_for("qa")
    first = client.get(AUDIT, {"user": "lead"}).content.decode()
    assert len(rows(first)) == 50 and "← Newer" not in first
    older = re.search(r'href="\?user=lead&amp;page_before=(\d+)">Older', first).group(1)
    second = client.get(AUDIT, {"user": "lead", "page_before": older}).content.decode()
    assert len(rows(second)) == 10 and "Older →" not in second
    newer = re.search(r'href="\?user=lead&amp;page_after=(\d+)">← Newer', second).group(1)
    again = client.get(AUDIT, {"user": "lead", "page_after": newer}).content.decode()
    assert rows(again) == rows(first)


def test_anonymous_users_and_users_without_a_role_are_kept_out(pipeline, client_for):
    assert Client().get(AUDIT).status_code == 302
    assert client_for("nobody").get(AUDIT).status_code == 403


def test_audit_events_cannot_be_changed_or_deleted(history):
    event = AuditEvent.objects.first()
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_not_even_the_admin_edits_or_deletes_audit_events(history):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    event = AuditEvent.objects.first()
    base = f"/admin/pipelines/auditevent/{event.pk}"
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"{base}/change/", {"action": "forged", "message": "forged"})
    event.refresh_from_db()
    assert event.action != "forged"
    assert AuditEvent.objects.filter(pk=event.pk).exists()
