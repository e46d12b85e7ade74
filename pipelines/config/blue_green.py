"""Checking `strategy` and the blue-green keys of an environment's driver settings
(docs/blue-green.md): two slots on two ports behind a router, each checked on its own port."""

from typing import Any

from pipelines.config.reader import Reader, Where, quoted
from pipelines.config.schema import BLUE_GREEN_REQUIRED, BLUE_GREEN_SETTINGS, ROUTERS, STRATEGIES


def check_strategy(reader: Reader, where: Where, settings: dict[str, Any]) -> None:
    strategy = settings.get("strategy", "")
    if strategy not in STRATEGIES:
        choices = ", ".join(map(quoted, STRATEGIES[1:]))
        reader.fail(where, f'strategy "{strategy}" is not {choices} (or absent)', key="strategy")
    if strategy != "blue-green":
        for key in BLUE_GREEN_SETTINGS:
            if key in settings:
                reader.fail(where, f'{key} needs strategy = "blue-green"', key=key)
        return
    for key in BLUE_GREEN_REQUIRED:
        if key not in settings or settings[key] == "":
            reader.fail(where, f'strategy "blue-green" needs {key}', key="strategy")
    if settings["router"] not in ROUTERS:
        choices = ", ".join(map(quoted, ROUTERS))
        reader.fail(where, f'router "{settings["router"]}" is not {choices}', key="router")
    for key in ("blue_port", "green_port"):
        if not 1 <= settings[key] <= 65535:
            reader.fail(where, f"{key} must be a port number from 1 to 65535", key=key)
    if settings["blue_port"] == settings["green_port"]:
        reader.fail(where, "green_port must differ from blue_port", key="green_port")
    if "router_health_url" in settings:
        reader.url(where, settings, "router_health_url")
    if "{port}" not in settings["health_url"]:
        reader.fail(
            where,
            "health_url must say {port}: each slot is checked on its own port "
            '(e.g. "http://127.0.0.1:{port}/__version__")',
            key="health_url",
        )
