"""What every driver shares: the step vocabulary and the interface the runner calls."""

from pipelines.runner.context import RunContext, StepFailed

MAINTENANCE_ON = "maintenance on"
BACKUP = "backup"
RELEASE = "release"
RELEASE_COMMAND = "release command"
SWITCH = "switch"
MAINTENANCE_OFF = "maintenance off"
HEALTH_CHECK = "health check"

# The order steps run in (docs/deploying.md); each driver uses the ones it needs.
STEPS = (MAINTENANCE_ON, BACKUP, RELEASE, RELEASE_COMMAND, SWITCH, MAINTENANCE_OFF, HEALTH_CHECK)


class Driver:
    """Runs the steps of one deployment. A step named "release command" is the method
    `release_command` ("read-only on": `read_only_on`); `uses` says which steps apply to
    this environment."""

    name = ""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    def uses(self, step: str) -> bool:
        raise NotImplementedError

    def steps(self) -> list[str]:
        return [step for step in STEPS if self.uses(step)]

    def step_timeout(self, step: str) -> float | None:
        """A step's own time limit (None: SLIPWAY_STEP_TIMEOUT_SECONDS)."""
        return None

    def run_step(self, step: str) -> None:
        getattr(self, step.replace(" ", "_").replace("-", "_"))()

    def recover(self) -> None:
        """After a failed or cancelled step: leave the previous release serving."""

    def settle(self) -> tuple[bool, str]:
        """After this deployment's runner died (the reaper calls it): make the target agree
        with the books, from what the runner recorded in `ctx.intent` before each
        irreversible step. Returns (the new release is confirmed, what was done) — the text
        a phrase like "interrupted after the switch; v1 put back", or "" for nothing."""
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
