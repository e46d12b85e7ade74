"""The drift probe against a real HTTP server that changes its answer and then stops, and
against targets that answer badly (too much, too slowly, a redirect, no commit)."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from pipelines import probe
from pipelines.config import load_pipeline_text
from pipelines.models import AuditEvent, Environment, Probe
from pipelines.probe import ProbeFailed, probe_due_environments, read_version
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.live import bearer
from tests.promoting import env, finish_queued
from tests.test_notifications import quick_retries, receiver  # noqa: F401

pytestmark = pytest.mark.django_db


@dataclass
class Target:
    """A real HTTP server standing in for a deployed app's /__version__."""

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    drip_seconds: float = 0  # > 0: send the body one byte at a time, this far apart
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def answer(self, body, status: int = 200, **headers) -> None:
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.status, self.headers = status, headers

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target():
    state = Target()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            if not state.drip_seconds:
                self.wfile.write(state.body)
                return
            for byte in state.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(state.drip_seconds)

        def log_message(self, *args):
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.server.daemon_threads = True
    threading.Thread(target=state.server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{state.server.server_address[1]}/__version__"
    yield state
    if state.server.socket.fileno() != -1:
        state.stop()


def probed(pipeline, target, name="live") -> Environment:
    found = env(pipeline, name)
    Environment.objects.filter(pk=found.pk).update(version_url=target.url, probe_interval=5)
    return env(pipeline, name)


def check_now() -> None:
    """One tick of the probe, as if every environment were due."""
    later = timezone.now() + timezone.timedelta(hours=1)
    with TestCase.captureOnCommitCallbacks(execute=True):  # news leaves after commit
        probe_due_environments(now=later)


def test_the_probe_follows_the_target_from_ok_to_drift_to_unreachable(pipeline, target):
    build = passing_build(pipeline, "master")
    finish_queued(env(pipeline, "uat"))
    uat = probed(pipeline, target, "uat")
    target.answer({"sha": build.sha, "environment": "uat"})
    check_now()
    first = Probe.objects.get(environment=uat)
    assert (first.status, first.serving_sha, first.deployed_sha) == ("ok", build.sha, build.sha)

    target.answer({"sha": "abc1234def"})
    check_now()
    drift = Probe.objects.get(environment=uat)
    assert (drift.status, drift.serving_sha) == ("drift", "abc1234def")
    assert drift.since > first.since

    check_now()  # the same answer again: no new state, the same `since`
    assert Probe.objects.get(environment=uat).since == drift.since

    target.stop()
    check_now()
    down = Probe.objects.get(environment=uat)
    assert down.status == "unreachable" and down.serving_sha == ""
    assert down.detail == "refused or dropped the connection"

    changes = AuditEvent.objects.filter(action="probe_changed").order_by("id")
    assert [e.data["status"] for e in changes] == ["ok", "drift", "unreachable"]
    assert changes[1].message == f"uat: drift: serves abc1234, deployed {build.sha[:7]}"
    assert changes[2].environment_id == uat.pk


def test_the_card_and_the_api_show_what_the_probe_found(pipeline, target, client_for, token_for):
    build = passing_build(pipeline, "master")
    finish_queued(env(pipeline, "uat"))
    uat = probed(pipeline, target, "uat")
    api = Client(headers=bearer(token_for("qa")))

    def card() -> str:
        page = client_for("qa").get("/pipelines/webshop/").content.decode()
        start = page.index('data-env="uat"')
        return page[start : page.index("</article>", start)]

    def probe_json() -> dict:
        envs = api.get("/api/v1/pipelines/webshop").json()["environments"]
        return next(e for e in envs if e["name"] == "uat")["probe"]

    assert "probe: not checked yet" in card() and probe_json() is None
    target.answer(build.sha.encode() + b"\n", **{"Content-Type": "text/plain"})
    check_now()
    assert f'serving <code class="sha">{build.sha[:7]}</code> ✓' in card()
    found = probe_json()
    assert found["status"] == "ok" and found["serving_sha"] == build.sha
    assert set(found) >= {"status", "serving_sha", "checked_at", "since"}

    target.answer({"sha": "abc1234"})
    check_now()
    assert (
        f'<strong>drift:</strong> serves <code class="sha">abc1234</code>, deployed '
        f'<code class="sha">{build.sha[:7]}</code>'
    ) in card()
    target.stop()
    check_now()
    since = Probe.objects.get(environment=uat).since
    unreachable = f'<strong>unreachable</strong> since <time datetime="{since:%Y-%m-%dT%H:%M:%S}'
    assert unreachable in card()
    assert probe_json()["status"] == "unreachable"
    # Environments without version_url carry no probe.
    envs = api.get("/api/v1/pipelines/webshop").json()["environments"]
    assert next(e for e in envs if e["name"] == "dev")["probe"] is None


def test_a_change_of_state_is_news(pipeline, target, receiver):  # noqa: F811
    load_pipeline_text(
        EXAMPLE_TOML.replace(
            'repository_url = "https://github.com/acme/webshop"\n',
            'repository_url = "https://github.com/acme/webshop"\n'
            f'[[pipeline.notifications]]\nkind = "slack"\nurl = "{receiver.url}/slack"\n',
        ),
        source="test",
    )
    probed(pipeline, target, "live")
    target.answer({"sha": "1234567"})
    check_now()
    receiver.wait_for(1)
    assert receiver.bodies("/slack") == [
        {"text": "webshop: live: drift: serves 1234567, deployed nothing"}
    ]


def test_only_environments_that_are_due_and_not_deploying_are_asked(pipeline, target):
    uat = probed(pipeline, target, "uat")
    target.answer({"sha": "1234567"})
    probe_due_environments(now=timezone.now())
    checked = Probe.objects.get(environment=uat).checked_at
    probe_due_environments(now=checked + timezone.timedelta(seconds=4))
    assert Probe.objects.get(environment=uat).checked_at == checked  # 5 s interval
    probe_due_environments(now=checked + timezone.timedelta(seconds=5))
    assert Probe.objects.get(environment=uat).checked_at > checked


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"sha": "93F4021AB"}, "sha", "93f4021ab"),
        ({"build": {"commit": "93f4021"}}, "build.commit", "93f4021"),
        (b"93f4021\n", "sha", "93f4021"),
    ],
)
def test_the_commit_is_read_from_json_or_plain_text(target, body, field, expected):
    target.answer(body)
    assert read_version(target.url, field) == expected


