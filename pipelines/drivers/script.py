"""The `script` driver: the environment's own `deploy_command` does the work.

It runs with /bin/sh in the project directory, with SLIPWAY_ARTIFACT (the .tar.gz),
SLIPWAY_SHA, SLIPWAY_VERSION, SLIPWAY_ENVIRONMENT and SLIPWAY_PIPELINE set; its output
reaches the log line by line as it comes.
"""

from django.conf import settings

from pipelines.drivers.base import RELEASE, Driver
from pipelines.runner.commands import run_command


class ScriptDriver(Driver):
    name = "script"

    def uses(self, step: str) -> bool:
        return step == RELEASE

    def release(self) -> None:
        run_command(self.ctx, self.setting("deploy_command"), cwd=settings.BASE_DIR)
