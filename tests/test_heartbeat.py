"""The heartbeat beats while the deployment lives, whatever its step is doing: a runner
stuck in a long step that never ticks (here a slow Heroku slug upload) is not mistaken for a
dead one, and the thread ends with the deployment."""

import threading
import time

import pytest

from pipelines.deploys import request_deployment
from pipelines.models import DeploymentStatus
from pipelines.runner.reaper import reap_stale_deployments
from tests.deploying import artifact_build, run_in_background, wait_for
from tests.test_heroku_driver import heroku_env, slug_tarball

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.test_heroku_driver"]  # its `heroku` fixture


@pytest.fixture
def slow_heroku(heroku):
    """The fake Heroku, whose slug blob storage holds the upload until `release` is set."""
    release = threading.Event()
    handler = heroku.server.RequestHandlerClass
    original_put = handler.do_PUT

    def slow_put(self) -> None:
        release.wait(30)
        original_put(self)

    handler.do_PUT = slow_put
    heroku.release_upload = release
    yield heroku
    release.set()


def test_a_runner_busy_in_a_step_that_never_ticks_keeps_beating_and_is_not_reaped(
    pipeline, slow_heroku, settings, held_deployments
):
    settings.SLIPWAY_HEARTBEAT_SECONDS = 0.1
    settings.SLIPWAY_STALE_AFTER_SECONDS = 0.5
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    deployment = request_deployment(uat, artifact_build(pipeline, slug_tarball()), cause="manual")
    runner = run_in_background(deployment.pk)
    wait_for(lambda: ("POST", "/apps/webshop-uat/slugs") in slow_heroku.calls(), what="upload")

    # Four stale periods in the upload, the reaper looking all along.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert reap_stale_deployments() == []
        time.sleep(0.1)
    slow_heroku.release_upload.set()
    runner.join(15)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert not any(t.name == f"heartbeat-{deployment.pk}" for t in threading.enumerate())
