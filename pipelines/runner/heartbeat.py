"""The runner's heartbeat: a thread that beats for as long as the deployment runs.

Steps that never call `tick()` (unpacking a large artifact, uploading a Heroku slug) must
not look like a dead runner, so the heartbeat does not depend on them: a thread of its own
updates `heartbeat_at` every SLIPWAY_HEARTBEAT_SECONDS on its own database connection, from
the claim to the end. When its UPDATE finds the deployment no longer running for this
runner (the reaper took it), it says so through `lost`; the runner's next `tick()` stops there.

A runner called inside a transaction (a test, a shell's atomic block) cannot be seen by any
other connection, so a second connection has nothing to beat: then `tick()` beats instead.
"""

import logging
import os
import socket
import threading
import uuid

from django.db import DatabaseError, connection
from django.utils import timezone

from pipelines.models import Deployment, DeploymentStatus

logger = logging.getLogger(__name__)


def new_runner_id() -> str:
    """Names who works on a deployment: the host (its processes are there), the pid, and a
    token of its own (a reaper in the same process takes over with another one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def runner_host(runner: str) -> str:
    return runner.rsplit(":", 2)[0]


class Heartbeat:
    def __init__(self, deployment_id: int, runner: str, interval: float) -> None:
        self.deployment_id = deployment_id
        self.runner = runner
        self.interval = interval
        self.lost = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> "Heartbeat":
        if not connection.in_atomic_block:
            self._thread = threading.Thread(
                target=self._run, name=f"heartbeat-{self.deployment_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def beat(self) -> bool:
        """One beat; False when the deployment is no longer running (its claim is lost)."""
        beaten = Deployment.objects.filter(
            pk=self.deployment_id, status=DeploymentStatus.RUNNING, runner=self.runner
        ).update(heartbeat_at=timezone.now())
        if not beaten:
            self.lost = True
        return bool(beaten)

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    if not self.beat():
                        return
                except DatabaseError as exc:  # the database blinked: try again next beat
                    logger.warning("deployment %s: heartbeat failed: %s", self.deployment_id, exc)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection
