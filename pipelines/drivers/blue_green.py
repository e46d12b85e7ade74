"""Blue-green on the `local` driver: two slots behind nginx (docs/blue-green.md).

    <path>/blue/releases/v3, <path>/blue/current   the blue slot (port `blue_port`)
    <path>/green/…                                 the green slot (port `green_port`)
    <path>/slots.json                              which slot is live, what each runs

A deployment goes to the idle slot: unpack, maintenance on and backup (optional), release
command, start it on its own port, health-check it there; only then the read-only command
(optional), the switch — the upstream file rewritten and nginx reloaded, gracefully —
read-only off, and maintenance off. The old slot keeps running, so a rollback to what it
runs is an instant switch back. A failure before the switch leaves traffic where it was; a
failed reload puts the old upstream file back.
"""

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from pipelines.drivers.base import (
    BACKUP,
    HEALTH_CHECK,
    MAINTENANCE_OFF,
    MAINTENANCE_ON,
    RELEASE,
    RELEASE_COMMAND,
    SWITCH,
)
from pipelines.drivers.local import CURRENT, LocalDriver, point_current, probe, target_path
from pipelines.models import Environment
from pipelines.runner.commands import run_command
from pipelines.runner.context import RunContext, StepFailed

STRATEGY = "blue-green"
SLOTS = ("blue", "green")
STATE_FILE = "slots.json"
MIRROR_LOCATION = "/__slipway_mirror"
SETTLED = 3

START = "start idle slot"
READ_ONLY_ON = "read-only on"
READ_ONLY_OFF = "read-only off"


@dataclass
class SlotState:
    """slots.json: the live slot and, per slot, the release it was last started with."""

    live: str | None = None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def idle(self) -> str:
        return SLOTS[1] if self.live == SLOTS[0] else SLOTS[0]

    def as_data(self) -> dict[str, Any]:
        return {"live": self.live, "slots": self.slots}


def read_state(target: Path) -> SlotState:
    try:
        data = json.loads((target / STATE_FILE).read_text())
    except (OSError, ValueError):
        return SlotState()
    if not isinstance(data, dict):
        return SlotState()
    live = data.get("live") if data.get("live") in SLOTS else None
    slots = data.get("slots") if isinstance(data.get("slots"), dict) else {}
    return SlotState(live, {k: v for k, v in slots.items() if k in SLOTS and isinstance(v, dict)})


@dataclass(frozen=True)
class Slot:
    """What the board shows of a slot."""

    name: str
    port: int
    live: bool
    release: str | None
    sha: str | None
    healthy: bool

    @property
    def short_sha(self) -> str:
        return (self.sha or "")[:7]


