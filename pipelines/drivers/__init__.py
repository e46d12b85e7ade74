"""Drivers make a release current on a target (docs/deploying.md): a local directory, the
environment's own script, or a Heroku app."""

from pipelines.drivers.base import MAINTENANCE_OFF, STEPS, Driver
from pipelines.runner.context import RunContext


def driver_for(ctx: RunContext) -> Driver | None:
    """The driver of the deployment's environment; None records the release only."""
    from pipelines.drivers.blue_green import STRATEGY, BlueGreenDriver
    from pipelines.drivers.heroku import HerokuDriver
    from pipelines.drivers.local import LocalDriver
    from pipelines.drivers.script import ScriptDriver

    drivers = {d.name: d for d in (LocalDriver, ScriptDriver, HerokuDriver)}
    name = ctx.environment.driver
    if not name:
        return None
    if name not in drivers:
        raise ValueError(f"Unknown driver {name!r} for {ctx.environment}.")
    if name == LocalDriver.name and ctx.settings.get("strategy") == STRATEGY:
        return BlueGreenDriver(ctx)
    return drivers[name](ctx)


__all__ = ["MAINTENANCE_OFF", "STEPS", "Driver", "driver_for"]
