"""`python manage.py prune` keeps what is deployed (and what may be deployed again soon)
and removes the rest: unused artifacts, old release directories, leftovers of a kill,
old log lines."""

import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from pipelines.artifacts import artifact_path, store_root
from pipelines.deploys import request_deployment
from pipelines.logs import append_log
from pipelines.models import Artifact, Build, Deployment, DeploymentStatus, LogLine
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build, free_port, make_local, sample_build, stop_app

LONG_AGO = timezone.now() - timedelta(days=400)


@pytest.fixture(autouse=True)
def own_store(settings, tmp_path):
    """A store of this test's own: prune removes stored files no row of this database names."""
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"


def prune() -> str:
    out = StringIO()
    call_command("prune", stdout=out)
    return out.getvalue()


def make_old(build: Build) -> Build:
    Build.objects.filter(pk=build.pk).update(created_at=LONG_AGO)
    return build


def test_it_removes_artifacts_nothing_needs_and_keeps_the_deployed_and_the_recent(
    pipeline, settings
):
    settings.SLIPWAY_KEEP_BUILD_DAYS = 30
    dev = pipeline.environments.get(name="dev")
    deployed = make_old(artifact_build(pipeline, b"deployed long ago"))
    run_deployment(request_deployment(dev, deployed, cause="manual").pk)
    recent = artifact_build(pipeline, b"built today, not deployed")
    forgotten = make_old(artifact_build(pipeline, b"built long ago, never deployed"))
    forgotten_digest = forgotten.artifact.digest

    output = prune()

    assert f"artifact {forgotten_digest}" in output
    assert not Artifact.objects.filter(digest=forgotten_digest).exists()
    assert not artifact_path(forgotten_digest).exists()
    forgotten.refresh_from_db()
    assert forgotten.artifact is None
    for kept in (deployed, recent):
        assert artifact_path(kept.artifact.digest).is_file()
        assert Artifact.objects.filter(pk=kept.artifact_id).exists()


def test_it_removes_a_partial_upload_left_by_a_kill_but_not_one_being_written(pipeline):
    tmp = store_root() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    left = tmp / "killed.partial"
    left.write_bytes(b"half an artifact")
    os.utime(left, (LONG_AGO.timestamp(), LONG_AGO.timestamp()))
    writing = tmp / "uploading.partial"
    writing.write_bytes(b"being written right now")
    stray = artifact_path("sha256:" + "ab" * 32)  # moved into place, its row never written
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"no row")
    os.utime(stray, (LONG_AGO.timestamp(), LONG_AGO.timestamp()))

    prune()

    assert not left.exists()
    assert writing.exists()
    assert not stray.exists()


@pytest.fixture
def dev_target(pipeline, tmp_path, fast_runner):
    target = tmp_path / "target"
    dev = make_local(pipeline.environments.get(name="dev"), target, free_port())
    yield dev, target
    stop_app(target)


def test_it_keeps_the_newest_release_directories_and_never_current_or_previous(
    pipeline, dev_target, settings
):
    dev, target = dev_target
    for n in range(1, 5):
        build = sample_build(pipeline, f"Release {n}")
        deployment = run_deployment(request_deployment(dev, build, cause="manual").pk)
        assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    releases = target / "releases"
    (releases / "v9").mkdir()  # made by a later, failed deployment: newest, not deployed
    (releases / ".v10-abcd1234").mkdir()  # an unpack killed half-way
    (releases / "v2.old-0badc0de").mkdir()  # set aside by an unpack into an existing name
    settings.SLIPWAY_KEEP_RELEASES = 1

    prune()

    # v9 is the newest; v4 is current (and `current` points to it); v3 was current before.
    assert sorted(p.name for p in releases.iterdir()) == ["v3", "v4", "v9"]
    assert os.readlink(target / "current") == "releases/v4"


def test_it_leaves_a_target_alone_while_a_deployment_of_it_is_active(
    pipeline, dev_target, settings, held_deployments
):
    dev, target = dev_target
    releases = target / "releases"
    releases.mkdir(parents=True)
    for name in ("v1", "v2", "v3", ".v4-being-unpacked"):
        (releases / name).mkdir()
    request_deployment(dev, sample_build(pipeline, "Deploying"), cause="manual")
    settings.SLIPWAY_KEEP_RELEASES = 1

    prune()

    assert sorted(p.name for p in releases.iterdir()) == [".v4-being-unpacked", "v1", "v2", "v3"]


def test_it_removes_the_log_lines_of_deployments_ended_long_ago(pipeline, settings):
    settings.SLIPWAY_KEEP_LOG_DAYS = 90
    dev = pipeline.environments.get(name="dev")
    old = run_deployment(
        request_deployment(dev, artifact_build(pipeline, b"old"), cause="manual").pk
    )
    Deployment.objects.filter(pk=old.pk).update(finished_at=LONG_AGO)
    new = run_deployment(
        request_deployment(dev, artifact_build(pipeline, b"new"), cause="manual").pk
    )
    append_log(new, [("stdout", "still wanted")])

    output = prune()

    assert not LogLine.objects.filter(deployment=old).exists()
    assert LogLine.objects.filter(deployment=new, text="still wanted").exists()
    assert "log lines removed" in output
