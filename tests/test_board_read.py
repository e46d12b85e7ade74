"""The board's read model reads in plain SQL what the ORM reads elsewhere (pipelines/board.py,
docs/architecture.md "The board's read model"): each read here is checked against the ORM's
own reading of the same rows, and each card against what a person expects to see."""

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from pipelines import checklist
from pipelines.board import _environments_of, read_board
from pipelines.deploys import request_deployment
from pipelines.models import Deployment, Environment, Lock, Probe, Release, Signoff
from tests.factories import passing_build
from tests.promoting import deploy, env, item, uat_runs_a_new_build

pytestmark = pytest.mark.django_db


def card(pipeline, name: str):
    return next(c for c in read_board(pipeline).cards if c.name == name)


def fields(instance) -> dict:
    """Every column of `instance`, as loaded (None stays None)."""
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_environments_are_read_as_the_orm_reads_them(pipeline, users):
    uat = env(pipeline, "uat")
    deploy(uat, passing_build(pipeline, "master", coverage="83.25"), by=users["lead"])
    Environment.objects.filter(pk=uat.pk).update(
        version_url="https://uat.example.com/version", driver_settings={"path": "/srv/uat"}
    )
    Probe.objects.create(
        environment=uat,
        status="ok",
        serving_sha="a" * 40,
        checked_at=timezone.now(),
        since=timezone.now(),
    )
    orm = list(
        pipeline.environments.select_related(
            "current_release__build",
            "current_release__artifact",
            "current_release__created_by",
            "probe",
        ).order_by("position", "name")
    )
    read = _environments_of(pipeline)

    assert [e.name for e in read] == [e.name for e in orm] == ["dev", "uat", "live"]
    for mine, theirs in zip(read, orm, strict=True):
        assert fields(mine) == fields(theirs)
        release, expected = mine.current_release, theirs.current_release
        assert fields(release) == fields(expected)
        if expected:
            assert fields(release.build) == fields(expected.build)
            assert fields(release.artifact) == fields(expected.artifact)
            assert fields(release.created_by) == fields(expected.created_by)
        assert fields(getattr(mine, "probe", None)) == fields(getattr(theirs, "probe", None))
    assert read[1].driver_settings == {"path": "/srv/uat"}  # JSON decoded, as the ORM does
    assert read[1].current_release.created_by.get_username() == "lead"


def test_each_checklist_reads_as_the_promotion_checks_it(pipeline, users):
    """Signed, signed again after a revoke (the newest counts), signed twice, expired, and
    an item taken out of pipeline.toml: the board says what the promotion would decide."""
    uat_runs_a_new_build(pipeline)
    qa, sales, support = (
        item(pipeline, key) for key in ("smoke-tested", "not-mid-demo", "not-serving-a-customer")
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = checklist.sign(qa, by=users["qa"])
        checklist.revoke(first, by=users["qa"])
        checklist.sign(qa, by=users["qa"], note="second look")
        checklist.sign(support, by=users["support"])
        checklist.sign(support, by=users["support"], note="again")
        expired = checklist.sign(sales, by=users["sales"])
    Signoff.objects.filter(pk=expired.pk).update(signed_at=timezone.now() - timedelta(hours=1))

    def states(state):
        return [
            (
                s.item.key,
                s.reason,
                s.signoff and s.signoff.pk,
                s.explanation,
                s.signoff and s.signoff.user.get_username(),
            )
            for s in state.items
        ]

    live = env(pipeline, "live")
    expected = states(checklist.checklist_state(live))
    assert states(card(pipeline, "live").checklist_state) == expected
    assert sorted(str(reason) for _, reason, *_ in expected) == ["None", "None", "expired"]
    assert ("smoke-tested", None) in [(key, reason) for key, reason, *_ in expected]

    sales.retired_at = timezone.now()
    sales.save()
    shown = card(pipeline, "live").checklist_state
    assert "not-mid-demo" not in [s.item.key for s in shown.items]
    assert states(shown) == states(checklist.checklist_state(live))
    assert shown.complete


def test_a_card_shows_the_oldest_active_deployment_and_the_newest_that_ended(pipeline):
    dev = env(pipeline, "dev")  # builds of feature/x: nothing deploys them on its own
    deploy(dev, passing_build(pipeline, "feature/x"))
    failed = request_deployment(dev, passing_build(pipeline, "feature/x"), cause="manual")
    Deployment.objects.filter(pk=failed.pk).update(status="failed", finished_at=timezone.now())
    assert card(pipeline, "dev").state == "failed"
    assert card(pipeline, "dev").last_deployment.pk == failed.pk

    running = request_deployment(dev, passing_build(pipeline, "feature/x"), cause="manual")
    Deployment.objects.filter(pk=running.pk).update(status="running")
    queued = Deployment.objects.create(
        environment=dev,
        release=Release.objects.create(
            environment=dev,
            version=running.release.version + 1,
            build=passing_build(pipeline, "feature/x"),
            cause="manual",
        ),
        status="queued",
    )
    shown = card(pipeline, "dev")
    assert shown.state == "deploying"
    assert shown.active_deployment.pk == running.pk != queued.pk
    assert shown.active_deployment.release.build.sha == running.release.build.sha
    assert shown.last_deployment.pk == failed.pk  # what failed last is still known


def test_the_reaper_s_note_shows_only_while_its_deployment_is_the_newest(pipeline):
    dev = env(pipeline, "dev")
    deploy(dev, passing_build(pipeline, "feature/x"))
    reaped = Deployment.objects.filter(environment=dev).latest("created_at", "id")
    Deployment.objects.filter(pk=reaped.pk).update(settled="Interrupted; dev keeps serving v1.")
    assert card(pipeline, "dev").settled.pk == reaped.pk

    deploy(dev, passing_build(pipeline, "feature/x"))
    assert card(pipeline, "dev").settled is None


def test_the_freeze_banner_and_the_cards_come_from_one_read(pipeline, users):
    Lock.objects.create(pipeline=pipeline, owner=users["lead"], reason="Black Friday")
    board = read_board(pipeline)
    assert board.freeze.reason == "Black Friday"
    assert {c.lock.pk for c in board.cards} == {board.freeze.pk}
    assert {c.state for c in board.cards} == {"frozen"}
