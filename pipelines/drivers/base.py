"""What every driver shares: the step vocabulary, the release steps of the seeds' deploy
scripts (maintenance on, backup, maintenance off), and the interface the runner calls."""

from pathlib import Path

from django.conf import settings

from pipelines.runner.commands import run_command
from pipelines.runner.context import RunContext, StepFailed

MAINTENANCE_ON = "maintenance on"
BACKUP = "backup"
RELEASE = "release"
RELEASE_COMMAND = "release command"
SWITCH = "switch"
HEALTH_CHECK = "health check"
MAINTENANCE_OFF = "maintenance off"

# The seeds' order (maintenance on → backup → push → migrate → maintenance off), as the
# script and heroku drivers run it; the local driver fits its own steps in
# (docs/deploying.md, "Release steps").
STEPS = (MAINTENANCE_ON, BACKUP, RELEASE, RELEASE_COMMAND, SWITCH, HEALTH_CHECK, MAINTENANCE_OFF)


class Driver:
    """Runs the steps of one deployment. A step named "release command" is the method
    `release_command` ("read-only on": `read_only_on`); `uses` says which steps apply to
    this environment."""

    name = ""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        # Set once maintenance on has started (even if it then failed): from there on,
        # maintenance off runs however the deployment ends (docs/deploying.md).
        self.in_maintenance = False

    def uses(self, step: str) -> bool:
        raise NotImplementedError

    def steps(self) -> list[str]:
        return [step for step in STEPS if self.uses(step)]

    def uses_release_step(self, step: str) -> bool:
        """maintenance on/off and backup: when the environment gives their commands."""
        if step in (MAINTENANCE_ON, MAINTENANCE_OFF):
            return bool(self.settings.get("maintenance_on_command"))
        if step == BACKUP:
            return bool(self.settings.get("backup_command"))
        return False

    def step_timeout(self, step: str) -> float | None:
        """A step's own time limit (None: SLIPWAY_STEP_TIMEOUT_SECONDS)."""
        if step == BACKUP and self.settings.get("backup_timeout"):
            return float(self.settings["backup_timeout"])  # seconds (pipelines/config)
        return None

    def run_step(self, step: str) -> None:
        getattr(self, step.replace(" ", "_").replace("-", "_"))()

    def runs_after_failure(self, step: str) -> bool:
        """A step still due after an earlier one failed or was cancelled."""
        return step == MAINTENANCE_OFF and self.in_maintenance

    # --- the release steps ----------------------------------------------------------------
    def maintenance_on(self) -> None:
        # Recorded first: whoever settles this deployment if its runner dies turns
        # maintenance off (pipelines/runner/run.py, settle_target).
        self.ctx.record_intent(maintenance=True)
        self.in_maintenance = True
        self.set_maintenance(True)

    def backup(self) -> None:
        self.run(self.settings["backup_command"])

    def shielded(self, step: str) -> bool:
        """A step a cancel request does not stop: stopping maintenance off half-way would
        only leave the site in maintenance (its time limit still holds)."""
        return step == MAINTENANCE_OFF

    def maintenance_off(self) -> None:
        self.set_maintenance(False)
        self.in_maintenance = False
        self.ctx.record_intent(maintenance=False)

    def set_maintenance(self, on: bool) -> None:
        """Turn the target's maintenance mode on or off: the environment's commands here."""
        self.run(self.settings["maintenance_on_command" if on else "maintenance_off_command"])

    def run(self, command: str) -> None:
        """Run one of the environment's commands where this driver runs them."""
        run_command(self.ctx, command, cwd=self.command_dir(), env=self.command_env())

    def command_dir(self) -> Path | str:
        return settings.BASE_DIR

    def command_env(self) -> dict[str, str]:
        return self.ctx.command_env()

    # --- after a failure, or a dead runner ------------------------------------------------
    def recover(self) -> None:
        """After a failed or cancelled step: leave the previous release serving."""

    def settle(self) -> tuple[bool, str]:
        """After this deployment's runner died (the reaper calls it): make the target agree
        with the books, from what the runner recorded in `ctx.intent` before each
        irreversible step. Returns (the new release is confirmed, what was done) — the text
        a phrase like "interrupted after the switch; v1 put back", or "" for nothing.
        Maintenance is not this method's business: the runner turns it off after."""
        return False, ""

    def still_serves(self) -> str:
        """The end of a settle phrase when the previous release keeps (or goes back to) serving."""
        current = self.ctx.environment.current_release
        return f"{current.label} still serves" if current else "nothing was deployed here before"

    def setting(self, key: str) -> str:
        value = self.settings.get(key)
        if not value:
            raise StepFailed(f"The {self.name} driver needs `{key}` in the environment's settings.")
        return value
