"""The drift probe runs by itself: on the embedded server's timer (`make run`) and on Celery
beat (production); a target that stops shows as unreachable a tick later."""

import time

import pytest

from pipelines.models import Environment, Probe
from tests.factories import passing_build
from tests.live import database_url, run_server
from tests.promoting import env, finish_queued
from tests.test_drift_probe import target  # noqa: F401

TICK = {"SLIPWAY_PROBE_TICK_SECONDS": "0.3"}


def probing_uat(pipeline, target) -> Environment:  # noqa: F811
    build = passing_build(pipeline, "master")
    finish_queued(env(pipeline, "uat"))
    target.answer({"sha": build.sha})
    uat = env(pipeline, "uat")
    # 1 s: below what pipeline.toml allows (5 s), to keep the test short.
    Environment.objects.filter(pk=uat.pk).update(version_url=target.url, probe_interval=1)
    return uat


def wait_for_status(environment: Environment, status: str, seconds: float = 30) -> Probe:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = Probe.objects.filter(environment=environment).first()
        if found and found.status == status:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{environment} was not {status} within {seconds} s: {found}")


def test_the_embedded_server_probes_on_its_timer(transactional_db, pipeline, target, tmp_path):  # noqa: F811
    uat = probing_uat(pipeline, target)
    env_vars = {"DATABASE_URL": database_url(), **TICK}
    with run_server(tmp_path / "artifacts", env=env_vars):  # its first request starts the timer
        wait_for_status(uat, "ok")
        target.stop()
        down = wait_for_status(uat, "unreachable")
    assert down.detail == "refused or dropped the connection"


@pytest.mark.redis
def test_celery_beat_probes_in_production(celery_workers, pipeline, target):  # noqa: F811
    uat = probing_uat(pipeline, target)
    celery_workers.start(**TICK)
    wait_for_status(uat, "ok")
    target.answer({"sha": "abcdef1"})
    drift = wait_for_status(uat, "drift")
    assert drift.serving_sha == "abcdef1"
