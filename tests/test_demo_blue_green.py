"""The demo's live environment: blue-green behind the nginx `make run` starts, or the plain
local driver without nginx. Run here on free ports in a temporary directory (never 8103)."""

import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from dashboard.demo import DEMO_PIPELINE, ensure_flags_file
from dashboard.demo_router import demo_config, ensure_router, nginx_binary
from pipelines.config.apply import load_config
from pipelines.deploys import request_deployment
from pipelines.models import DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import free_port, sample_build, stop_app
from tests.services import need


def test_without_nginx_live_is_the_plain_local_driver_on_the_routers_port():
    live = demo_config(DEMO_PIPELINE, nginx=False).environments[-1]
    assert live.name == "live" and "strategy" not in live.driver_settings
    assert live.driver_settings["health_url"] == "http://127.0.0.1:8103/__version__"
    assert "--port 8103" in live.driver_settings["restart_command"]
    assert "--flags flags.json" in live.driver_settings["restart_command"]
    # The release steps stay, the migration one directory closer (no slot in between).
    assert "--maintenance maintenance.on" in live.driver_settings["restart_command"]
    assert live.driver_settings["release_command"].endswith("--database ../../shop.sqlite3")
    for key in ("maintenance_on_command", "backup_command", "maintenance_off_command"):
        assert live.driver_settings[key], key


@pytest.fixture
def demo(tmp_path, slipway_server, fast_runner, held_deployments):
    """The demo pipeline moved to free ports under tmp_path, its nginx started."""
    nginx = nginx_binary()
    need(nginx is not None, "nginx is not installed (apt-get install nginx)")
    ports = {port: free_port() for port in (8101, 8102, 8103, 8113, 8123)}
    var = tmp_path / "var"
    config = demo_config(DEMO_PIPELINE, nginx=True, ports=ports, var=str(var))
    note = ensure_router(config, nginx, var / "nginx")
    try:
        pipeline = load_config(config)
        live = pipeline.environments.get(name="live")
        ensure_flags_file(live, slipway_server.url)
        yield live, f"http://127.0.0.1:{ports[8103]}", note
    finally:
        quit_nginx = [nginx, "-p", str(var / "nginx"), "-c", "nginx.conf", "-s", "quit"]
        subprocess.run(quit_nginx, check=False)
        for slot in ("blue", "green"):
            stop_app(var / "targets" / "live" / slot)


def get(url: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=10)


LIVE_STEPS = [
    "release",
    "maintenance on",
    "backup",
    "release command",
    "start idle slot",
    "health check",
    "switch",
    "maintenance off",
]


class Watcher:
    """GET / through the router every 20 ms, in a thread, remembering each answer."""

    def __init__(self, url: str) -> None:
        self.url, self.stop, self.seen = url, threading.Event(), []
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stop.is_set():
            try:
                response = get(self.url)
                self.seen.append((response.status_code, response.text))
            except requests.RequestException as exc:
                self.seen.append((0, repr(exc)))
            time.sleep(0.02)

    def wait_for_answers_asked_after_now(self, timeout: float = 10) -> None:
        """Until two more answers came: the second was asked wholly after this call (the one in
        flight may have been asked while maintenance was still on)."""
        wanted, deadline = len(self.seen) + 2, time.monotonic() + timeout
        while len(self.seen) < wanted and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> "Watcher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def test_the_demos_live_runs_blue_green_behind_its_nginx_with_gift_cards_for_qa(demo):
    live, router, note = demo
    assert note.startswith(f"live: blue-green behind nginx on {router}/")
    first, second = sample_build(live.pipeline, "First"), sample_build(live.pipeline, "Second")
    for build in (first, second):
        deployment = run_deployment(request_deployment(live, build, cause="manual").pk)
        assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
        assert get(router + "/__version__").json()["sha"] == build.sha

    assert 'id="gift-cards"' in get(router + "/?user=quinn&groups=qa").text
    assert 'id="gift-cards"' not in get(router + "/?user=carl").text


def test_the_demos_live_deploy_passes_through_the_four_release_steps_behind_a_maintenance_page(
    demo,
):
    live, router, _ = demo
    base = Path(live.driver_settings["path"])
    first, second = sample_build(live.pipeline, "First"), sample_build(live.pipeline, "Second")
    assert run_deployment(request_deployment(live, first, cause="manual").pk).status == "succeeded"

    with Watcher(router + "/") as watcher:
        deployment = run_deployment(request_deployment(live, second, cause="manual").pk)
        watcher.wait_for_answers_asked_after_now()

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    steps = list(deployment.steps.values_list("name", "status"))
    assert steps == [(step, "succeeded") for step in LIVE_STEPS]
    log = list(deployment.log_lines.values_list("text", flat=True))
    assert "Saved backups/shop-before-v2.sqlite3" in log  # v1 made the database: v2 backs it up
    assert (base / "backups" / "shop-before-v2.sqlite3").stat().st_size > 0
    migrating = log[log.index("▶ release command") : log.index("▶ start idle slot")]
    assert "No migrations to apply." in migrating, migrating  # v1 applied them
    assert not (base / "maintenance.on").exists()
    # People saw the first release, then the maintenance page, then the second release.
    statuses = [status for status, _ in watcher.seen]
    assert 503 in statuses, statuses
    down = next(text for status, text in watcher.seen if status == 503)
    assert "is being updated" in down and "Back in a minute: deploying v2." in down
    assert statuses[-1] == 200 and second.short_sha in watcher.seen[-1][1]
    assert set(statuses) == {200, 503}, statuses  # never an error, never refused


def test_load_demo_starts_nginx_and_live_serves_through_it(
    tmp_path, transactional_db, settings, fast_runner, monkeypatch
):
    """`make run`'s demo command, as it is, on free ports under tmp_path."""
    from io import StringIO

    from django.core.management import call_command

    from dashboard.demo import NEWER, OLDER
    from dashboard.management.commands import load_demo

    nginx = nginx_binary()
    need(nginx is not None, "nginx is not installed (apt-get install nginx)")
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
    ports = {port: free_port() for port in (8101, 8102, 8103, 8113, 8123)}
    var = tmp_path / "var"
    moved = lambda path, nginx: demo_config(path, nginx=nginx, ports=ports, var=str(var))  # noqa: E731
    monkeypatch.setattr(load_demo, "demo_config", moved)
    monkeypatch.setattr(load_demo, "NGINX_DIR", str(var / "nginx"))
    out = StringIO()
    try:
        call_command("load_demo", url="http://127.0.0.1:9", stdout=out)
        router = f"http://127.0.0.1:{ports[8103]}"
        assert f"live: blue-green behind nginx on {router}/" in out.getvalue()
        assert f"live  serves {OLDER[:7]} at {router}/__version__ (nginx → blue)" in out.getvalue()
        assert get(router + "/__version__").json()["sha"] == OLDER
        assert f"uat   serves {NEWER[:7]}" in out.getvalue()  # one build ahead of live
    finally:
        quit_nginx = [nginx, "-p", str(var / "nginx"), "-c", "nginx.conf", "-s", "quit"]
        subprocess.run(quit_nginx, check=False)
        for target in ("dev", "uat", "live/blue", "live/green"):
            stop_app(var / "targets" / target)
