"""Locks and freezes: a lead stops deploys and promotions to an environment (or all)."""

import pytest
from django.test import TestCase

from pipelines import locks
from pipelines.deploys import request_deployment
from pipelines.errors import Conflict, EnvironmentLocked, InvalidInput, PermissionDenied
from pipelines.models import AuditEvent, Deployment, Lock
from tests.factories import passing_build
from tests.promoting import env

pytestmark = pytest.mark.django_db


def test_a_lead_locks_an_environment_with_a_reason(pipeline, users):
    lock = locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason="Demo at 3pm")
    assert (lock.owner, lock.reason, lock.environment.name) == (
        users["lead"],
        "Demo at 3pm",
        "live",
    )
    event = AuditEvent.objects.get(action="lock")
    assert event.actor == users["lead"] and "Demo at 3pm" in event.message


@pytest.mark.parametrize("role", ["developer", "sales", "support", "qa", "nobody"])
def test_only_a_lead_may_lock_or_unlock(pipeline, users, role):
    live = env(pipeline, "live")
    with pytest.raises(PermissionDenied):
        locks.lock(pipeline, live, by=users[role], reason="mine")
    locks.lock(pipeline, live, by=users["lead"], reason="lead's")
    with pytest.raises(PermissionDenied):
        locks.unlock(pipeline, live, by=users[role])
    assert Lock.objects.get().reason == "lead's"


def test_a_refused_lock_or_freeze_says_so_as_every_lead_only_act_does(pipeline, users):
    for environment, scope in ((env(pipeline, "live"), "live"), (None, "all of webshop")):
        with pytest.raises(PermissionDenied) as refused:
            locks.lock(pipeline, environment, by=users["qa"], reason="mine")
        assert refused.value.message == f"qa may not lock {scope}: that takes the lead role."
        locks.lock(pipeline, environment, by=users["lead"], reason="lead's")
        with pytest.raises(PermissionDenied) as refused:
            locks.unlock(pipeline, environment, by=users["qa"])
        assert refused.value.message == f"qa may not unlock {scope}: that takes the lead role."


def test_a_lock_needs_a_reason(pipeline, users):
    with pytest.raises(InvalidInput, match="reason is required"):
        locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason="  ")


def test_locking_twice_says_who_holds_the_lock(pipeline, users):
    live = env(pipeline, "live")
    locks.lock(pipeline, live, by=users["lead"], reason="first")
    with pytest.raises(Conflict, match="already locked by lead: first"):
        locks.lock(pipeline, live, by=users["lead"], reason="second")


def test_deploys_to_a_locked_environment_are_refused_until_unlocked(pipeline, users):
    dev = env(pipeline, "dev")
    build = passing_build(pipeline, "feature/x")
    locks.lock(pipeline, dev, by=users["lead"], reason="rebuilding the database")
    with pytest.raises(EnvironmentLocked, match="rebuilding the database") as refused:
        request_deployment(dev, build, cause="manual", by=users["lead"])
    assert refused.value.details["locked_by"] == "lead"

    locks.unlock(pipeline, dev, by=users["lead"])
    assert request_deployment(dev, build, cause="manual", by=users["lead"]).pk
    assert AuditEvent.objects.filter(action="unlock", actor=users["lead"]).exists()


def test_a_pipeline_freeze_locks_every_environment(pipeline, users):
    locks.lock(pipeline, None, by=users["lead"], reason="code freeze")
    build = passing_build(pipeline, "feature/x")
    for name in ("dev", "uat", "live"):
        with pytest.raises(EnvironmentLocked, match="whole pipeline"):
            request_deployment(env(pipeline, name), build, cause="manual", by=users["lead"])
    locks.unlock(pipeline, None, by=users["lead"])
    assert not Lock.objects.exists()


def test_auto_deploys_to_a_locked_environment_are_skipped_and_noted(pipeline, users):
    locks.lock(pipeline, env(pipeline, "uat"), by=users["lead"], reason="QA session")
    with TestCase.captureOnCommitCallbacks(execute=True):
        build = passing_build(pipeline, "master")
    assert not Deployment.objects.filter(environment__name="uat").exists()
    skipped = AuditEvent.objects.get(action="auto_deploy_skipped")
    assert build.short_sha in skipped.message and "QA session" in skipped.message


def test_unlocking_what_is_not_locked_says_so(pipeline, users):
    with pytest.raises(Conflict, match="live is not locked"):
        locks.unlock(pipeline, env(pipeline, "live"), by=users["lead"])
