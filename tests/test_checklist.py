"""Sign-offs vouch for one candidate: they stop counting when it changes, expires or is revoked."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from pipelines import checklist
from pipelines.checklist import Reason, checklist_state
from pipelines.config import load_pipeline_text
from pipelines.errors import CandidateChanged, Conflict, PermissionDenied
from pipelines.models import AuditEvent
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.promoting import deploy, env, item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.django_db


def reasons(pipeline) -> dict[str, str | None]:
    state = checklist_state(env(pipeline, "live"))
    return {s.item.key: s.reason for s in state.items}


def test_nothing_counts_before_anyone_signs(pipeline):
    uat_runs_a_new_build(pipeline)
    state = checklist_state(env(pipeline, "live"))
    assert not state.complete
    assert {s.reason for s in state.items} == {Reason.NOT_SIGNED}


def test_the_checklist_is_complete_once_every_role_signed(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    state = checklist_state(env(pipeline, "live"))
    assert state.complete
    assert [s.signoff.user.username for s in state.items] == ["sales", "support", "qa"]


@pytest.mark.parametrize("role", ["lead", "developer", "support", "qa", "nobody"])
def test_only_the_items_role_may_sign_it(pipeline, users, role):
    uat_runs_a_new_build(pipeline)
    with pytest.raises(PermissionDenied, match="Only Sales may sign"):
        checklist.sign(item(pipeline, "not-mid-demo"), by=users[role])
    assert reasons(pipeline)["not-mid-demo"] == Reason.NOT_SIGNED


def test_there_is_nothing_to_sign_while_uat_runs_nothing(pipeline, users):
    with pytest.raises(Conflict, match="uat runs no artifact yet"):
        checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])


def test_signing_what_uat_no_longer_runs_is_refused(pipeline, users):
    seen = uat_runs_a_new_build(pipeline).artifact.digest
    newer = uat_runs_a_new_build(pipeline)
    with pytest.raises(CandidateChanged, match=f"uat now runs {newer.artifact.digest}"):
        checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"], digest=seen)


def test_sign_offs_stop_counting_when_uat_gets_a_new_release(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    newer = uat_runs_a_new_build(pipeline)

    state = checklist_state(env(pipeline, "live"))
    assert not state.complete
    assert {s.reason for s in state.items} == {Reason.CANDIDATE_CHANGED}
    assert f"uat now runs {newer.label}" in state.items[0].explanation


def test_sign_offs_stop_counting_when_live_changes_underneath(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    deploy(env(pipeline, "live"), passing_build(pipeline, "hotfix"), by=users["lead"])

    state = checklist_state(env(pipeline, "live"))
    assert {s.reason for s in state.items} == {Reason.TARGET_CHANGED}
    assert "live changed since it was signed (now v1)" in state.items[0].explanation


def test_a_sign_off_expires_after_its_validity(pipeline, users):
    uat_runs_a_new_build(pipeline)
    signed_at = timezone.now()
    with time_machine.travel(signed_at, tick=False):
        sign_everything(pipeline, users)
    with time_machine.travel(signed_at + timedelta(minutes=29), tick=False):
        assert checklist_state(env(pipeline, "live")).complete
    with time_machine.travel(signed_at + timedelta(minutes=30), tick=False):
        found = reasons(pipeline)
    # Only the sales item has valid_for = "30m"; the others last until the candidate changes.
    assert found == {
        "not-mid-demo": Reason.EXPIRED,
        "not-serving-a-customer": None,
        "smoke-tested": None,
    }


def test_signing_again_renews_an_expired_sign_off(pipeline, users):
    uat_runs_a_new_build(pipeline)
    later = timezone.now() + timedelta(hours=1)
    sign_everything(pipeline, users)
    with time_machine.travel(later, tick=False):
        assert reasons(pipeline)["not-mid-demo"] == Reason.EXPIRED
        checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"])
        assert checklist_state(env(pipeline, "live")).complete


def test_a_revoked_sign_off_stops_counting_and_says_who_revoked_it(pipeline, users):
    uat_runs_a_new_build(pipeline)
    signoff = checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    checklist.revoke(signoff, by=users["qa"])
    state = {s.item.key: s for s in checklist_state(env(pipeline, "live")).items}
    assert state["smoke-tested"].reason == Reason.REVOKED
    assert state["smoke-tested"].explanation == "revoked by qa"
    with pytest.raises(Conflict, match="already revoked"):
        checklist.revoke(signoff, by=users["qa"])


@pytest.mark.parametrize("role", ["lead", "developer", "sales", "support", "nobody"])
def test_only_the_items_role_may_revoke_it(pipeline, users, role):
    uat_runs_a_new_build(pipeline)
    signoff = checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    with pytest.raises(PermissionDenied):
        checklist.revoke(signoff, by=users[role])
    signoff.refresh_from_db()
    assert signoff.revoked_at is None


def test_items_taken_out_of_pipeline_toml_no_longer_gate_promotion(pipeline, users):
    uat_runs_a_new_build(pipeline)
    for key, role in (("not-mid-demo", "sales"), ("not-serving-a-customer", "support")):
        checklist.sign(item(pipeline, key), by=users[role])
    qa_item = EXAMPLE_TOML[EXAMPLE_TOML.index('[[environments.checklist]]\nkey = "smoke') :]
    load_pipeline_text(EXAMPLE_TOML.replace(qa_item, ""))

    state = checklist_state(env(pipeline, "live"))
    assert [s.item.key for s in state.items] == ["not-mid-demo", "not-serving-a-customer"]
    assert state.complete


def test_signing_and_revoking_are_audited(pipeline, users):
    uat_runs_a_new_build(pipeline)
    signoff = checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"], note="clicked around")
    checklist.revoke(signoff, by=users["qa"])
    events = list(AuditEvent.objects.filter(action__startswith="signoff").order_by("id"))
    assert [(e.action, e.actor.username) for e in events] == [
        ("signoff", "qa"),
        ("signoff_revoked", "qa"),
    ]
    assert events[0].data["digest"] == signoff.artifact.digest
