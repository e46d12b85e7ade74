"""SIGKILL the runner at each step boundary of a local deployment of the sample app — on a
real Celery worker, and in the embedded server — then start a new one: the reaper settles
what the dead runner left, and the books, the target and the queue agree again.

After each kill: no deployment is left active, the API's current release is what `current`
points to on disk and what the sample app serves, no process of the dead deployment still
runs, and the next deployment succeeds."""

import contextlib
import os
import sys
from pathlib import Path

import pytest
import requests
from django.test import Client

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, StepStatus
from pipelines.models.deployments import ACTIVE_STATUSES
from pipelines.runner.processes import members
from tests.deploying import free_port, make_local, sample_build, stop_app, wait_for
from tests.live import run_server
from tests.workers import WORKER_TIMINGS

pytestmark = pytest.mark.django_db(transaction=True)

KILL_POINTS = ["unpack", "switch", "restart command", "health check"]
# A release big enough to unpack for a while (small files: little disk, much work).
BULK_FILES = 20_000


class Runner:
    """Runs deployments of the test's environment: `start()`, `kill()` (SIGKILL)."""

    def start(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def log(self) -> str:
        return ""


class CeleryRunner(Runner):
    def __init__(self, celery_workers, settings) -> None:
        self.workers, self.settings, self.worker = celery_workers, settings, None

    def start(self) -> None:
        self.worker = self.workers.start()
        self.settings.REDIS_URL = self.worker.redis_url

    def kill(self) -> None:
        self.worker.kill()

    def log(self) -> str:
        return "\n".join(w.log() for w in self.workers.started)


class EmbeddedRunner(Runner):
    """daphne without REDIS_URL: deployments run in its threads; requests go through HTTP."""

    def __init__(self, tmp_path: Path, token: str) -> None:
        self.tmp_path, self.token = tmp_path, token
        self.servers: list = []
        self.stack = contextlib.ExitStack()

    def start(self) -> None:
        env = {**WORKER_TIMINGS, "SLIPWAY_CANCEL_GRACE_SECONDS": "1"}
        server = self.stack.enter_context(run_server(self.tmp_path / "artifacts", env=env))
        self.servers.append(server)
        requests.get(f"{server.url}/healthz", timeout=5)  # the first request starts the reaper

    def kill(self) -> None:
        process = self.servers[-1].process
        process.kill()
        process.wait(10)

    def log(self) -> str:
        return "\n".join(s.log() for s in self.servers)


@pytest.fixture(params=["celery", "embedded"])
def runner(request, tmp_path, settings, pipeline, token_for, fast_runner):
    if request.param == "celery":
        made = CeleryRunner(request.getfixturevalue("celery_workers"), settings)
    else:
        settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
        made = EmbeddedRunner(tmp_path, token_for("lead"))
    made.name = request.param
    yield made
    if request.param == "embedded":
        made.stack.close()


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "target"
    yield path
    stop_app(path)


def request_via(runner, env, build) -> Deployment:
    if isinstance(runner, EmbeddedRunner):
        response = requests.post(
            f"{runner.servers[-1].url}/api/v1/pipelines/webshop/environments/{env.name}/deployments",
            json={"sha": build.sha},
            headers={"Authorization": f"Bearer {runner.token}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return Deployment.objects.get(pk=response.json()["id"])
    return request_deployment(env, build, cause="manual")


def ended(deployment: Deployment, timeout: float = 40, runner=None) -> Deployment:
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).status not in ACTIVE_STATUSES,
        timeout,
        f"deployment #{deployment.pk} to end:\n{runner.log() if runner else ''}",
    )
    return Deployment.objects.get(pk=deployment.pk)


def api_release(token: str) -> str:
    body = Client().get("/api/v1/pipelines/webshop", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    dev = next(e for e in body["environments"] if e["name"] == "dev")
    return dev["release"]["version"]


def served_sha(url: str) -> str:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=5).json()["sha"]


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_a_runner_killed_at_any_step_leaves_books_target_and_queue_in_agreement(
    runner, kill_point, pipeline, target, tmp_path, token_for
):
    port = free_port()
    base_restart = f"{sys.executable} current/control.py restart --port {port} --pidfile app.pid"
    paused = tmp_path / "paused"
    pause = tmp_path / "pause"
    # The restart command pauses (in the deployment's process group) when told to, after
    # stopping the app for the kill "during the restart command".
    stop_first = kill_point == "restart command"
    stop = f"{sys.executable} current/control.py stop --pidfile app.pid; " if stop_first else ""
    restart = (
        f"if [ -e {pause} ]; then rm {pause}; {stop}touch {paused}; sleep 60; fi; {base_restart}"
    )
    dev = make_local(pipeline.environments.get(name="dev"), target, port, restart_command=restart)
    dev.driver_settings["health_timeout"] = 3
    dev.save(update_fields=["driver_settings"])
    health_url = dev.driver_settings["health_url"]
    runner.start()
    first = sample_build(pipeline, "First")
    v1 = ended(request_via(runner, dev, first), runner=runner)
    assert v1.status == DeploymentStatus.SUCCEEDED, v1.error

    replace = {}
    if kill_point == "unpack":
        replace = {f"bulk/{i:05}.txt": b"x" for i in range(BULK_FILES)}
    if kill_point == "health check":
        replace = {"REVISION": b"0" * 40 + b"\nreports the wrong commit\n"}
    if kill_point in ("switch", "restart command"):
        pause.touch()
    second = sample_build(pipeline, "Second", **replace)
    v2 = request_via(runner, dev, second)
    releases = target / "releases"
    reached = {
        "unpack": lambda: any(releases.glob(".v2-*")),
        "switch": paused.exists,
        "restart command": paused.exists,
        "health check": lambda: v2.steps.filter(
            name="health check", status=StepStatus.RUNNING
        ).exists(),
    }[kill_point]
    wait_for(reached, 30, f"the {kill_point}:\n{runner.log()}")
    runner.kill()
    runner.start()

    v2 = ended(v2, runner=runner)
    settled = v2.settled
    assert v2.status in (DeploymentStatus.INTERRUPTED, DeploymentStatus.SUCCEEDED), v2.error
    assert not Deployment.objects.filter(status__in=ACTIVE_STATUSES).exists()
    version = api_release(token_for("developer"))
    assert os.readlink(target / "current") == f"releases/{version}", settled
    served = served_sha(health_url)
    assert served == {"v1": first.sha, "v2": second.sha}[version], settled
    if kill_point in ("switch", "restart command"):  # v2 is sound: the reaper confirms it
        assert (version, v2.status) == ("v2", DeploymentStatus.SUCCEEDED), settled
        assert settled == "Interrupted after the switch; v2 confirmed by health check."
    else:
        assert (version, v2.status) == ("v1", DeploymentStatus.INTERRUPTED), settled
    if kill_point == "unpack":
        assert not any(releases.glob(".v2-*")), "the half-unpacked release is still there"
        assert settled == "Interrupted before the switch; v1 still serves."
    if kill_point == "health check":  # v2 reports the wrong commit: it goes
        assert settled == "Interrupted after the switch; v1 put back."
    for group in v2.process_groups:
        assert members(group["pgid"], v2.pk) == [], f"process group {group} still runs"
    if kill_point in ("switch", "restart command"):
        assert v2.process_groups, "the paused restart command was not recorded"

    third = sample_build(pipeline, "Third")
    v3 = ended(request_via(runner, dev, third), runner=runner)
    assert v3.status == DeploymentStatus.SUCCEEDED, v3.error
    assert os.readlink(target / "current") == "releases/v3"
    assert served_sha(health_url) == third.sha
