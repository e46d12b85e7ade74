"""What a driver gets while it runs a step: the deployment, a log, and `tick`.

`tick()` is called often (between output lines, while polling, while waiting): it flushes
the log in batches, notices a lost claim (pipelines/runner/heartbeat.py), a cancel request
and the step's deadline.
"""

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from pipelines.artifacts import artifact_path
from pipelines.models import Deployment
from pipelines.runner.database import DatabaseAway, retrying
from pipelines.runner.heartbeat import Heartbeat
from pipelines.runner.log_writer import LogWriter, Stream

# The server's variables a deployment command inherits; everything else stays in the server.
PASSED_THROUGH = frozenset({"PATH", "HOME", "LANG", "TZ"})


def _passes_through(name: str) -> bool:
    return name in PASSED_THROUGH or name.startswith("LC_")


def server_variables() -> dict[str, str]:
    """The allowlisted server variables every command Slipway runs inherits."""
    return {name: value for name, value in os.environ.items() if _passes_through(name)}


class StepFailed(Exception):
    """A step could not do its job; the message says why, for the log and the deployment."""


class StepTimedOut(StepFailed):
    pass


class Cancelled(Exception):
    def __init__(self, by: str) -> None:
        super().__init__(f"cancelled by {by}")
        self.by = by


class LostClaim(Exception):
    """The deployment is no longer ours (the reaper marked it interrupted): stop touching it."""


@dataclass(frozen=True)
class Timing:
    heartbeat: float
    poll: float
    step_timeout: float
    cancel_grace: float
    max_deploy: float

    @classmethod
    def from_settings(cls) -> "Timing":
        return cls(
            heartbeat=settings.SLIPWAY_HEARTBEAT_SECONDS,
            poll=settings.SLIPWAY_POLL_SECONDS,
            step_timeout=settings.SLIPWAY_STEP_TIMEOUT_SECONDS,
            cancel_grace=settings.SLIPWAY_CANCEL_GRACE_SECONDS,
            max_deploy=settings.SLIPWAY_MAX_DEPLOY_SECONDS,
        )


