"""Nothing stays queued: a deployment no runner took (the process that requested it died
before handing it out, a server restarted, a broker message was lost) is handed to a runner
again — a Celery worker, or the embedded server at start-up — or ended with the reason."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus
from pipelines.models.deployments import ACTIVE_STATUSES
from pipelines.runner.reaper import MAX_HANDOFFS, reap_stale_deployments
from tests.deploying import artifact_build, make_script, wait_for
from tests.live import run_server


def status_of(deployment: Deployment) -> str:
    return Deployment.objects.values_list("status", flat=True).get(pk=deployment.pk)


def orphan(pipeline, *, seconds_ago: float = 0) -> Deployment:
    """A queued deployment nobody was told about (held_deployments: schedule does nothing)."""
    dev = make_script(pipeline.environments.get(name="dev"), "echo ran $SLIPWAY_VERSION")
    deployment = request_deployment(dev, artifact_build(pipeline, b"orphan"), cause="manual")
    Deployment.objects.filter(pk=deployment.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return deployment


@pytest.mark.django_db(transaction=True)
def test_the_embedded_server_runs_at_start_up_what_was_left_queued(
    pipeline, tmp_path, held_deployments, settings
):
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"  # the server's store
    left = orphan(pipeline)  # queued a moment ago: far from stale, yet nobody else will run it

    with run_server(tmp_path / "artifacts", env={"SLIPWAY_STALE_AFTER_SECONDS": "600"}) as server:
        requests.get(f"{server.url}/healthz", timeout=5)  # daphne starts the reaper here
        wait_for(lambda: status_of(left) not in ACTIVE_STATUSES, what="the server to run it")
        left.refresh_from_db()
        assert left.status == DeploymentStatus.SUCCEEDED, f"{left.error}\n{server.log()}"

    assert left.log_lines.filter(text="ran v1").exists()


@pytest.mark.redis
def test_a_celery_worker_gets_again_a_deployment_whose_message_never_reached_it(
    celery_workers, settings, pipeline, held_deployments
):
    left = orphan(pipeline, seconds_ago=5)  # older than the workers' stale limit (2 s)
    settings.REDIS_URL = celery_workers.start().redis_url

    wait_for(lambda: status_of(left) == DeploymentStatus.SUCCEEDED, 30, "a worker to run it")

    left.refresh_from_db()
    assert left.handoffs == 1
    assert left.log_lines.filter(text="ran v1").exists()


def test_a_queued_deployment_no_runner_takes_is_ended_with_the_reason(
    pipeline, settings, held_deployments
):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    left = orphan(pipeline)
    now = timezone.now()

    for round in range(1, MAX_HANDOFFS + 1):
        now += timedelta(seconds=61)
        assert reap_stale_deployments(now) == []
        left.refresh_from_db()
        assert (left.status, left.handoffs) == (DeploymentStatus.QUEUED, round)
    assert reap_stale_deployments(now + timedelta(seconds=61)) == [left.pk]

    left.refresh_from_db()
    assert left.status == DeploymentStatus.INTERRUPTED
    assert left.error == (
        f"Interrupted while queued: no runner took it, though handed out {MAX_HANDOFFS + 1} times."
    )
    assert left.log_lines.get().text == left.error


def test_a_recently_queued_deployment_is_left_to_its_runner(pipeline, settings, held_deployments):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    left = orphan(pipeline)

    assert reap_stale_deployments(timezone.now() + timedelta(seconds=30)) == []

    left.refresh_from_db()
    assert (left.status, left.handoffs) == (DeploymentStatus.QUEUED, 0)


def test_with_workers_busy_a_queued_deployment_waits_its_turn(pipeline, settings, held_deployments):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    left = orphan(pipeline, seconds_ago=600)
    uat = make_script(pipeline.environments.get(name="uat"), "sleep 1")
    busy = request_deployment(uat, artifact_build(pipeline, b"busy"), cause="manual")
    Deployment.objects.filter(pk=busy.pk).update(
        status=DeploymentStatus.RUNNING, heartbeat_at=timezone.now()
    )
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # production mode; nothing is sent there

    assert reap_stale_deployments() == []

    left.refresh_from_db()
    assert (left.status, left.handoffs) == (DeploymentStatus.QUEUED, 0)
