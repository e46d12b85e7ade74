"""The `local` driver: the target is a directory on this machine.

    <path>/releases/v1/, v2/, …   one unpacked artifact per release
    <path>/current -> releases/v2  what serves; switched atomically

Steps: release (unpack into releases/<version>/), maintenance on, backup, release command
(run in the new release, before it serves), switch (`current` to the new release, then the
restart command), health check (poll `health_url` until it reports the commit), maintenance
off. Unpacking comes first because it touches nothing that serves: the maintenance window
stays short, and a broken artifact fails before anyone sees a maintenance page. Maintenance
ends last, so people come back to a release that passed its health check
(docs/deploying.md, "Release steps"). A failure up to and including the switch or the
health check puts `current` back and restarts the previous release.
"""

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import requests
from django.conf import settings

from pipelines.drivers.base import (
    BACKUP,
    HEALTH_CHECK,
    MAINTENANCE_OFF,
    MAINTENANCE_ON,
    RELEASE,
    RELEASE_COMMAND,
    SWITCH,
    Driver,
)
from pipelines.drivers.unpack import safe_unpack
from pipelines.runner.commands import run_command
from pipelines.runner.context import RunContext, StepFailed

CURRENT = "current"


class LocalDriver(Driver):
    name = "local"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.target = target_path(self.setting("path"))
        self.releases = self.target / "releases"
        self.release_dir = self.releases / ctx.release.label
        self.previous: str | None = None  # where `current` pointed before the switch
        self.switched = False

    # The order of the local driver's steps (the module's docstring says why).
    ORDER = (
        RELEASE,
        MAINTENANCE_ON,
        BACKUP,
        RELEASE_COMMAND,
        SWITCH,
        HEALTH_CHECK,
        MAINTENANCE_OFF,
    )

    def steps(self) -> list[str]:
        return [step for step in self.ORDER if self.uses(step)]

    def uses(self, step: str) -> bool:
        return {
            RELEASE: True,
            RELEASE_COMMAND: bool(self.settings.get("release_command")),
            SWITCH: True,
            HEALTH_CHECK: bool(self.settings.get("health_url")),
        }.get(step, False) or self.uses_release_step(step)

    def step_timeout(self, step: str) -> float | None:
        if step == HEALTH_CHECK:
            return self.health_timeout() + 30
        return super().step_timeout(step)

    # --- steps --------------------------------------------------------------------------
    def release(self) -> None:
        self.releases.mkdir(parents=True, exist_ok=True)
        artifact = self.ctx.artifact_file()
        unpacking = Path(tempfile.mkdtemp(dir=self.releases, prefix=f".{self.release_dir.name}-"))
        try:
            count = safe_unpack(artifact, unpacking, max_bytes=settings.SLIPWAY_MAX_UNPACKED_BYTES)
            if self.release_dir.exists():  # left over from an older database: keep it aside
                aside = f"{self.release_dir.name}.old-{uuid.uuid4().hex[:8]}"
                self.release_dir.rename(self.release_dir.with_name(aside))
            unpacking.chmod(0o755)  # mkdtemp made it private
            unpacking.rename(self.release_dir)
        finally:
            shutil.rmtree(unpacking, ignore_errors=True)
        self.ctx.note(f"Unpacked {count} entries into {self.release_dir}.")

    def release_command(self) -> None:
        run_command(
            self.ctx, self.settings["release_command"], cwd=self.release_dir, env=self.env()
        )

    def switch(self) -> None:
        current = self.target / CURRENT
        self.previous = os.readlink(current) if current.is_symlink() else None
        self.ctx.record_intent(switch={"from": self.previous, "to": self.relative_dir})
        point_current(self.target, self.relative_dir)
        self.switched = True
        was = f" (was {self.previous})" if self.previous else ""
        self.ctx.note(f"{current} → releases/{self.release_dir.name}{was}.")
        self.restart(self.release_dir)

    def health_check(self) -> None:
        url, sha = self.health_url(), self.ctx.build.sha
        timeout = self.health_timeout()
        self.ctx.note(f"Waiting up to {timeout:g} s for {url} to report {sha[:7]}.")
        end = time.monotonic() + timeout
        last = None
        with requests.Session() as session:
            session.trust_env = False  # a proxy from the environment has no business here
            while True:
                healthy, seen = probe(session, url, sha)
                if healthy:
                    self.ctx.note(f"{url} reports {sha[:7]}: healthy.")
                    return
                if seen != last:
                    self.ctx.note(f"{url}: {seen}")
                    last = seen
                if time.monotonic() > end:
                    raise StepFailed(
                        f"{url} did not report {sha[:7]} within {timeout:g} s (last: {seen})"
                    )
                self.ctx.sleep(self.ctx.timing.poll)

    # --- putting things back ---------------------------------------------------------
    def recover(self) -> None:
        if not self.switched:
            self.ctx.note("The previous release was never switched away from: it still serves.")
            return
        if self.previous is None:
            (self.target / CURRENT).unlink(missing_ok=True)
            self.ctx.note("There is no previous release to switch back to.")
            return
        point_current(self.target, self.previous)
        self.switched = False
        self.ctx.note(f"Switched {self.target / CURRENT} back to {self.previous}.")
        try:
            self.restart(self.target / self.previous)
        except StepFailed as exc:
            self.ctx.note(f"Restarting the previous release failed too: {exc}.")

    def settle(self) -> tuple[bool, str]:
        self.remove_partial_unpacks()
        label = self.ctx.release.label
        env = self.ctx.environment
        serving = env.current_release.label if env.current_release_id else "nothing"
        switch = self.ctx.intent.get("switch")
        current = self.target / CURRENT
        points_to = os.readlink(current) if current.is_symlink() else None
        if not switch or points_to != switch["to"]:
            self.ensure_serving(env.current_release)
            when = " before the switch" if not switch else ""
            return False, f"interrupted{when}; {self.still_serves()}"
        self.previous, self.switched = switch["from"], True
        if self.settings.get("health_url"):
            try:
                if not self.serves(self.ctx.build.sha):
                    self.restart(self.release_dir)  # the restart may have been cut short
                self.health_check()
                return True, f"interrupted after the switch; {label} confirmed by health check"
            except StepFailed as exc:
                self.ctx.note(f"{label} cannot be confirmed: {exc}.")
        else:
            self.ctx.note(f"No health check can confirm {label}: putting {serving} back.")
        self.recover()
        put_back = f"{serving} put back" if self.previous else "nothing was deployed here before"
        return False, f"interrupted after the switch; {put_back}"

    def ensure_serving(self, release) -> None:
        """The previous release still is `current`: restart it unless it answers healthy."""
        if release is None or not self.settings.get("restart_command"):
            return
        if self.settings.get("health_url") and self.serves(release.build.sha):
            return
        self.ctx.note(f"Restarting {release.label}, which `current` points to.")
        try:
            self.restart(self.target / CURRENT)
        except StepFailed as exc:
            self.ctx.note(f"Restarting {release.label} failed: {exc}.")

    def serves(self, sha: str) -> bool:
        with requests.Session() as session:
            session.trust_env = False
            return probe(session, self.health_url(), sha)[0]

    def remove_partial_unpacks(self) -> None:
        """What an unpack killed half-way left behind (a hidden directory of this release)."""
        for partial in self.releases.glob(f".{self.release_dir.name}-*"):
            shutil.rmtree(partial, ignore_errors=True)
            self.ctx.note(f"Removed {partial}, left by an unpack that was cut short.")

    # --- helpers ------------------------------------------------------------------------
    @property
    def relative_dir(self) -> str:
        return f"releases/{self.release_dir.name}"

    def restart(self, release_dir: Path) -> None:
        command = self.settings.get("restart_command")
        if command:
            run_command(self.ctx, command, cwd=self.target, env=self.env(release_dir))

    def command_dir(self) -> Path:
        return self.target

    def command_env(self) -> dict[str, str]:
        return self.env()

    def env(self, release_dir: Path | None = None) -> dict[str, str]:
        return self.ctx.command_env(
            SLIPWAY_TARGET=str(self.target),
            SLIPWAY_RELEASE_DIR=str(release_dir or self.release_dir),
        )

    def health_url(self) -> str:
        return self.settings["health_url"]

    def health_timeout(self) -> float:
        return float(self.settings.get("health_timeout") or settings.SLIPWAY_HEALTH_TIMEOUT_SECONDS)


def target_path(path: str) -> Path:
    """Relative paths are relative to the project directory (where pipeline.toml lives)."""
    target = Path(path)
    return target if target.is_absolute() else Path(settings.BASE_DIR) / target


def point_current(target: Path, relative: str) -> None:
    """Atomically make <target>/current a symlink to `relative`: a rename never half-happens."""
    temporary = target / f".{CURRENT}-{uuid.uuid4().hex}"
    os.symlink(relative, temporary)
    os.replace(temporary, target / CURRENT)


def probe(session: requests.Session, url: str, sha: str) -> tuple[bool, str]:
    try:
        response = session.get(url, timeout=5)
    except requests.RequestException as exc:
        return False, f"no answer ({type(exc).__name__})"
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}"
    if sha in response.text:
        return True, sha
    return False, f"reports {response.text.strip()[:100]!r}"
