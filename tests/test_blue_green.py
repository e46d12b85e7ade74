"""Blue-green behind a real nginx: traffic moves to the idle slot only once it is healthy,
without a failed request, and a rollback to what the other slot runs is a switch back."""

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dashboard.demo import SAMPLE_APP
from pipelines.deploys import request_deployment, rollback
from pipelines.models import DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import free_port, sample_build, stop_app
from tests.nginx import _nginx_binary, start_nginx

# nginx's reload starts new workers and lets the old ones accept for about 100 ms more
# (the master waits that long before telling them to stop), so one client's requests must
# be further apart than that to see "old, then new" and never "old, new, old". Many such
# clients at once make the load: 16 clients, 2.5 requests a second each.
CLIENTS = 16
CLIENT_INTERVAL = 0.4
LOAD_MAX_SECONDS = 60  # the generator stops by itself, whatever happens to the test
LOAD_MAX_REQUESTS = 2000  # per client


@dataclass
class Client:
    """One client: GET /__version__ through nginx at a steady rate, each on a new
    connection, remembering what it got."""

    port: int
    stop: threading.Event
    served: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        deadline = time.monotonic() + LOAD_MAX_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            if len(self.served) + len(self.failures) >= LOAD_MAX_REQUESTS:
                break
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/__version__")
                response = connection.getresponse()
                body = response.read()
                if response.status == 200:
                    self.served.append(json.loads(body)["sha"])
                else:
                    self.failures.append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.failures.append(repr(exc))
            finally:
                connection.close()
            time.sleep(CLIENT_INTERVAL)

    def flips(self) -> list[tuple[str, str]]:
        pairs = zip(self.served, self.served[1:], strict=False)
        return [(a[:7], b[:7]) for a, b in pairs if a != b]


@dataclass
class Load:
    clients: list[Client]

    @property
    def failures(self) -> list[str]:
        return [failure for client in self.clients for failure in client.failures]

    @property
    def served(self) -> int:
        return sum(len(client.served) for client in self.clients)

    def versions(self) -> set[str]:
        return {sha for client in self.clients for sha in client.served}

    def flips(self) -> set[tuple[tuple[str, str], ...]]:
        """What each client saw change, as a set: one element when all saw the same."""
        return {tuple(client.flips()) for client in self.clients}


class Router:
    def __init__(self, base: Path):
        self.upstream = base / "upstream.conf"
        self.upstream.write_text("")  # nothing live yet
        self.directory = base / "nginx"
        self.proxy = None

    def http(self, port: int) -> str:
        return f"server {{ listen 127.0.0.1:{port}; include {self.upstream}; }}"

    def reload_command(self) -> str:
        config = self.directory / "nginx.conf"
        prefix = f"-p {self.directory} -c {config} -e {self.directory / 'error.log'}"
        return f"{_nginx_binary()} {prefix} -s reload"

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.proxy.port}{path}"

    def served_sha(self) -> str:
        return json.loads(self.get("/__version__")[1])["sha"]


@pytest.fixture
def router(tmp_path):
    router = Router(tmp_path)
    with start_nginx(router.directory, router.http) as proxy:
        router.proxy = proxy
        yield router


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "live"
    yield path
    for slot in ("blue", "green"):
        stop_app(path / slot)


def blue_green(env, target: Path, router: Router, **extra):
    env.driver = "local"
    env.driver_settings = {
        "path": str(target),
        "strategy": "blue-green",
        "router": "nginx",
        "upstream_file": str(router.upstream),
        "reload_command": router.reload_command(),
        "router_health_url": router.url("/__version__"),
        "blue_port": free_port(),
        "green_port": free_port(),
        "restart_command": "python3 current/control.py restart --port {port} --pidfile app.pid",
        "health_url": "http://127.0.0.1:{port}/__version__",
        "health_timeout": 10,
        **extra,
    }
    env.save(update_fields=["driver", "driver_settings"])
    return env


@pytest.fixture
def live(pipeline, target, router, fast_runner):
    return blue_green(pipeline.environments.get(name="live"), target, router)


def deploy(env, build):
    deployment = run_deployment(request_deployment(env, build, cause="manual").pk)
    env.refresh_from_db()
    return deployment


