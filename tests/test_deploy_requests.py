"""Requesting deployments: one at a time per environment, manual deploys, rollbacks,
auto-deploys once, and the reaper."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from pipelines.deploys import deploy_build, request_deployment, rollback
from pipelines.errors import (
    BrokerUnavailable,
    DeploymentRunning,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from pipelines.models import Deployment, DeploymentStatus, Release
from pipelines.runner.reaper import reap_stale_deployments
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build
from tests.factories import passing_build


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_make_one_deployment(pipeline, held_deployments):
    dev = pipeline.environments.get(name="dev")
    build = artifact_build(pipeline, b"concurrent")
    barrier = threading.Barrier(2)
    outcomes = []

    def request() -> None:
        barrier.wait()
        try:
            outcomes.append(request_deployment(dev, build, cause="manual"))
        except DeploymentRunning as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    deployment = Deployment.objects.get()
    refused = next(o for o in outcomes if isinstance(o, DeploymentRunning))
    assert refused.message == (
        f"Deployment #{deployment.pk} of dev is still queued; wait for it to finish or cancel it."
    )
    assert refused.details == {"deployment": deployment.pk}
    assert Release.objects.count() == 1


def test_a_deployment_runs_once_however_often_it_is_handed_out(pipeline):
    deployment = request_deployment(
        pipeline.environments.get(name="dev"), artifact_build(pipeline, b"x"), cause="manual"
    )
    assert run_deployment(deployment.pk).status == DeploymentStatus.SUCCEEDED
    assert run_deployment(deployment.pk) is None


def test_a_passing_build_auto_deploys_once_however_often_ci_reposts(pipeline):
    build = passing_build(pipeline, "master")
    passing_build(pipeline, "master", sha=build.sha)

    uat = pipeline.environments.get(name="uat")
    assert uat.releases.filter(build=build).count() == 1
    assert uat.current_release.build == build
    assert not pipeline.environments.get(name="dev").releases.exists()


def test_a_developer_deploys_any_build_to_an_environment_without_checklist(pipeline, users):
    build = artifact_build(pipeline, b"manual")

    deployment = deploy_build(pipeline.environments.get(name="dev"), build, by=users["developer"])

    assert deployment.release.cause == "manual"
    assert deployment.release.description == "manual deploy by developer"
    assert deployment.requested_by == users["developer"]


def test_only_a_lead_deploys_to_an_environment_with_a_checklist(pipeline, users):
    live = pipeline.environments.get(name="live")
    build = artifact_build(pipeline, b"manual")

    with pytest.raises(PermissionDenied, match="it has a checklist"):
        deploy_build(live, build, by=users["developer"])
    with pytest.raises(PermissionDenied):
        deploy_build(pipeline.environments.get(name="dev"), build, by=users["qa"])
    assert deploy_build(live, build, by=users["lead"], reason="hotfix").release.version == 1


def test_a_build_without_artifact_is_refused(pipeline, users):
    from pipelines.builds import record_build

    build, _ = record_build(pipeline, sha="abcdef1234567", status="passed", branch="topic")
    with pytest.raises(InvalidInput, match="has no artifact"):
        deploy_build(pipeline.environments.get(name="dev"), build, by=users["lead"])


def test_a_rollback_is_a_new_release_of_the_old_artifact(pipeline, users):
    dev = pipeline.environments.get(name="dev")
    first, second = artifact_build(pipeline, b"one"), artifact_build(pipeline, b"two")
    for build in (first, second):
        run_deployment(deploy_build(dev, build, by=users["lead"]).pk)

    deployment = rollback(dev, "v1", by=users["lead"])
    run_deployment(deployment.pk)

    dev.refresh_from_db()
    assert dev.current_release.version == 3
    assert dev.current_release.description == "rollback to v1"
    assert dev.current_release.cause == "rollback"
    assert dev.current_release.artifact == first.artifact


def test_only_a_lead_rolls_back_and_only_to_a_deployed_earlier_release(pipeline, users):
    dev = pipeline.environments.get(name="dev")
    for data in (b"one", b"two"):
        run_deployment(deploy_build(dev, artifact_build(pipeline, data), by=users["lead"]).pk)
    dev.refresh_from_db()

    with pytest.raises(PermissionDenied):
        rollback(dev, "v1", by=users["developer"])
    with pytest.raises(InvalidInput, match="what dev serves now"):
        rollback(dev, "v2", by=users["lead"])
    with pytest.raises(NotFound):
        rollback(dev, "v9", by=users["lead"])
    with pytest.raises(InvalidInput, match="not a release version"):
        rollback(dev, "latest", by=users["lead"])


def test_the_reaper_interrupts_a_deployment_whose_runner_went_silent(pipeline, settings):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    dev = pipeline.environments.get(name="dev")
    run_deployment(request_deployment(dev, artifact_build(pipeline, b"a"), cause="manual").pk)
    stuck = request_deployment(dev, artifact_build(pipeline, b"b"), cause="manual")
    long_ago = timezone.now() - timedelta(seconds=61)
    Deployment.objects.filter(pk=stuck.pk).update(
        status=DeploymentStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )

    assert reap_stale_deployments() == [stuck.pk]

    stuck.refresh_from_db()
    assert stuck.status == DeploymentStatus.INTERRUPTED
    assert stuck.error.endswith("dev keeps serving v1.")
    assert stuck.settled == "Interrupted; dev keeps serving v1."
    log = list(stuck.log_lines.values_list("text", flat=True))
    assert "Settled: interrupted; dev keeps serving v1." in log
    assert log[-1] == "Deployment interrupted: dev keeps serving v1."
    dev.refresh_from_db()
    assert dev.current_release.version == 1


def test_the_reaper_leaves_a_beating_deployment_alone(pipeline, settings):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    dev = pipeline.environments.get(name="dev")
    running = request_deployment(dev, artifact_build(pipeline, b"a"), cause="manual")
    Deployment.objects.filter(pk=running.pk).update(
        status=DeploymentStatus.RUNNING, heartbeat_at=timezone.now()
    )

    assert reap_stale_deployments() == []


def test_a_stale_deployment_does_not_block_the_next_request(pipeline, settings):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    dev = pipeline.environments.get(name="dev")
    stuck = request_deployment(dev, artifact_build(pipeline, b"a"), cause="manual")
    long_ago = timezone.now() - timedelta(minutes=5)
    Deployment.objects.filter(pk=stuck.pk).update(
        status=DeploymentStatus.RUNNING, heartbeat_at=long_ago
    )

    assert request_deployment(dev, artifact_build(pipeline, b"b"), cause="manual")
    assert Deployment.objects.get(pk=stuck.pk).status == DeploymentStatus.INTERRUPTED


def test_a_deployment_is_refused_while_the_broker_does_not_answer_and_nothing_is_queued(
    pipeline, settings
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    dev = pipeline.environments.get(name="dev")
    build = artifact_build(pipeline, b"a")

    with pytest.raises(BrokerUnavailable, match="broker .Redis. does not answer"):
        request_deployment(dev, build, cause="manual")

    assert not Deployment.objects.exists()
    assert not dev.releases.exists()


def test_a_deployment_the_broker_lost_after_the_request_ends_interrupted_with_the_reason(
    pipeline, settings
):
    dev = pipeline.environments.get(name="dev")
    with TestCase.captureOnCommitCallbacks(execute=False) as scheduled:
        deployment = request_deployment(dev, artifact_build(pipeline, b"a"), cause="manual")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the broker went away meanwhile

    scheduled[0]()

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.INTERRUPTED
    assert deployment.error.startswith("Interrupted while queued: could not hand it to the workers")
    assert deployment.log_lines.get().text == deployment.error
