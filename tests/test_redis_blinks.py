"""Redis goes away (a restart): pages and the API keep working on the database, a promotion
in production mode is refused with 503 broker_unavailable and queues nothing, and a
deployment running on a Celery worker through the blink ends as it would have, its log
whole. The Redis that blinks is one of the test's own (tests/blinking.py)."""

import time

import pytest
from django.test import Client, TestCase

from dashboard.settings import redis_channel_layers
from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, Promotion
from pipelines.models.deployments import ACTIVE_STATUSES
from tests.blinking import RedisServer
from tests.deploying import artifact_build, free_port, make_script, wait_for
from tests.live import bearer
from tests.promoting import env, sign_everything, uat_runs_a_new_build
from tests.services import need_program
from tests.workers import Workers


@pytest.fixture
def own_redis(tmp_path):
    with RedisServer(need_program("redis-server"), free_port(), tmp_path) as redis:
        yield redis


def production_mode(settings, redis_url: str) -> None:
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url)


@pytest.mark.django_db
def test_with_redis_down_pages_and_api_work_and_a_promotion_is_refused_queuing_nothing(
    pipeline, users, client_for, token_for, own_redis, settings
):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    production_mode(settings, own_redis.url)
    own_redis.stop()
    api = Client(headers=bearer(token_for("lead")))

    board = client_for("developer").get("/pipelines/webshop/")
    status = api.get("/api/v1/pipelines/webshop")
    with TestCase.captureOnCommitCallbacks(execute=True):
        promotion = api.post(
            "/api/v1/pipelines/webshop/promotions",
            {"from": "uat", "to": "live", "digest": candidate.artifact.digest},
            content_type="application/json",
        )

    assert board.status_code == 200
    assert candidate.build.short_sha in board.content.decode()
    assert status.status_code == 200
    assert status.json()["environments"][1]["release"]["version"] == candidate.label
    assert promotion.status_code == 503, promotion.content
    assert promotion.json()["error"]["code"] == "broker_unavailable"
    assert not Deployment.objects.filter(environment=env(pipeline, "live")).exists()
    assert not Promotion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_deployment_on_a_worker_goes_through_a_redis_restart_with_its_whole_log(
    pipeline, own_redis, settings, tmp_path, client_for, token_for
):
    viewer = client_for("developer")
    api = Client(headers=bearer(token_for("developer")))
    workers = Workers(own_redis.url, tmp_path, settings)
    try:
        worker = workers.start()
        production_mode(settings, own_redis.url)
        dev = make_script(
            pipeline.environments.get(name="dev"),
            "for i in $(seq 1 40); do echo line $i; sleep 0.1; done",
        )
        deployment = request_deployment(dev, artifact_build(pipeline, b"blink"), cause="manual")
        wait_for(lambda: deployment.log_lines.filter(text="line 5").exists(), 30, "the first lines")

        own_redis.stop()
        page = viewer.get(f"/deployments/{deployment.pk}/")  # while Redis is down
        log = api.get(f"/api/v1/deployments/{deployment.pk}/log")
        time.sleep(2)
        own_redis.start()

        assert page.status_code == 200 and "line 5" in page.content.decode()
        assert log.status_code == 200, log.content

        wait_for(
            lambda: Deployment.objects.get(pk=deployment.pk).status not in ACTIVE_STATUSES,
            60,
            f"the deployment to end:\n{worker.log()}",
        )
        deployment.refresh_from_db()
        assert deployment.status == DeploymentStatus.SUCCEEDED, (
            f"{deployment.error}\n{worker.log()}"
        )
        lines = list(deployment.log_lines.order_by("seq").values_list("text", flat=True))
        assert [t for t in lines if t.startswith("line ")] == [f"line {i}" for i in range(1, 41)]
    finally:
        workers.stop_all()
