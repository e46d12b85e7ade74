"""Helpers for deploy tests: sample-app builds, a local-driver environment, fast timings."""

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from dashboard.demo import sampleapp_artifact
from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, record_build
from pipelines.models import Build, Environment, Pipeline
from tests.factories import fake_sha

# Branch that no environment of the test pipeline auto-deploys.
QUIET_BRANCH = "topic"


@pytest.fixture
def fast_runner(settings):
    """Runner timings in fractions of a second, so deploy tests take seconds."""
    settings.SLIPWAY_POLL_SECONDS = 0.05
    settings.SLIPWAY_HEARTBEAT_SECONDS = 0.2
    settings.SLIPWAY_CANCEL_GRACE_SECONDS = 1
    settings.SLIPWAY_LOG_FLUSH_SECONDS = 0.05
    return settings


def artifact_build(pipeline: Pipeline, data: bytes, *, sha: str | None = None, **fields) -> Build:
    """A passed build of a branch nothing auto-deploys, with `data` as its artifact."""
    build, _ = record_build(
        pipeline,
        sha=sha or fake_sha("build"),
        branch=fields.pop("branch", QUIET_BRANCH),
        status="passed",
        message=fields.pop("message", "A change"),
        **fields,
    )
    attach_artifact(build, store_artifact([data]))
    build.refresh_from_db()
    return build


def sample_build(pipeline: Pipeline, message: str = "A change", **replace: bytes) -> Build:
    """A build whose artifact is the sample app reporting this build's sha."""
    sha = fake_sha(message)
    return artifact_build(pipeline, sampleapp_artifact(sha, message, replace), sha=sha)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_local(env: Environment, target: Path, port: int, **settings) -> Environment:
    env.driver = "local"
    env.driver_settings = {
        "path": str(target),
        "restart_command": (
            f"{sys.executable} current/control.py restart --port {port} --pidfile app.pid"
        ),
        "health_url": f"http://127.0.0.1:{port}/__version__",
        "health_timeout": 10,
        **settings,
    }
    return _save_driver(env)


def stop_app(target: Path) -> None:
    try:
        os.kill(int((target / "app.pid").read_text()), signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass


def run_in_background(deployment_id: int) -> threading.Thread:
    """Run a deployment in a thread of its own (tests with transactional_db)."""
    from pipelines.runner.run import run_deployment

    def run() -> None:
        try:
            run_deployment(deployment_id)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float = 15, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def make_script(env: Environment, command: str) -> Environment:
    env.driver = "script"
    env.driver_settings = {"deploy_command": command}
    return _save_driver(env)


def _save_driver(env: Environment) -> Environment:
    """Only the driver fields: the test's copy of the rest (current release…) may be stale."""
    env.save(update_fields=["driver", "driver_settings"])
    return env


@pytest.fixture
def held_deployments(monkeypatch):
    """Requested deployments wait (queued) for the test to run them: in a transactional
    test, on-commit scheduling would otherwise run them at once, in the test's thread."""
    monkeypatch.setattr("pipelines.runner.dispatch.start_deployment", lambda deployment_id: None)