def under_load(router: Router, action):
    stop = threading.Event()
    load = Load([Client(router.proxy.port, stop) for _ in range(CLIENTS)])
    threads = [threading.Thread(target=client.run, daemon=True) for client in load.clients]
    for thread in threads:
        thread.start()
        time.sleep(CLIENT_INTERVAL / CLIENTS)  # spread over the interval: a steady rate
    time.sleep(0.5)  # traffic before
    result = action()
    time.sleep(1.5)  # and after
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return load, result


def log_of(deployment) -> str:
    return "\n".join(deployment.log_lines.values_list("text", flat=True))


def steps_of(deployment) -> list[str]:
    return list(deployment.steps.values_list("name", flat=True))


def slots(target: Path) -> dict:
    return json.loads((target / "slots.json").read_text())


def test_deploy_and_rollback_under_load_drop_no_request_and_flip_once(
    live, target, router, client_for
):
    first, second = sample_build(live.pipeline, "First"), sample_build(live.pipeline, "Second")
    assert deploy(live, first).status == DeploymentStatus.SUCCEEDED
    assert router.served_sha() == first.sha
    blue_pid = (target / "blue" / "app.pid").read_text()

    load, deployment = under_load(router, lambda: deploy(live, second))

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert steps_of(deployment) == ["release", "start idle slot", "health check", "switch"]
    assert load.failures == [], router.proxy.log()  # why nginx failed them
    assert load.flips() == {((first.short_sha, second.short_sha),)}, load.flips()
    assert load.served > 100
    assert slots(target)["live"] == "green"
    # The old slot keeps running its release, on its own port.
    assert (target / "blue" / "app.pid").read_text() == blue_pid
    blue = http.client.HTTPConnection("127.0.0.1", live.driver_settings["blue_port"], timeout=5)
    blue.request("GET", "/__version__")
    assert json.loads(blue.getresponse().read())["sha"] == first.sha
    blue.close()

    lead = live.pipeline.environments.model._meta.apps.get_model("auth", "User")
    lead = lead.objects.create_superuser("boss", "boss@example.com", "pw")
    undo = rollback(live, "v1", by=lead, reason="v2 misbehaves")  # live has a checklist
    load, deployment = under_load(router, lambda: run_deployment(undo.pk))

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert steps_of(deployment) == ["start idle slot", "health check", "switch"]  # no unpack
    assert "still holds" in log_of(deployment)
    assert (target / "blue" / "app.pid").read_text() == blue_pid  # not even restarted
    assert load.failures == [], router.proxy.log()  # why nginx failed them
    assert load.flips() == {((second.short_sha, first.short_sha),)}, load.flips()
    assert slots(target)["live"] == "blue"
    live.refresh_from_db()
    assert live.current_release == deployment.release
    card = client_for("developer").get("/pipelines/webshop/").content.decode()
    assert "<strong>Live: blue</strong>" in card and f"runs v3 · {sha_span(first)}" in card
    assert "green (idle)" in card and f"runs v2 · {sha_span(second)}" in card


def sha_span(build) -> str:
    return f'<span class="sha" title="{build.sha}">{build.short_sha}</span>'


def test_a_failing_health_check_on_the_idle_slot_leaves_traffic_on_the_live_slot(
    live, target, router
):
    good = sample_build(live.pipeline, "Good")
    assert deploy(live, good).status == DeploymentStatus.SUCCEEDED
    upstream_before = router.upstream.read_text()
    wrong = (
        (SAMPLE_APP / "app.py")
        .read_bytes()
        .replace(b'"sha": lines[0].strip()', b'"sha": "not-this-commit"')
    )
    broken = sample_build(live.pipeline, "Broken", **{"app.py": wrong})
    live.driver_settings["health_timeout"] = 1
    live.save(update_fields=["driver_settings"])

    load, deployment = under_load(router, lambda: deploy(live, broken))

    assert deployment.status == DeploymentStatus.FAILED
    assert "did not report" in deployment.error
    assert [s.name for s in deployment.steps.filter(status="skipped")] == ["switch"]
    assert load.failures == [], router.proxy.log()  # why nginx failed them
    assert load.versions() == {good.sha} and load.served > 50
    assert router.upstream.read_text() == upstream_before
    assert slots(target)["live"] == "blue"
    assert slots(target)["slots"]["green"]["healthy"] is False
    assert live.current_release.build == good


