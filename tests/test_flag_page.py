"""The flags page: everyone with a role sees the flags, leads and QA change them, every
change is audited, bad input names the field and changes nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from pipelines.flags import checked_rules, create_flag
from pipelines.models import AuditEvent, FeatureFlag, FlagKey
from pipelines.tokens import hash_token

URL = "/pipelines/webshop/environments/live/flags/"


@pytest.fixture
def gift_cards(pipeline):
    live = pipeline.environments.get(name="live")
    return create_flag(live, "gift-cards", checked_rules(groups=["qa"]), by=None)


def edit(client, **fields):
    form = {"description": "", "users": "", "groups": "qa", "percentage": "0"} | fields
    return client.post(URL + "gift-cards/", form)


def typed_back(page, text: str) -> bool:
    """The refused form shows what was typed."""
    return text in page.content.decode()


@pytest.mark.parametrize("role", ["lead", "developer", "sales", "support", "qa"])
def test_everyone_with_a_role_sees_the_flags(client_for, gift_cards, role):
    page = client_for(role).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-flag="gift-cards"' in html and "On for groups qa; else off" in html
    may_edit = role in ("lead", "qa")
    assert ('data-action="save-flag"' in html) is may_edit
    assert ('data-action="create-flag"' in html) is may_edit


def test_a_user_without_a_role_does_not_see_the_flags(client_for, gift_cards):
    assert client_for("nobody").get(URL).status_code == 403


@pytest.mark.parametrize("role", ["lead", "qa"])
def test_leads_and_qa_change_a_flag_and_the_change_is_audited(client_for, users, gift_cards, role):
    response = edit(client_for(role), users="ann, bob\ncarl", groups="qa, sales", percentage="15")
    assert response.status_code == 302
    flag = FeatureFlag.objects.get(pk=gift_cards.pk)
    assert (flag.users, flag.groups, flag.percentage) == (
        ["ann", "bob", "carl"],
        ["qa", "sales"],
        15,
    )
    event = AuditEvent.objects.get(action="flag_changed")
    assert event.actor == users[role] and event.environment == flag.environment
    assert event.data["before"]["groups"] == ["qa"]
    assert event.data["after"]["groups"] == ["qa", "sales"]
    assert "users, groups, percentage" in event.message


@pytest.mark.parametrize("role", ["developer", "sales", "support"])
def test_other_roles_cannot_change_or_create_flags_even_by_a_forged_post(
    client_for, gift_cards, role
):
    client = client_for(role)
    assert edit(client, groups="everyone", default="on").status_code == 403
    refused = client.post(URL + "new", {"key": "sneaky", "default": "on"})
    assert refused.status_code == 403
    assert FeatureFlag.objects.get(pk=gift_cards.pk).rules() == gift_cards.rules()
    assert not FeatureFlag.objects.filter(key="sneaky").exists()
    assert (
        not AuditEvent.objects.filter(action__startswith="flag_")
        .exclude(action="flag_created", actor=None)
        .exists()
    )
    assert "Only team leads and QA" in refused.content.decode()


def test_a_lead_creates_a_flag_on_the_page(client_for, users, pipeline):
    client = client_for("lead")
    response = client.post(URL + "new", {"key": "new-search", "percentage": "10", "default": "on"})
    assert response.status_code == 302
    flag = FeatureFlag.objects.get(key="new-search")
    assert (flag.environment.name, flag.percentage, flag.default) == ("live", 10, True)
    event = AuditEvent.objects.get(action="flag_created")
    assert event.actor == users["lead"] and event.data["after"]["percentage"] == 10
    again = client.post(URL + "new", {"key": "new-search"})
    assert "already has a flag" in again.content.decode()


BAD_INPUT = {
    "percentage over 100": ({"percentage": "101"}, "percentage must be a whole number"),
    "percentage not a number": ({"percentage": "ten"}, "percentage &#x27;ten&#x27; is not"),
    "percentage negative": ({"percentage": "-5"}, "is not a whole number"),
    "a name too long": ({"users": "x" * 201}, "users has a name that is empty, longer than 200"),
    "too many groups": ({"groups": ",".join(f"g{n}" for n in range(501))}, "at most 500"),
    "description too long": ({"description": "d" * 501}, "longer than 500"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_names_the_field_and_changes_nothing(client_for, gift_cards, case):
    fields, message = BAD_INPUT[case]
    page = edit(client_for("qa"), **fields)
    assert page.status_code == 422
    assert message in page.content.decode()
    assert all(typed_back(page, value) for value in fields.values())
    assert FeatureFlag.objects.get(pk=gift_cards.pk).rules() == gift_cards.rules()
    assert not AuditEvent.objects.filter(action="flag_changed").exists()


def test_a_bad_key_for_a_new_flag_is_refused(client_for, pipeline):
    page = client_for("lead").post(URL + "new", {"key": "no spaces/", "description": "Typed"})
    assert page.status_code == 422
    assert "may hold only letters" in page.content.decode()
    assert typed_back(page, 'value="no spaces/"') and typed_back(page, 'value="Typed"')
    assert not FeatureFlag.objects.exists()


def test_create_flag_key_prints_the_key_once_and_stores_only_its_hash(pipeline):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_flag_key", "webshop", "live", "--name", "shop", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    key = FlagKey.objects.get()
    assert raw.startswith("slf_") and key.key_hash == hash_token(raw)
    assert raw not in err.getvalue() and key.prefix in err.getvalue()
    assert AuditEvent.objects.filter(action="flag_key_created", environment__name="live").exists()

    call_command("revoke_flag_key", key.prefix, stdout=io.StringIO())
    assert FlagKey.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="flag_key_revoked").exists()
    with pytest.raises(CommandError, match="has no environment 'prod'"):
        call_command("create_flag_key", "webshop", "prod")


def test_the_admin_revokes_selected_flag_keys(users, client, pipeline):
    from pipelines.flag_keys import create_flag_key

    lead = users["lead"]
    lead.is_staff = lead.is_superuser = True
    lead.save()
    client.force_login(lead)
    key, _ = create_flag_key(pipeline.environments.get(name="live"))
    response = client.post(
        "/admin/pipelines/flagkey/", {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    event = AuditEvent.objects.get(action="flag_key_revoked")
    assert event.actor == lead