@pytest.mark.parametrize(
    ("body", "status", "headers", "message"),
    [
        ({"sha": "93f4021"}, 302, {"Location": "file:///etc/passwd"}, "answered 302 (a redirect"),
        ({"sha": "93f4021"}, 500, {}, "answered HTTP 500"),
        ({"version": "1.2"}, 200, {}, "answered JSON without the field 'sha'"),
        ({"sha": "<script>"}, 200, {}, "'<script>', which is not a commit sha"),
        ({"sha": {"nested": 1}}, 200, {}, "answered dict, which is not a commit sha"),
        (b"x" * (probe.MAX_BYTES + 1), 200, {}, "answered more than 64 KiB"),
    ],
)
def test_a_bad_answer_is_unreachable_with_the_reason(target, body, status, headers, message):
    target.answer(body, status, **headers)
    with pytest.raises(ProbeFailed) as caught:
        read_version(target.url)
    assert message in str(caught.value)


def test_a_target_dripping_its_answer_is_cut_off(target, monkeypatch):
    monkeypatch.setattr(probe, "ANSWER_TIMEOUT", 1)
    target.answer({"sha": "93f4021"})
    target.drip_seconds = 0.2
    started = time.monotonic()
    with pytest.raises(ProbeFailed, match="took more than 1 s to answer"):
        read_version(target.url)
    assert time.monotonic() - started < 3


def test_pipeline_toml_sets_the_probe_and_refuses_bad_settings(db):
    from pipelines.errors import ConfigError

    text = (
        '[pipeline]\nname = "shop"\n[[environments]]\nname = "live"\n'
        'version_url = "http://127.0.0.1:8103/__version__"\nversion_field = "build.sha"\n'
        'probe_interval = "2m"\n'
    )
    live = load_pipeline_text(text, source="p.toml").environments.get()
    assert (live.version_url, live.version_field, live.probe_interval) == (
        "http://127.0.0.1:8103/__version__",
        "build.sha",
        120,
    )
    for bad, message in (
        ('"2m"', "probe_interval must be seconds from 5 to 86400"),
        ("2", "probe_interval must be seconds from 5 to 86400"),
        ('"build..sha"', "version_field"),
        ('"ftp://example.com/v"', "version_url must be an http:// or https:// URL"),
    ):
        if "probe_interval" in message:
            changed = text.replace('"2m"', bad if bad != '"2m"' else '"2x"')
        elif "version_field" in message:
            changed = text.replace('"build.sha"', bad)
        else:
            changed = text.replace('"http://127.0.0.1:8103/__version__"', bad)
        with pytest.raises(ConfigError, match=message):
            load_pipeline_text(changed, source="p.toml")


def test_the_demo_probes_its_sample_apps_wherever_they_run():
    from dashboard.demo import DEMO_PIPELINE
    from dashboard.demo_router import demo_config

    moved = demo_config(DEMO_PIPELINE, nginx=True, ports={8101: 9101, 8102: 9102, 8103: 9103})
    assert {env.name: (env.version_url, env.probe_interval) for env in moved.environments} == {
        "dev": ("http://127.0.0.1:9101/__version__", 15),
        "uat": ("http://127.0.0.1:9102/__version__", 15),
        "live": ("http://127.0.0.1:9103/__version__", 15),
    }
