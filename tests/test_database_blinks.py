"""PostgreSQL goes away under a running deployment (a restart, a failover): the runner — a
real Celery worker reaching the database through a proxy the test can cut — rides out a
short blink without losing a log line, and when the database stays away the deployment
fails through recover(): the environment keeps its release and the page says why."""

import os
import time

import pytest
import requests

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus
from pipelines.models.deployments import ACTIVE_STATUSES
from tests.blinking import DatabaseProxy
from tests.deploying import free_port, make_local, make_script, sample_build, stop_app, wait_for
from tests.services import need_postgres

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def proxy():
    need_postgres()
    with DatabaseProxy() as proxy:
        yield proxy


def texts(deployment: Deployment) -> list[str]:
    return list(deployment.log_lines.order_by("seq").values_list("text", flat=True))


def ended(deployment: Deployment, timeout: float = 60) -> Deployment:
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).status not in ACTIVE_STATUSES,
        timeout,
        f"deployment #{deployment.pk} to end",
    )
    return Deployment.objects.get(pk=deployment.pk)


def test_a_database_restart_mid_deploy_is_ridden_out_and_no_line_is_lost(
    celery_workers, settings, pipeline, proxy
):
    worker = celery_workers.start(DATABASE_URL=proxy.url, SLIPWAY_STALE_AFTER_SECONDS="20")
    settings.REDIS_URL = worker.redis_url
    dev = make_script(
        pipeline.environments.get(name="dev"),
        "for i in $(seq 1 30); do echo line $i; sleep 0.1; done",
    )
    deployment = request_deployment(dev, sample_build(pipeline, "Blink"), cause="manual")
    wait_for(lambda: "line 5" in texts(deployment), 30, "the first lines")

    proxy.down()
    time.sleep(1.5)
    proxy.up()

    deployment = ended(deployment)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert [t for t in texts(deployment) if t.startswith("line ")] == [
        f"line {i}" for i in range(1, 31)
    ]
    assert "the database did not answer" in worker.log()


def test_a_database_that_stays_away_fails_the_deployment_through_recover(
    celery_workers, settings, pipeline, proxy, tmp_path, client_for
):
    target = tmp_path / "target"
    port = free_port()
    dev = make_local(pipeline.environments.get(name="dev"), target, port)
    worker = celery_workers.start(
        DATABASE_URL=proxy.url,
        SLIPWAY_DB_RETRY_SECONDS="1",
        SLIPWAY_STALE_AFTER_SECONDS="20",
    )
    settings.REDIS_URL = worker.redis_url
    try:
        first = sample_build(pipeline, "First")
        assert ended(request_deployment(dev, first, cause="manual")).status == "succeeded"
        dev.driver_settings["release_command"] = (
            "for i in $(seq 1 100); do echo migrating $i; sleep 0.1; done"
        )
        dev.save(update_fields=["driver_settings"])
        second = request_deployment(dev, sample_build(pipeline, "Second"), cause="manual")
        wait_for(lambda: "migrating 3" in texts(second), 30, "the release command")

        proxy.down()
        time.sleep(4)  # longer than SLIPWAY_DB_RETRY_SECONDS
        proxy.up()

        second = ended(second)
        assert second.status == DeploymentStatus.FAILED
        assert second.error.startswith(
            "release command failed: The database did not answer for 1 s while storing the log"
        ), second.error
        dev.refresh_from_db()
        assert dev.current_release.build == first
        assert os.readlink(target / "current") == "releases/v1"
        with requests.Session() as session:
            session.trust_env = False
            served = session.get(dev.driver_settings["health_url"], timeout=5).json()["sha"]
        assert served == first.sha
        page = client_for("developer").get(f"/deployments/{second.pk}/").content.decode()
        assert "The database did not answer for 1 s" in page
        assert "The previous release was never switched away from" in "\n".join(texts(second))
    finally:
        stop_app(target)
