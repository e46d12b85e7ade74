"""Without REDIS_URL the server runs deployments itself, on its own event loop's threads."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, LogLine
from tests.deploying import artifact_build, make_script, wait_for
from tests.live import bearer, run_server


def test_the_server_runs_a_deployment_it_accepted(slipway_server, pipeline, token_for):
    dev = pipeline.environments.get(name="dev")
    make_script(dev, "sleep 1; echo deployed by $SLIPWAY_ENVIRONMENT")
    build = artifact_build(pipeline, b"embedded")

    response = requests.post(
        f"{slipway_server.url}/api/v1/pipelines/webshop/environments/dev/deployments",
        json={"sha": build.sha},
        headers=bearer(token_for("developer")),
        timeout=10,
    )

    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "running")  # not run in the request
    deployment = Deployment.objects.get(pk=response.json()["id"])
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED,
        what=f"the server to run the deployment:\n{slipway_server.log()}",
    )
    assert LogLine.objects.filter(deployment=deployment, text="deployed by dev").exists()


@pytest.mark.django_db(transaction=True)
def test_the_server_reaps_deployments_whose_runner_died(pipeline, tmp_path, held_deployments):
    dev = pipeline.environments.get(name="dev")
    dead = request_deployment(dev, artifact_build(pipeline, b"dead"), cause="manual")
    long_ago = timezone.now() - timedelta(minutes=5)
    Deployment.objects.filter(pk=dead.pk).update(
        status=DeploymentStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    timings = {"SLIPWAY_REAPER_INTERVAL_SECONDS": "0.2", "SLIPWAY_STALE_AFTER_SECONDS": "60"}

    with run_server(tmp_path / "artifacts", env=timings) as server:
        requests.get(f"{server.url}/healthz", timeout=5)  # its first request starts the timer
        wait_for(
            lambda: Deployment.objects.get(pk=dead.pk).status == DeploymentStatus.INTERRUPTED,
            what=f"the embedded reaper:\n{server.log()}",
        )
