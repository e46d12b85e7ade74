"""`slipway deploy` against a live server (which runs the deployment itself)."""

import pytest

from pipelines.models import Deployment
from tests.deploying import artifact_build, make_script
from tests.test_cli import slipway


@pytest.fixture
def env_for(slipway_server, token_for):
    return lambda role: {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for(role)}


def test_deploy_follows_the_log_to_success(pipeline, env_for):
    make_script(pipeline.environments.get(name="dev"), "echo hello from $SLIPWAY_VERSION")
    build = artifact_build(pipeline, b"cli")

    result = slipway(
        "deploy", "dev", "--sha", build.short_sha, "--follow", env=env_for("developer")
    )

    assert result.returncode == 0, result.stderr
    deployment = Deployment.objects.get()
    assert f"deploying {build.short_sha} to dev as v1" in result.stdout
    assert f"deployment #{deployment.pk}" in result.stdout
    assert "hello from v1" in result.stdout
    assert f"deployment #{deployment.pk} succeeded" in result.stdout


def test_deploy_prints_the_refusal(pipeline, env_for):
    build = artifact_build(pipeline, b"cli")

    result = slipway("deploy", "live", "--sha", build.sha, env=env_for("developer"))

    assert result.returncode == 1
    assert "may not deploy to live" in result.stderr
    assert "(403 forbidden)" in result.stderr
    assert not Deployment.objects.exists()
