"""Deployments on real Celery workers (Redis broker): they run there, and a worker killed
with SIGKILL mid-deploy leaves the deployment interrupted and the environment as it was."""

import contextlib
import os
import signal

import pytest

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, LogLine
from tests.deploying import artifact_build, make_script, wait_for

pytestmark = pytest.mark.redis


def status_of(deployment: Deployment) -> str:
    return Deployment.objects.values_list("status", flat=True).get(pk=deployment.pk)


def logged(deployment: Deployment, text: str) -> bool:
    return LogLine.objects.filter(deployment=deployment, text=text).exists()


def test_a_deployment_runs_on_a_celery_worker(celery_workers, settings, pipeline):
    worker = celery_workers.start()
    settings.REDIS_URL = worker.redis_url  # schedule() sends to Celery from now on
    dev = make_script(pipeline.environments.get(name="dev"), "echo on a worker $SLIPWAY_VERSION")

    deployment = request_deployment(dev, artifact_build(pipeline, b"v1"), cause="manual")

    wait_for(lambda: status_of(deployment) == DeploymentStatus.SUCCEEDED, 30, "success")
    assert logged(deployment, "on a worker v1")
    dev.refresh_from_db()
    assert dev.current_release == deployment.release


def test_a_killed_worker_leaves_the_deployment_interrupted(
    celery_workers, settings, pipeline, tmp_path
):
    worker = celery_workers.start()
    settings.REDIS_URL = worker.redis_url
    dev = make_script(pipeline.environments.get(name="dev"), "echo good")
    good = request_deployment(dev, artifact_build(pipeline, b"good"), cause="manual")
    wait_for(lambda: status_of(good) == DeploymentStatus.SUCCEEDED, 30, "the first release")
    pidfile = tmp_path / "script.pid"
    make_script(dev, f"echo $$ > {pidfile}; echo started; sleep 60")
    slow = request_deployment(dev, artifact_build(pipeline, b"slow"), cause="manual")
    wait_for(lambda: logged(slow, "started"), 30, "the slow script to start")

    try:
        worker.kill()
        celery_workers.start()  # its beat runs the reaper every second

        wait_for(lambda: status_of(slow) == DeploymentStatus.INTERRUPTED, 30, "the reaper")
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)  # the orphaned script

    slow.refresh_from_db()
    assert "dev keeps serving v1" in slow.error
    assert slow.steps.get(name="release").status == "failed"
    dev.refresh_from_db()
    assert dev.current_release == good.release