class RunContext:
    def __init__(self, deployment: Deployment, timing: Timing | None = None) -> None:
        self.deployment = deployment
        self.runner = deployment.runner
        self.environment = deployment.environment
        self.release = deployment.release
        self.build = deployment.release.build
        self.settings: dict = dict(self.environment.driver_settings or {})
        self.timing = timing or Timing.from_settings()
        self.log = LogWriter(
            deployment,
            max_lines=settings.SLIPWAY_LOG_MAX_LINES,
            flush_seconds=settings.SLIPWAY_LOG_FLUSH_SECONDS,
        )
        self.secrets = self._read_secrets()
        for value in self.secrets.values():
            if value:
                self.log.mask(value)
        self.heartbeat = Heartbeat(deployment.pk, self.runner, self.timing.heartbeat)
        self.intent: dict = dict(deployment.intent or {})
        self.process_groups: list[dict] = list(deployment.process_groups or [])
        now = time.monotonic()
        self.last_beat = now
        self.last_cancel_check = now
        self.deploy_deadline = now + self.timing.max_deploy
        self.deadline = self.deploy_deadline
        self.deadline_label = f"{self.timing.max_deploy:g} s"
        self.step_timeout = self.timing.step_timeout
        self.recovering = False

    @property
    def recovering(self) -> bool:
        """While putting things back after a failure: a cancel request is not news, and a
        database that is away does not stop it (pipelines/runner/database.py)."""
        return self.log.tolerant

    @recovering.setter
    def recovering(self, value: bool) -> None:
        self.log.tolerant = value

    # --- what drivers use -------------------------------------------------------------
    def output(self, text: str, stream: str = Stream.STDOUT) -> None:
        self.log.write(text, stream)
        self.tick()

    def note(self, text: str) -> None:
        """A line from Slipway itself (not from the target)."""
        self.log.system(text)
        self.tick()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
            self.tick()

    def artifact_file(self) -> Path:
        if self.release.artifact is None:
            raise StepFailed(f"{self.release.label} has no artifact to deploy.")
        path = artifact_path(self.release.artifact.digest)
        if not path.is_file():
            raise StepFailed(f"The artifact {self.release.artifact.digest} is missing at {path}.")
        return path

    def command_env(self, **extra: str) -> dict[str, str]:
        """The environment of every command Slipway runs for this deployment: an allowlist of
        the server's variables, the environment's `env` and `secrets`, and Slipway's own —
        nothing else of the server's (docs/security.md)."""
        env = self.environment
        missing = [name for name, value in self.secrets.items() if value is None]
        if missing:
            variables = ", ".join(f"{name} (from {env.secrets[name]})" for name in missing)
            raise StepFailed(f"The secrets {variables} are not set on the server running Slipway.")
        return {
            **server_variables(),
            **(env.command_env or {}),
            **self.secrets,
            "PYTHONUNBUFFERED": "1",
            "SLIPWAY_ARTIFACT": str(self.artifact_file()) if self.release.artifact else "",
            "SLIPWAY_SHA": self.build.sha,
            "SLIPWAY_VERSION": self.release.label,
            "SLIPWAY_ENVIRONMENT": env.name,
            "SLIPWAY_PIPELINE": env.pipeline.name,
            "SLIPWAY_DEPLOYMENT": str(self.deployment.pk),
            **extra,
        }

    def _read_secrets(self) -> dict[str, str | None]:
        """The values of the environment's `secrets`, read from the server's variables."""
        return {
            name: os.environ.get(variable)
            for name, variable in (self.environment.secrets or {}).items()
        }

    def record_intent(self, **intent) -> None:
        """Say what is about to be done that cannot be undone, before doing it: a reaper
        that finds this deployment's runner dead settles it from there (docs/operations.md)."""
        self.intent = {**self.intent, **intent}
        retrying(
            lambda: Deployment.objects.filter(pk=self.deployment.pk).update(intent=self.intent),
            what="recording what comes next",
        )

    def track_process_group(self, pgid: int) -> None:
        """A command started: recorded so that it can be ended even if this runner dies."""
        self.process_groups.append({"host": socket.gethostname(), "pgid": pgid})
        Deployment.objects.filter(pk=self.deployment.pk).update(process_groups=self.process_groups)

    def start_step(self, timeout: float | None = None) -> None:
        timeout = timeout or self.step_timeout
        step_deadline = time.monotonic() + timeout
        if step_deadline < self.deploy_deadline:
            self.deadline, self.deadline_label = step_deadline, f"{timeout:g} s"
        else:
            self.deadline = self.deploy_deadline
            self.deadline_label = (
                f"{self.timing.max_deploy:g} s (the longest a deployment may take)"
            )

    # --- the pulse ----------------------------------------------------------------------
    def tick(self) -> None:
        """Flush the log, beat, and raise Cancelled / StepTimedOut / LostClaim when due."""
        if self.log.due():
            self.log.flush()
        now = time.monotonic()
        if self.heartbeat.lost:
            raise LostClaim()
        if not self.heartbeat.running and now - self.last_beat >= self.timing.heartbeat:
            self.beat()
        if not self.recovering and now - self.last_cancel_check >= self.timing.poll:
            self.last_cancel_check = now
            self.check_cancel()
        if now > self.deadline:
            raise StepTimedOut(f"timed out after {self.deadline_label}")

    def log_only_tick(self) -> None:
        """While stopping a command: keep the log flowing, raise nothing."""
        if self.log.due():
            with contextlib.suppress(DatabaseAway):  # the lines wait for the next flush
                self.log.flush()

    def beat(self) -> None:
        """A beat from the runner's own thread, when the heartbeat has no thread of its own."""
        self.last_beat = time.monotonic()
        if not self.heartbeat.beat():
            raise LostClaim()

    def check_cancel(self) -> None:
        by = retrying(
            lambda: (
                Deployment.objects.filter(pk=self.deployment.pk)
                .values_list("cancel_requested_by__username", "cancel_requested_by_id")
                .first()
            ),
            what="looking for a cancel request",
        )
        if by and by[1]:
            raise Cancelled(by[0])