def test_read_only_mode_is_on_only_around_the_switch(live, target, router):
    live.driver_settings |= {
        "read_only_on_command": "echo on >> read-only.log",
        "read_only_off_command": "echo off >> read-only.log",
    }
    live.save(update_fields=["driver_settings"])
    deployment = deploy(live, sample_build(live.pipeline, "First"))
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert steps_of(deployment)[-3:] == ["read-only on", "switch", "read-only off"]
    assert (target / "read-only.log").read_text() == "on\noff\n"


def test_a_failed_reload_puts_the_upstream_file_back_and_read_only_off(live, target, router):
    good, later = sample_build(live.pipeline, "Good"), sample_build(live.pipeline, "Later")
    assert deploy(live, good).status == DeploymentStatus.SUCCEEDED
    upstream_before = router.upstream.read_text()
    live.driver_settings |= {
        "reload_command": "exit 3",
        "read_only_on_command": "echo on >> read-only.log",
        "read_only_off_command": "echo off >> read-only.log",
    }
    live.save(update_fields=["driver_settings"])

    deployment = deploy(live, later)

    assert deployment.status == DeploymentStatus.FAILED
    assert router.upstream.read_text() == upstream_before
    assert "Put " in log_of(deployment) and slots(target)["live"] == "blue"
    assert router.served_sha() == good.sha
    assert (target / "read-only.log").read_text() == "on\noff\n"


def test_with_mirroring_the_idle_slot_receives_a_copy_of_live_traffic(
    pipeline, target, router, fast_runner
):
    live = blue_green(pipeline.environments.get(name="live"), target, router, mirror=True)
    source = (SAMPLE_APP / "app.py").read_bytes()
    quiet = b"    def log_message(self, format: str, *args) -> None:"
    assert quiet in source
    # This build logs every request it gets (into app.log in its slot's directory).
    talkative = source.replace(quiet, quiet + b"\n        print(self.requestline, flush=True)")
    first = sample_build(pipeline, "Logs requests", **{"app.py": talkative})
    second = sample_build(pipeline, "Live one")
    assert deploy(live, first).status == DeploymentStatus.SUCCEEDED
    assert "mirror" not in router.upstream.read_text()  # one slot: nothing to copy to yet
    assert deploy(live, second).status == DeploymentStatus.SUCCEEDED  # blue is idle now

    status, body = router.get("/?mirror-check=42")

    assert status == 200 and b"Live one" in body  # the client gets live's answer
    idle_log = target / "blue" / "app.log"
    deadline = time.monotonic() + 5
    while b"GET /?mirror-check=42" not in idle_log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"GET /?mirror-check=42 HTTP" in idle_log.read_bytes()
    assert "mirror /__slipway_mirror;" in router.upstream.read_text()


def test_a_switch_cut_short_is_finished_and_the_live_slot_is_never_deployed_over(
    live, target, router
):
    first, second = sample_build(live.pipeline, "First"), sample_build(live.pipeline, "Second")
    assert deploy(live, first).status == DeploymentStatus.SUCCEEDED
    assert deploy(live, second).status == DeploymentStatus.SUCCEEDED
    # Power cut after the upstream file was written, before slots.json was.
    state = slots(target) | {"live": "blue"}
    (target / "slots.json").write_text(json.dumps(state))
    green_pid = (target / "green" / "app.pid").read_text()

    third = sample_build(live.pipeline, "Third")
    load, deployment = under_load(router, lambda: deploy(live, third))

    assert deployment.status == DeploymentStatus.SUCCEEDED, log_of(deployment)
    assert "finishing the switch that was cut short" in log_of(deployment)
    assert (target / "green" / "app.pid").read_text() == green_pid  # live was not touched
    assert slots(target)["live"] == "blue" and router.served_sha() == third.sha
    assert load.failures == [], router.proxy.log()  # why nginx failed them
    assert load.flips() == {((second.short_sha, third.short_sha),)}, load.flips()
