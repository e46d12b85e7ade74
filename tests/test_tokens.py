"""API tokens: shown once, stored hashed, acting as their user, revocable, last use noted."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from pipelines.models import ApiToken, AuditEvent
from pipelines.tokens import InvalidToken, authenticate, create_token, revoke_token

pytestmark = pytest.mark.django_db


def test_a_new_token_is_stored_only_as_its_hash(users):
    token, raw = create_token(users["developer"], name="ci")
    assert raw.startswith("slw_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.token_hash, stored.prefix, stored.name}
    assert raw.startswith(stored.prefix)
    assert AuditEvent.objects.filter(action="token_created").exists()


def test_a_token_authenticates_as_its_user(users):
    _, raw = create_token(users["developer"])
    assert authenticate(raw).user == users["developer"]


def test_it_refuses_a_token_it_does_not_know(users):
    with pytest.raises(InvalidToken):
        authenticate("slw_not-a-token")


def test_it_refuses_a_token_that_was_revoked(users):
    token, raw = create_token(users["developer"])
    revoke_token(token)
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(raw)


def test_it_refuses_a_token_of_a_deactivated_user(users):
    _, raw = create_token(users["developer"])
    users["developer"].is_active = False
    users["developer"].save()
    with pytest.raises(InvalidToken, match="deactivated"):
        authenticate(raw)


def test_last_use_is_written_at_most_once_a_minute(users):
    token, raw = create_token(users["developer"])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        authenticate(raw)
        first = ApiToken.objects.get(pk=token.pk).last_used_at
        clock.shift(timedelta(seconds=30))
        authenticate(raw)
        assert ApiToken.objects.get(pk=token.pk).last_used_at == first
        clock.shift(timedelta(seconds=31))
        authenticate(raw)
        assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_create_token_prints_the_token_once(users, capsys):
    call_command("create_token", "developer", "--name", "ci")
    out, err = capsys.readouterr()
    token = ApiToken.objects.get()
    assert token.name == "ci"
    assert token.token_hash == hashlib.sha256(out.strip().encode()).hexdigest()
    assert "not shown again" in err


def test_list_tokens_shows_prefixes_and_never_tokens(users, capsys):
    _, raw = create_token(users["developer"], name="ci")
    call_command("list_tokens")
    out = capsys.readouterr().out
    assert raw[:12] in out and "ci" in out and "never" in out
    assert raw not in out


def test_revoke_token_revokes_by_prefix(users, capsys):
    token, raw = create_token(users["developer"], name="ci")
    call_command("revoke_token", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None
    with pytest.raises(InvalidToken):
        authenticate(raw)


def test_the_admin_creates_a_token_and_shows_it_once(users, client):
    lead = users["lead"]
    lead.is_staff = lead.is_superuser = True
    lead.save()
    client.force_login(lead)
    add_url = "/admin/pipelines/apitoken/add/"
    response = client.post(add_url, {"user": users["developer"].pk, "name": "ci"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ci")
    shown = [str(m) for m in response.context["messages"] if "slw_" in str(m)]
    raw = shown[0].split("is ")[1].split(" ")[0]
    assert authenticate(raw) == token


def test_the_admin_revokes_selected_tokens(users, client):
    lead = users["lead"]
    lead.is_staff = lead.is_superuser = True
    lead.save()
    client.force_login(lead)
    token, _ = create_token(users["developer"])
    response = client.post(
        "/admin/pipelines/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_token_created_to_expire_in_90_days_works_until_then(users, capsys):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        call_command("create_token", "developer", "--name", "ci", "--expires", "90d")
        raw = capsys.readouterr().out.strip()
        token = ApiToken.objects.get()
        assert token.expires_at == timezone.now() + timedelta(days=90)

        clock.shift(timedelta(days=89, hours=23))
        assert authenticate(raw).user == users["developer"]
        clock.shift(timedelta(hours=1))
        with pytest.raises(InvalidToken, match="expired on .*create a new one"):
            authenticate(raw)


def test_an_expired_token_gets_401_from_the_api(users, client):
    token, raw = create_token(users["developer"], expires_in=timedelta(hours=1))
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = client.get("/api/v1/pipelines", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_create_token_refuses_an_expiry_that_is_not_a_duration(users):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--expires '90 days' is not a duration like 90d"):
        call_command("create_token", "developer", "--expires", "90 days")
    assert not ApiToken.objects.exists()


def test_list_tokens_shows_last_use_and_expiry(users, capsys):
    used, raw = create_token(users["developer"], name="ci", expires_in=timedelta(days=90))
    create_token(users["lead"], name="laptop")
    with time_machine.travel(timezone.now(), tick=False):
        authenticate(raw)
        call_command("list_tokens")
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert "LAST USED" in header and "EXPIRES" in header
    ci = next(row for row in rows if " ci " in row)
    used.refresh_from_db()
    assert f"{used.last_used_at:%Y-%m-%d %H:%M}" in ci
    assert f"{used.expires_at:%Y-%m-%d %H:%M}" in ci
    laptop = next(row for row in rows if "laptop" in row)
    assert "never" in laptop
