"""Real Celery workers for tests: `celery -A dashboard worker` in a subprocess.

`celery_workers` gives a test a `start()` that launches a worker (with embedded beat, so
the reaper runs every second) on a Redis database used only by tests, against this
session's test database. Its queues are named for the test, so test sessions running at
the same time never take each other's tasks. Tests using it get `transactional_db`: their
rows are committed, so the worker sees them. Timings are shortened so a stale heartbeat is
noticed in seconds.

    def test_something(celery_workers, settings):
        worker = celery_workers.start()
        settings.REDIS_URL = worker.redis_url   # schedule() now sends to this test's worker
        ...
        worker.kill()                           # SIGKILL to the worker and its children
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import database_url
from tests.services import need_redis

STARTUP_SECONDS = 30
WORKER_TIMINGS = {
    "SLIPWAY_HEARTBEAT_SECONDS": "0.2",
    "SLIPWAY_STALE_AFTER_SECONDS": "2",
    "SLIPWAY_REAPER_INTERVAL_SECONDS": "1",
    "SLIPWAY_POLL_SECONDS": "0.1",
    "SLIPWAY_LOG_FLUSH_SECONDS": "0.05",
}


@dataclass
class Worker:
    process: subprocess.Popen
    redis_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process, pool children, embedded beat)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


class Workers:
    def __init__(self, redis_url: str, tmp_path: Path, settings) -> None:
        self.redis_url = redis_url
        self.tmp_path = tmp_path
        self.started: list[Worker] = []
        suffix = uuid.uuid4().hex[:12]
        self.queues = {
            "SLIPWAY_DEPLOY_QUEUE": f"test-deploys-{suffix}",
            "SLIPWAY_DEFAULT_QUEUE": f"test-celery-{suffix}",
        }
        settings.SLIPWAY_DEPLOY_QUEUE = self.queues["SLIPWAY_DEPLOY_QUEUE"]

    def start(self, *, beat: bool = True, **env: str) -> Worker:
        """A worker; with `beat`, beat runs in it too (one beat is enough for several)."""
        number = len(self.started) + 1
        log_path = self.tmp_path / f"celery-worker-{number}.log"
        worker_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.redis_url,
            "SLIPWAY_ARTIFACT_DIR": str(settings.SLIPWAY_ARTIFACT_DIR),
            "SECRET_KEY": settings.SECRET_KEY,
            **WORKER_TIMINGS,
            **self.queues,
            **env,
        }
        command = [
            *(sys.executable, "-m", "celery", "-A", "dashboard", "worker"),
            *("-Q", ",".join(self.queues.values()), "--concurrency", "1", "-l", "info"),
            *("--hostname", f"test{number}@%h", "--without-gossip", "--without-mingle"),
        ]
        if beat:
            command += ["-B", "-s", str(self.tmp_path / f"beat-schedule-{number}")]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=worker_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches it all
            )
        worker = Worker(process, self.redis_url, log_path)
        self.started.append(worker)
        self._wait_until_ready(worker)
        return worker

    def _wait_until_ready(self, worker: Worker) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited:\n{worker.log()}")
            if " ready." in worker.log():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"the Celery worker was not ready in {STARTUP_SECONDS}s:\n{worker.log()}"
        )

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture
def celery_workers(transactional_db, tmp_path, settings):
    import redis

    redis_url = need_redis()
    workers = Workers(redis_url, tmp_path, settings)
    yield workers
    workers.stop_all()
    redis.Redis.from_url(redis_url).delete(*workers.queues.values())