def slots_of(env: Environment) -> list[Slot]:
    """The slots of a blue-green environment, live one first; [] for any other."""
    settings = env.driver_settings or {}
    if env.driver != "local" or settings.get("strategy") != STRATEGY:
        return []
    state = read_state(target_path(settings.get("path", "")))
    slots = []
    for name in sorted(SLOTS, key=lambda slot: slot != state.live):
        held = state.slots.get(name, {})
        slots.append(
            Slot(
                name=name,
                port=settings.get(f"{name}_port", 0),
                live=name == state.live,
                release=held.get("release"),
                sha=held.get("sha"),
                healthy=held.get("healthy") is True,
            )
        )
    return slots


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one (a rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def nginx_snippet(label: str, live_port: int, idle_port: int, *, mirror: bool) -> str:
    """What the upstream file holds: included in the operator's `server {}` block."""
    lines = [
        f"# Written by Slipway at each switch of {label}; do not edit (docs/blue-green.md).",
        "location / {",
        f"    proxy_pass http://127.0.0.1:{live_port};",
    ]
    if mirror:
        lines += [f"    mirror {MIRROR_LOCATION};", "    mirror_request_body on;"]
    lines.append("}")
    if mirror:
        lines += [
            f"location = {MIRROR_LOCATION} {{",
            "    internal;",
            f"    proxy_pass http://127.0.0.1:{idle_port}$request_uri;",
            "}",
        ]
    return "\n".join(lines) + "\n"


class BlueGreenDriver(LocalDriver):
    """The local driver with strategy = "blue-green"."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.base = self.target
        self.state = read_state(self.base)
        # What the upstream file routes to wins over slots.json: a switch cut short after
        # the reload (power cut) left slots.json behind; `reconcile` finishes it.
        self.routed = self.routed_slot()
        self.interrupted = self.routed is not None and self.routed != self.state.live
        if self.interrupted:
            self.state.live = self.routed
        self.slot = self.state.idle()  # where this release goes
        self.port = self.slot_port(self.slot)
        self.target = self.base / self.slot
        self.releases = self.target / "releases"
        self.release_dir = self.releases / ctx.release.label
        held = self.state.slots.get(self.slot, {})
        digest = ctx.release.artifact.digest if ctx.release.artifact else None
        # The idle slot already holds this artifact (a rollback, say): no unpacking, no
        # release command; the start step only restarts it if it no longer answers.
        self.holds_release = (
            bool(digest) and held.get("digest") == digest and (self.target / CURRENT).is_symlink()
        )
        if self.holds_release:  # what SLIPWAY_RELEASE_DIR names for every command
            self.release_dir = self.target / os.readlink(self.target / CURRENT)
        self.read_only = False
        self.upstream_before: str | None = None  # the upstream file before a switch

    def steps(self) -> list[str]:
        steps = [] if self.holds_release else [RELEASE]
        steps += [step for step in (MAINTENANCE_ON, BACKUP) if self.uses_release_step(step)]
        if not self.holds_release and self.settings.get("release_command"):
            steps.append(RELEASE_COMMAND)
        steps += [START, HEALTH_CHECK]
        steps += [READ_ONLY_ON] if self.settings.get("read_only_on_command") else []
        steps.append(SWITCH)
        steps += [READ_ONLY_OFF] if self.settings.get("read_only_off_command") else []
        steps += [MAINTENANCE_OFF] if self.uses_release_step(MAINTENANCE_OFF) else []
        return steps

    def uses(self, step: str) -> bool:
        return step in self.steps()

    def run_step(self, step: str) -> None:
        if self.interrupted:
            self.reconcile()
        super().run_step(step)

    def reconcile(self) -> None:
        """The upstream file routes to a slot slots.json does not call live: a switch was
        cut short (its file written, maybe not reloaded). That slot passed its health check
        before the file was written, so the switch is finished: reload, then record it."""
        self.ctx.note(
            f"{self.upstream_file()} routes to {self.routed}, slots.json did not say so: "
            "finishing the switch that was cut short."
        )
        run_command(self.ctx, self.setting("reload_command"), cwd=self.base, env=self.env())
        write_atomically(self.base / STATE_FILE, json.dumps(self.state.as_data(), indent=2))
        self.interrupted = False

    # --- steps --------------------------------------------------------------------------
    def start_idle_slot(self) -> None:
        held = self.state.slots.get(self.slot, {})
        if self.holds_release:
            self.ctx.note(
                f"The idle slot {self.slot} still holds {self.ctx.build.short_sha} "
                f"({held.get('release')}): switching back to it, nothing to unpack."
            )
            if self.answers():
                return
        else:
            point_current(self.target, f"releases/{self.release_dir.name}")
            self.remember(self.slot, healthy=False)
        self.ctx.note(f"Starting {self.ctx.release.label} in the idle slot {self.slot}.")
        run_command(
            self.ctx,
            self.with_port(self.setting("restart_command")),
            cwd=self.target,
            env=self.env(self.release_dir),
        )

    def health_check(self) -> None:
        super().health_check()
        self.remember(self.slot, healthy=True)

    def read_only_on(self) -> None:
        self.read_only = True
        run_command(self.ctx, self.settings["read_only_on_command"], cwd=self.base, env=self.env())

    def switch(self) -> None:
        upstream = self.upstream_file()
        self.upstream_before = upstream.read_text() if upstream.exists() else ""
        idle_port = self.slot_port(self.state.live) if self.state.live else self.port
        # Nothing to mirror to before there are two slots.
        mirror = bool(self.settings.get("mirror")) and self.state.live is not None
        text = nginx_snippet(str(self.ctx.environment), self.port, idle_port, mirror=mirror)
        write_atomically(upstream, text)
        self.ctx.note(f"{upstream}: traffic to {self.slot} on port {self.port}.")
        run_command(self.ctx, self.setting("reload_command"), cwd=self.base, env=self.env())
        if self.settings.get("router_health_url"):
            self.wait_for_router()
        was = self.state.live
        self.state.live = self.slot
        write_atomically(self.base / STATE_FILE, json.dumps(self.state.as_data(), indent=2))
        self.switched = True
        kept = f"; {was} keeps running its release" if was else ""
        self.ctx.note(f"{self.slot} is live{kept}.")

    def read_only_off(self) -> None:
        run_command(self.ctx, self.settings["read_only_off_command"], cwd=self.base, env=self.env())
        self.read_only = False

    def wait_for_router(self) -> None:
        """nginx applies a reload in the background; the switch is done once the router
        serves the new commit SETTLED times in a row (old workers stop accepting ~0.1 s
        after the new ones start, so an answer or two may still come from the old slot)."""
        url, sha = self.settings["router_health_url"], self.ctx.build.sha
        end = time.monotonic() + self.health_timeout()
        in_a_row, seen = 0, ""
        with requests.Session() as session:
            session.trust_env = False
            while in_a_row < SETTLED:
                healthy, seen = probe(session, url, sha)
                in_a_row = in_a_row + 1 if healthy else 0
                if time.monotonic() > end:
                    raise StepFailed(f"{url} did not serve {sha[:7]} after the reload ({seen})")
                if in_a_row < SETTLED:
                    self.ctx.sleep(self.ctx.timing.poll)
        self.ctx.note(f"{url} serves {sha[:7]}.")

    # --- putting things back ----------------------------------------------------------
    def recover(self) -> None:
        if self.upstream_before is not None and not self.switched:
            self.put_upstream_back()
        elif not self.switched:
            self.ctx.note(f"Traffic never left {self.state.live or 'the live slot'}.")
        if self.read_only:
            try:
                self.read_only_off()
            except StepFailed as exc:
                self.ctx.note(f"Turning read-only mode off failed too: {exc}.")

    def put_upstream_back(self) -> None:
        upstream = self.upstream_file()
        write_atomically(upstream, self.upstream_before or "")
        self.ctx.note(f"Put {upstream} back: traffic stays on {self.state.live}.")
        try:
            run_command(self.ctx, self.setting("reload_command"), cwd=self.base, env=self.env())
        except StepFailed as exc:
            self.ctx.note(f"Reloading nginx with the old upstream failed too: {exc}.")

    # --- helpers ------------------------------------------------------------------------
    def command_dir(self) -> Path:
        return self.base  # maintenance and backup concern both slots

    def slot_port(self, slot: str) -> int:
        return int(self.settings[f"{slot}_port"])

    def with_port(self, text: str) -> str:
        return text.replace("{port}", str(self.port))

    def health_url(self) -> str:
        return self.with_port(self.settings["health_url"])

    def upstream_file(self) -> Path:
        return target_path(self.setting("upstream_file"))

    def routed_slot(self) -> str | None:
        """The slot whose port the upstream file's first proxy_pass names, if any."""
        try:
            text = self.upstream_file().read_text()
        except (OSError, UnicodeDecodeError):
            return None
        match = re.search(r"proxy_pass http://127\.0\.0\.1:(\d+);", text)
        ports = {self.slot_port(slot): slot for slot in SLOTS}
        return ports.get(int(match.group(1))) if match else None

    def answers(self) -> bool:
        with requests.Session() as session:
            session.trust_env = False
            healthy, seen = probe(session, self.health_url(), self.ctx.build.sha)
        self.ctx.note(f"{self.health_url()}: {'answers' if healthy else seen}.")
        return healthy

    def remember(self, slot: str, *, healthy: bool) -> None:
        release, artifact = self.ctx.release, self.ctx.release.artifact
        self.state.slots[slot] = {
            "release": release.label,
            "sha": self.ctx.build.sha,
            "digest": artifact.digest if artifact else None,
            "healthy": healthy,
        }
        write_atomically(self.base / STATE_FILE, json.dumps(self.state.as_data(), indent=2))

    def env(self, release_dir: Path | None = None) -> dict[str, str]:
        return super().env(release_dir) | {
            "SLIPWAY_SLOT": self.slot,
            "SLIPWAY_PORT": str(self.port),
            "SLIPWAY_LIVE_SLOT": self.state.live or "",
        }
