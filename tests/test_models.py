"""The database itself refuses states the domain must never reach."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from pipelines.models import (
    Artifact,
    AuditEvent,
    Build,
    Deployment,
    Environment,
    Lock,
    LogLine,
    Release,
)
from pipelines.models.audit import AppendOnlyError

pytestmark = pytest.mark.django_db


def refused(**kwargs):
    return pytest.raises(IntegrityError, **kwargs)


def make_release(env: Environment, build: Build, version: int) -> Release:
    return Release.objects.create(environment=env, version=version, build=build, cause="manual")


@pytest.fixture
def build(pipeline):
    return Build.objects.create(pipeline=pipeline, sha="a" * 40, status="passed")


def test_it_keeps_one_build_per_commit(pipeline, build):
    with refused(), transaction.atomic():
        Build.objects.create(pipeline=pipeline, sha=build.sha)


def test_the_same_commit_may_build_in_two_pipelines(pipeline, build, db):
    from pipelines.models import Pipeline

    other = Pipeline.objects.create(name="other")
    Build.objects.create(pipeline=other, sha=build.sha)


def test_coverage_must_be_a_percentage(pipeline):
    with refused(), transaction.atomic():
        Build.objects.create(pipeline=pipeline, sha="b" * 40, coverage=101)


def test_build_status_must_be_known(pipeline):
    with refused(), transaction.atomic():
        Build.objects.create(pipeline=pipeline, sha="c" * 40, status="great")


def test_artifacts_are_stored_once_per_digest(db):
    digest = "sha256:" + "0" * 64
    Artifact.objects.create(digest=digest, size=1)
    with refused(), transaction.atomic():
        Artifact.objects.create(digest=digest, size=1)


def test_an_artifact_digest_must_be_sha256(db):
    with refused(), transaction.atomic():
        Artifact.objects.create(digest="md5:abc", size=1)


def test_release_versions_are_unique_per_environment(pipeline, build):
    uat, live = pipeline.environments.get(name="uat"), pipeline.environments.get(name="live")
    make_release(uat, build, 1)
    make_release(live, build, 1)  # another environment has its own v1
    with refused(), transaction.atomic():
        make_release(uat, build, 1)


def test_release_versions_start_at_one(pipeline, build):
    with refused(), transaction.atomic():
        make_release(pipeline.environments.get(name="uat"), build, 0)


def test_at_most_one_deployment_runs_per_environment(pipeline, build):
    uat = pipeline.environments.get(name="uat")
    first = make_release(uat, build, 1)
    second = make_release(uat, build, 2)
    Deployment.objects.create(environment=uat, release=first, status="running")
    with refused(), transaction.atomic():
        Deployment.objects.create(environment=uat, release=second, status="running")
    # finished deployments do not count
    Deployment.objects.filter(release=first).update(status="succeeded")
    Deployment.objects.create(environment=uat, release=second, status="running")


def test_log_seq_is_unique_per_deployment(pipeline, build):
    uat = pipeline.environments.get(name="uat")
    deployment = Deployment.objects.create(environment=uat, release=make_release(uat, build, 1))
    LogLine.objects.create(deployment=deployment, seq=1, time=timezone.now(), text="one")
    with refused(), transaction.atomic():
        LogLine.objects.create(deployment=deployment, seq=1, time=timezone.now(), text="again")
    with refused(), transaction.atomic():
        LogLine.objects.create(deployment=deployment, seq=0, time=timezone.now(), text="zero")


def test_append_log_hands_out_dense_seqs(pipeline, build):
    from pipelines.logs import append_log

    uat = pipeline.environments.get(name="uat")
    deployment = Deployment.objects.create(environment=uat, release=make_release(uat, build, 1))
    append_log(deployment, [("stdout", "a"), ("stdout", "b")])
    append_log(deployment, [("stderr", "c")])
    assert list(deployment.log_lines.values_list("seq", "text")) == [(1, "a"), (2, "b"), (3, "c")]


def test_an_environment_has_one_lock(pipeline, users):
    uat = pipeline.environments.get(name="uat")
    Lock.objects.create(pipeline=pipeline, environment=uat, owner=users["lead"], reason="demo")
    with refused(), transaction.atomic():
        Lock.objects.create(pipeline=pipeline, environment=uat, owner=users["lead"], reason="x")


def test_audit_events_cannot_be_changed_or_deleted(pipeline):
    event = AuditEvent.objects.create(pipeline=pipeline, action="test", message="hello")
    event.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(message="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).message == "hello"
