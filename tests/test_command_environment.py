"""What a deployment command sees: an allowlist of the server's variables, the environment's
`env` and `secrets` — and secrets show as *** in the stored and streamed log."""

import pytest

from pipelines.config import load_pipeline_text
from pipelines.deploys import request_deployment
from pipelines.models import DeploymentStatus, LogLine
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build, make_script, sample_build
from tests.loading import GOOD_TOML, changed

# What the server running Slipway holds and no deployment command may see.
SERVER_SECRETS = {
    "SECRET_KEY": "django-insecure-server-key-1f3a9",
    "DATABASE_URL": "postgres://slipway:db-password-77@db/slipway",
    "EMAIL_HOST_PASSWORD": "smtp-password-4242",
    "HEROKU_API_TOKEN": "heroku-token-0c0ffee",
    "WEBSHOP_DEPLOY_TOKEN": "deploy-token-8d1e",
}


@pytest.fixture
def server_secrets(monkeypatch):
    for name, value in SERVER_SECRETS.items():
        monkeypatch.setenv(name, value)
    return SERVER_SECRETS


def log_text(deployment) -> str:
    return "\n".join(LogLine.objects.filter(deployment=deployment).values_list("text", flat=True))


def deploy_with(pipeline, command, *, env=None, secrets=None):
    dev = make_script(pipeline.environments.get(name="dev"), command)
    dev.command_env, dev.secrets = env or {}, secrets or {}
    dev.save(update_fields=["command_env", "secrets"])
    build = artifact_build(pipeline, b"bytes of the artifact")
    return run_deployment(request_deployment(dev, build, cause="manual").pk)


def test_a_script_printing_env_shows_no_server_variable(pipeline, server_secrets, fast_runner):
    deployment = deploy_with(pipeline, "env", env={"GREETING": "hello"})

    log = log_text(deployment)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    for name, value in server_secrets.items():
        assert name not in log and value not in log
    assert "GREETING=hello" in log
    assert f"SLIPWAY_SHA={deployment.release.build.sha}" in log
    assert "PATH=" in log


def test_a_declared_secret_reaches_the_command_and_shows_as_stars(
    pipeline, server_secrets, fast_runner
):
    deployment = deploy_with(
        pipeline,
        'env; echo "token is $DEPLOY_TOKEN."; test "$DEPLOY_TOKEN" = deploy-token-8d1e',
        secrets={"DEPLOY_TOKEN": "WEBSHOP_DEPLOY_TOKEN"},
    )

    log = log_text(deployment)
    assert deployment.status == DeploymentStatus.SUCCEEDED  # the command got the real value
    assert "deploy-token-8d1e" not in log
    assert "DEPLOY_TOKEN=***" in log
    assert "token is ***." in log
    assert "WEBSHOP_DEPLOY_TOKEN" not in log


def test_a_secret_the_server_lacks_fails_the_deployment_naming_it(pipeline, fast_runner):
    deployment = deploy_with(
        pipeline, "echo never runs", secrets={"DEPLOY_TOKEN": "NOT_SET_ANYWHERE_1234"}
    )

    assert deployment.status == DeploymentStatus.FAILED
    assert "DEPLOY_TOKEN (from NOT_SET_ANYWHERE_1234)" in deployment.error
    assert "never runs" not in log_text(deployment).splitlines()  # only "$ echo never runs"


def test_the_local_driver_commands_see_the_same_clean_environment(
    pipeline, server_secrets, fast_runner, tmp_path
):
    dev = pipeline.environments.get(name="dev")
    dev.driver, dev.driver_settings = (
        "local",
        {"path": str(tmp_path / "dev"), "release_command": "env"},
    )
    dev.secrets = {"DEPLOY_TOKEN": "WEBSHOP_DEPLOY_TOKEN"}
    dev.save()
    deployment = run_deployment(request_deployment(dev, sample_build(pipeline), cause="manual").pk)

    log = log_text(deployment)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    for value in server_secrets.values():
        assert value not in log
    assert "DEPLOY_TOKEN=***" in log
    assert "SLIPWAY_RELEASE_DIR=" in log


def test_env_and_secrets_are_loaded_from_the_file(db):
    text = changed(
        GOOD_TOML,
        'deploy_command = "./deploy.sh uat"',
        'deploy_command = "./deploy.sh uat"\n'
        'env = { REGION = "eu-west-1" }\n'
        'secrets = { HEROKU_API_KEY = "WEBSHOP_HEROKU_TOKEN" }',
    )
    uat = load_pipeline_text(text).environments.get(name="uat")

    assert uat.command_env == {"REGION": "eu-west-1"}
    assert uat.secrets == {"HEROKU_API_KEY": "WEBSHOP_HEROKU_TOKEN"}
