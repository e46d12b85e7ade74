"""The demo's blue-green: live behind an nginx that `make run` starts on port 8103.

examples/webshop.toml declares live as blue-green (slots on 8113 and 8123, nginx reloaded
from var/nginx). With nginx installed the demo starts it, in the background like the sample
apps; without it live runs as dev and uat do, on 8103, and `make run` says so.
"""

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.config import PipelineConfig, read_pipeline_file
from pipelines.drivers.local import target_path

NGINX_DIR = "var/nginx"
ROUTER_PORT = 8103
# Live without nginx: the sample app itself on the router's port; one directory less
# between a release and `path` (releases/vN, not <slot>/releases/vN).
PLAIN_LIVE = {
    "restart_command": (
        "python3 current/control.py restart --port 8103 --pidfile app.pid --flags flags.json "
        "--maintenance maintenance.on"
    ),
    "health_url": "http://127.0.0.1:8103/__version__",
    "release_command": "python3 db.py migrate --database ../../shop.sqlite3",
}
# The release steps live keeps without nginx: they run in `path` either way.
KEPT_WITHOUT_NGINX = (
    "health_timeout",
    "maintenance_on_command",
    "backup_command",
    "backup_timeout",
    "maintenance_off_command",
)


def nginx_binary() -> str | None:
    """Debian's nginx is in /usr/sbin, on root's PATH but not every user's."""
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def demo_config(
    path: Path, *, nginx: bool, ports: Mapping[int, int] | None = None, var: str | None = None
) -> PipelineConfig:
    """The demo pipeline: as the file says with nginx, live made plain without it.
    `ports` and `var` move it elsewhere (tests run it on free ports in a temp directory)."""
    config = read_pipeline_file(path)
    environments = []
    for env in config.environments:
        settings = dict(env.driver_settings)
        if not nginx and settings.get("strategy") == "blue-green":
            kept = {key: settings[key] for key in KEPT_WITHOUT_NGINX if key in settings}
            settings = {"path": settings["path"], "health_timeout": 20, **kept, **PLAIN_LIVE}
        settings = {key: _moved(value, ports or {}, var) for key, value in settings.items()}
        # The drift probe asks the same apps: it moves with them.
        version_url = _moved(env.version_url, ports or {}, var)
        environments.append(
            dataclasses.replace(env, driver_settings=settings, version_url=version_url)
        )
    return dataclasses.replace(config, environments=tuple(environments))


def _moved(value, ports: Mapping[int, int], var: str | None):
    if isinstance(value, int) and not isinstance(value, bool):
        return ports.get(value, value)
    if isinstance(value, str):
        for old, new in ports.items():
            value = value.replace(f":{old}", f":{new}").replace(f"--port {old}", f"--port {new}")
        if var and value.startswith("var/"):
            value = f"{var}/{value.removeprefix('var/')}"
    return value


def nginx_conf(directory: Path, port: int, upstream_file: Path) -> str:
    # As root, the workers run as this user (not "nobody"), to use the temp directories here.
    user = "user root;\n" if os.getuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {directory / kind};\n" for kind in ("client_body", "proxy")
    )
    return (
        f"# The demo's router (dashboard/demo_router.py); Slipway rewrites {upstream_file.name}.\n"
        f"{user}worker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'};\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temp}"
        f"    server {{\n        listen 127.0.0.1:{port};\n        include {upstream_file};\n"
        "    }\n}\n"
    )


def running_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def ensure_router(config: PipelineConfig, nginx: str, directory: Path) -> str:
    """Start the demo's nginx unless it runs; returns what to tell the person."""
    live = next(e for e in config.environments if e.driver_settings.get("strategy"))
    settings = live.driver_settings
    port = urlsplit(settings["router_health_url"]).port
    upstream = target_path(settings["upstream_file"])
    if not upstream.exists():
        upstream.parent.mkdir(parents=True, exist_ok=True)
        upstream.write_text("# Nothing is live yet: Slipway writes this at the first switch.\n")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nginx.conf").write_text(nginx_conf(directory, port, upstream))
    stop_plain_live(target_path(settings["path"]))
    if running_pid(directory / "nginx.pid") is None:
        command = [nginx, "-p", str(directory), "-c", "nginx.conf", "-e", "error.log"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return f"nginx did not start on {port}: {result.stderr.strip()}"
    return (
        f"live: blue-green behind nginx on http://127.0.0.1:{port}/ (slots on "
        f"{settings['blue_port']} and {settings['green_port']}); "
        f"stop it with: {nginx} -p {directory} -c nginx.conf -s quit"
    )


def stop_plain_live(target: Path) -> None:
    """A live app left from a run without nginx holds the router's port: stop it."""
    pid = running_pid(target / "app.pid")
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while running_pid(target / "app.pid") and time.monotonic() < deadline:
        time.sleep(0.05)
    (target / "app.pid").unlink(missing_ok=True)
