"""The local driver deploys the real sample app: a real process, a real HTTP health check,
and every failure leaves the previous release current and serving."""

import os

import pytest
import requests

from pipelines.deploys import request_deployment
from pipelines.models import DeploymentStatus, StepStatus
from pipelines.runner.run import run_deployment
from tests.deploying import free_port, make_local, sample_build, stop_app


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "target"
    yield path
    stop_app(path)


@pytest.fixture
def dev(pipeline, target, fast_runner):
    return make_local(pipeline.environments.get(name="dev"), target, free_port())


def deploy(env, build):
    deployment = run_deployment(request_deployment(env, build, cause="manual").pk)
    env.refresh_from_db()
    return deployment


def served_sha(env) -> str:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(env.driver_settings["health_url"], timeout=5).json()["sha"]


def log_of(deployment) -> str:
    return "\n".join(deployment.log_lines.values_list("text", flat=True))


def test_it_deploys_the_sample_app_and_it_serves_the_commit(dev, target, pipeline):
    build = sample_build(pipeline, "First version")

    deployment = deploy(dev, build)

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert [(s.name, s.status) for s in deployment.steps.all()] == [
        ("release", StepStatus.SUCCEEDED),
        ("switch", StepStatus.SUCCEEDED),
        ("health check", StepStatus.SUCCEEDED),
    ]
    assert all(s.started_at and s.finished_at for s in deployment.steps.all())
    assert dev.current_release == deployment.release
    assert os.readlink(target / "current") == "releases/v1"
    assert served_sha(dev) == build.sha
    assert f"reports {build.short_sha}: healthy" in log_of(deployment)
    seqs = list(deployment.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_second_release_replaces_the_first(dev, target, pipeline):
    deploy(dev, sample_build(pipeline, "First"))
    second = sample_build(pipeline, "Second")

    deployment = deploy(dev, second)

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert os.readlink(target / "current") == "releases/v2"
    assert served_sha(dev) == second.sha


BROKEN = {
    "release": {"app.py": None},  # not a tarball at all: see below
    "release command": {},
    "switch": {"app.py": b"raise SystemExit('crashes at start')\n"},
    "health check": {"REVISION": b"0000000000000000000000000000000000000000\nwrong\n"},
}


@pytest.mark.parametrize("failing_step", list(BROKEN))
def test_a_failure_at_any_step_leaves_the_previous_release_serving(
    dev, target, pipeline, failing_step
):
    good = sample_build(pipeline, "Good")
    assert deploy(dev, good).status == DeploymentStatus.SUCCEEDED
    if failing_step == "release":
        from tests.deploying import artifact_build

        bad = artifact_build(pipeline, b"these bytes are not a .tar.gz")
    else:
        replace = {k: v for k, v in BROKEN[failing_step].items() if v is not None}
        bad = sample_build(pipeline, "Bad", **replace)
    if failing_step == "release command":
        dev.driver_settings["release_command"] = "echo migrating; exit 3"
    dev.driver_settings["health_timeout"] = 1
    dev.save()

    deployment = deploy(dev, bad)

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error.startswith(f"{failing_step} failed"), deployment.error
    failed = deployment.steps.get(status=StepStatus.FAILED)
    assert failed.name == failing_step
    assert dev.current_release.build == good
    assert os.readlink(target / "current") == "releases/v1"
    assert served_sha(dev) == good.sha
    assert f"{dev.name} keeps serving v1" in log_of(deployment)


def test_a_release_command_runs_in_the_new_release_before_it_serves(dev, target, pipeline):
    dev.driver_settings["release_command"] = "echo migrating $SLIPWAY_VERSION; cat REVISION"
    dev.save()
    build = sample_build(pipeline, "Migrations")

    deployment = deploy(dev, build)

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert "release command" in [s.name for s in deployment.steps.all()]
    log = log_of(deployment)
    assert "migrating v1" in log
    assert build.sha in log
