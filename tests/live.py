"""A real Slipway server (daphne in a subprocess) for tests that go through HTTP.

`slipway_server` starts one daphne per test session against the session's test database
(SQLite file or PostgreSQL) and gives each test that uses it a `LiveServer` with the base
`url` and the `artifact_dir` it shares with the test process. Tests using it get
`transactional_db`: their rows are committed, so the server sees them.

Other tests can start a server of their own with other settings:

    with run_server(tmp_path / "artifacts", env={"SLIPWAY_MAX_ARTIFACT_BYTES": "1024"}) as s:
        requests.get(s.url + "/healthz")
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

STARTUP_SECONDS = 30
DEPLOYMENTS_END_SECONDS = 20
# Small enough that a test can go past it, big enough for any test's artifact.
LIVE_MAX_ARTIFACT_BYTES = 4 * 1024 * 1024


@dataclass
class LiveServer:
    url: str
    artifact_dir: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __str__(self) -> str:
        return self.url


def database_url() -> str:
    """The URL of the database this test session uses (the test database, once set up)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        credentials = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise RuntimeError(f"No live server for a {connection.vendor} database.")


def with_application_name(url: str, application_name: str) -> str:
    """A database `url` whose connections PostgreSQL lists under `application_name`."""
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


def connections_named(application_name: str) -> int:
    """How many connections to PostgreSQL are open under `application_name`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


@contextlib.contextmanager
def run_server(artifact_dir: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Start daphne on a free 127.0.0.1 port, wait until it answers HTTP, stop it after."""
    artifact_dir.mkdir(parents=True, exist_ok=True)
    # Bind here and hand daphne the listening socket: no race for the port.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    server_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PYTHONUNBUFFERED": "1",  # its log, access lines included, as it happens: tests read it
        "DATABASE_URL": database_url(),
        "SLIPWAY_ARTIFACT_DIR": str(artifact_dir),
        "SLIPWAY_MAX_ARTIFACT_BYTES": str(LIVE_MAX_ARTIFACT_BYTES),
        "SECRET_KEY": settings.SECRET_KEY,
        **(env or {}),
    }
    log_path = artifact_dir.parent / f"daphne-{port}.log"
    command = [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "-v", "1"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*command, "dashboard.asgi:application"],
            cwd=settings.BASE_DIR,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )
    listener.close()
    server = LiveServer(f"http://127.0.0.1:{port}", artifact_dir, process, log_path)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.process.returncode}:\n{server.log()}")
        try:
            requests.get(f"{server.url}/healthz", timeout=2)  # any HTTP answer will do
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not answer within {STARTUP_SECONDS}s:\n{server.log()}")


@pytest.fixture(scope="session")
def _slipway_server_process(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        url = database_url()
    artifact_dir = tmp_path_factory.mktemp("live") / "artifacts"
    with run_server(artifact_dir, env={"DATABASE_URL": url, **_no_timer_jobs()}) as server:
        yield server


def _no_timer_jobs() -> dict[str, str]:
    """Settings that keep the embedded timer's jobs (pipelines/apps.py) from running in the
    session's shared server: they would act on whatever rows the test of the moment made
    (the drift probe writes a probe and an audit event for each environment with a
    version_url, the demo's), and the flush that empties the database after the test would
    deadlock against them on PostgreSQL (TRUNCATE against the job's locks). A test of a job
    starts a server of its own and stops it first (tests/test_drift_probe_schedule.py)."""
    from pipelines.runner.embedded import _periodic

    return {interval_setting: str(24 * 3600) for interval_setting, _ in _periodic}


@pytest.fixture
def slipway_server(_slipway_server_process, transactional_db, settings) -> Iterator[LiveServer]:
    """The session's live server; this test's rows are committed and its store is shared
    (and empty at the start of each test, like the database)."""
    shutil.rmtree(_slipway_server_process.artifact_dir)
    _slipway_server_process.artifact_dir.mkdir()
    settings.SLIPWAY_ARTIFACT_DIR = _slipway_server_process.artifact_dir
    settings.SLIPWAY_MAX_ARTIFACT_BYTES = LIVE_MAX_ARTIFACT_BYTES
    yield _slipway_server_process
    _wait_for_deployments_to_end()


def _wait_for_deployments_to_end() -> None:
    """A deployment a test set off (a promote click, say) goes on in the server after the
    test has seen what it wanted. Emptying the database under it would deadlock on
    PostgreSQL (TRUNCATE against the runner's row locks), so wait for it first: for those
    a runner is working on (its heartbeat is not stale, as the reaper judges it) or may be
    about to pick up. Rows a test made up itself have no heartbeat and are not waited for."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from pipelines.models import Deployment
    from pipelines.models.deployments import DeploymentStatus

    deadline = time.monotonic() + DEPLOYMENTS_END_SECONDS
    while True:
        now = timezone.now()
        fresh = now - timedelta(seconds=settings.SLIPWAY_STALE_AFTER_SECONDS)
        in_hand = Deployment.objects.filter(
            Q(status=DeploymentStatus.RUNNING, heartbeat_at__gt=fresh)
            | Q(status=DeploymentStatus.QUEUED, created_at__gt=now - timedelta(seconds=2))
        )
        if not in_hand.exists():
            return
        if time.monotonic() > deadline:
            warnings.warn(
                f"{in_hand.first()} was still going {DEPLOYMENTS_END_SECONDS} s after the"
                " test; the database is emptied under it.",
                stacklevel=1,
            )
            return
        time.sleep(0.05)


def session_cookie(user) -> str:
    """A Cookie header of `user` signed in: the session is stored, a live server reads it."""
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return f"sessionid={browser.cookies['sessionid'].value}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_for(users):
    """token_for("developer") → a new raw API token of that role's user."""
    from pipelines.tokens import create_token

    def make(name: str) -> str:
        return create_token(users[name], name=f"{name} test token")[1]

    return make
