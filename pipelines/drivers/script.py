"""The `script` driver: the environment's own `deploy_command` does the work.

It runs with /bin/sh in the project directory, with SLIPWAY_ARTIFACT (the .tar.gz),
SLIPWAY_SHA, SLIPWAY_VERSION, SLIPWAY_ENVIRONMENT and SLIPWAY_PIPELINE set; its output
reaches the log line by line as it comes. Around it, in the seeds' order and each when the
environment gives its command: maintenance on, backup, release (`deploy_command`), release
command (migrations), maintenance off — all run the same way.
"""

from pipelines.drivers.base import RELEASE, RELEASE_COMMAND, Driver


class ScriptDriver(Driver):
    name = "script"

    def uses(self, step: str) -> bool:
        if step == RELEASE_COMMAND:
            return bool(self.settings.get("release_command"))
        return step == RELEASE or self.uses_release_step(step)

    def release(self) -> None:
        self.run(self.setting("deploy_command"))

    def release_command(self) -> None:
        self.run(self.settings["release_command"])
