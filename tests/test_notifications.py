"""Deploy and promotion news: Slack, a signed JSON webhook and e-mail, sent in the background,
retried, and never failing the deployment. The endpoints are a local HTTP server."""

import hashlib
import hmac
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.core import mail
from django.test import TestCase

from pipelines.config import load_pipeline_text
from pipelines.errors import ConfigError
from pipelines.notifications import DeliveryFailed, deliver, send
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.promoting import deploy, env, sign_everything, uat_runs_a_new_build
from tests.services import need_redis
from tests.test_promote import promote_live

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    url: str
    received: list[tuple[str, dict, bytes]] = field(default_factory=list)
    # Statuses to answer, in order; 200 once they run out.
    answers: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int) -> None:
        """Until `count` requests came (bounded, so a broken sender fails instead of hanging)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=60)

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(body) for p, _, body in self.received if p == path]


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.arrived:  # recorded before answering: the sender sees it done
                state.received.append((self.path, dict(self.headers), body))
                state.arrived.notify_all()
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{state.url}/redirected")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(settings, monkeypatch):
    settings.REDIS_URL = ""  # in this process (no server loop here: at once), not on a worker
    settings.SLIPWAY_NOTIFICATION_RETRY_DELAYS = (0, 0)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)


def with_notifications(url: str) -> str:
    return EXAMPLE_TOML.replace(
        'repository_url = "https://github.com/acme/webshop"\n',
        'repository_url = "https://github.com/acme/webshop"\n\n'
        f'[[pipeline.notifications]]\nkind = "slack"\nurl = "{url}/slack"\n\n'
        f'[[pipeline.notifications]]\nkind = "webhook"\nurl = "{url}/hook"\n'
        'secret_env = "WEBHOOK_SECRET"\n\n'
        '[[pipeline.notifications]]\nkind = "email"\nto = "team@example.com"\n',
    )


def test_pipeline_toml_lists_where_news_goes(pipeline, receiver):
    loaded = load_pipeline_text(with_notifications(receiver.url))
    assert loaded.notifications == [
        {"kind": "slack", "url": f"{receiver.url}/slack"},
        {"kind": "webhook", "url": f"{receiver.url}/hook", "secret_env": "WEBHOOK_SECRET"},
        {"kind": "email", "to": "team@example.com"},
    ]


def test_a_bad_notification_target_is_refused_naming_it(pipeline):
    bad = EXAMPLE_TOML.replace(
        'repository_url = "https://github.com/acme/webshop"\n',
        'repository_url = "https://github.com/acme/webshop"\n'
        '[[pipeline.notifications]]\nkind = "pager"\n',
    )
    with pytest.raises(ConfigError, match='notifications.* #1: kind "pager" is not one of'):
        load_pipeline_text(bad)


def test_slack_gets_a_text_for_deploy_start_and_success(pipeline, receiver):
    load_pipeline_text(with_notifications(receiver.url))
    dev = env(pipeline, "dev")
    release = deploy(dev, passing_build(pipeline, "feature/x"))
    texts = [body["text"] for body in receiver.bodies("/slack")]
    short = release.build.short_sha
    assert sorted(texts) == sorted(
        [
            f"webshop: deploying v1 of {short} to dev (manual deploy)",
            f"webshop: dev now runs v1 of {short}",
        ]
    )
    assert all(set(body) == {"text"} for body in receiver.bodies("/slack"))


def test_the_webhook_body_and_its_timestamp_are_signed_with_hmac_sha256(pipeline, receiver):
    load_pipeline_text(with_notifications(receiver.url))
    release = deploy(env(pipeline, "dev"), passing_build(pipeline, "feature/x"))
    hooks = [(headers, body) for path, headers, body in receiver.received if path == "/hook"]
    assert len(hooks) == 2
    for headers, body in hooks:
        timestamp = headers["X-Slipway-Timestamp"]
        assert abs(int(timestamp) - time.time()) < 60
        signed = timestamp.encode() + b"." + body  # the time is signed too: no replays
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["X-Slipway-Signature"] == f"sha256={expected}"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Slipway-Event"] == json.loads(body)["event"]
    succeeded = next(b for b in receiver.bodies("/hook") if b["event"] == "deployment.succeeded")
    assert succeeded["environment"] == "dev" and succeeded["version"] == "v1"
    assert succeeded["sha"] == release.build.sha
    assert succeeded["digest"] == release.artifact.digest
    assert succeeded["path"] == f"/deployments/{succeeded['deployment']}/"


def test_an_email_goes_to_the_team(pipeline, receiver):
    load_pipeline_text(with_notifications(receiver.url))
    release = deploy(env(pipeline, "dev"), passing_build(pipeline, "feature/x"))
    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == sorted(
        [
            f"[Slipway] webshop: deploying v1 of {release.build.short_sha} to dev (manual deploy)",
            f"[Slipway] webshop: dev now runs v1 of {release.build.short_sha}",
        ]
    )
    assert mail.outbox[0].to == ["team@example.com"]
    assert f"sha: {release.build.sha}" in mail.outbox[0].body


def test_a_promotion_announces_itself_with_the_digest(pipeline, users, receiver):
    candidate = uat_runs_a_new_build(pipeline)
    load_pipeline_text(with_notifications(receiver.url))
    sign_everything(pipeline, users)
    promote_live(pipeline, users["lead"])
    events = {body["event"]: body for body in receiver.bodies("/hook")}
    assert set(events) == {"deployment.started", "promotion.done"}
    done = events["promotion.done"]
    assert done["digest"] == candidate.artifact.digest and done["promoted_from"] == "uat"
    assert done["by"] == "lead"
    assert (
        f"webshop: promoted {candidate.build.short_sha} ({candidate.artifact.digest}) "
        "from uat to live as v1"
    ) in [body["text"] for body in receiver.bodies("/slack")]


def test_a_failed_delivery_is_retried(pipeline, receiver, caplog):
    load_pipeline_text(
        EXAMPLE_TOML.replace(
            'repository_url = "https://github.com/acme/webshop"\n',
            'repository_url = "https://github.com/acme/webshop"\n'
            f'[[pipeline.notifications]]\nkind = "slack"\nurl = "{receiver.url}/slack"\n',
        )
    )
    receiver.answers = [500, 503]  # the first two attempts fail
    deploy(env(pipeline, "dev"), passing_build(pipeline, "feature/x"))
    assert len(receiver.received) == 4  # two events, each delivered; two failed tries between
    assert sorted(body["text"] for body in receiver.bodies("/slack"))[0].startswith("webshop:")
    assert len(re.findall(r"slack notification deployment\.\w+ failed \(attempt", caplog.text)) == 2
    assert "gave up" not in caplog.text


def test_an_unreachable_endpoint_never_fails_the_deployment(pipeline, caplog):
    load_pipeline_text(with_notifications("http://127.0.0.1:9"))  # nothing listens there
    release = deploy(env(pipeline, "dev"), passing_build(pipeline, "feature/x"))
    assert release.deployment.status == "succeeded"
    assert "gave up on the slack notification deployment.succeeded" in caplog.text
    assert "gave up on the webhook notification deployment.succeeded" in caplog.text


def test_with_redis_a_celery_worker_delivers_and_retries(receiver, settings, tmp_path):
    """REDIS_URL set: the news is a Celery task; a real worker process sends it."""
    url = need_redis()
    # A queue of this test's own: other test runs may share this Redis.
    queue = f"notifications-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL, settings.CELERY_TASK_DEFAULT_QUEUE = url, queue
    receiver.answers = [502]  # the first try fails: the task retries itself
    with TestCase.captureOnCommitCallbacks(execute=True):
        send(
            [{"kind": "slack", "url": f"{receiver.url}/slack"}],
            {"event": "deployment.succeeded", "text": "webshop: live now runs v3"},
        )
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:  # a file, not a pipe nobody reads while it runs
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--pool=solo"),
                *("-Q", queue, "--without-gossip", "--without-mingle", "-l", "info"),
            ],
            env={
                **os.environ,
                "REDIS_URL": url,
                "SLIPWAY_DEFAULT_QUEUE": queue,
                "SLIPWAY_VAR_DIR": str(tmp_path),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        receiver.wait_for(2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    output = log_path.read_text(errors="replace")
    assert receiver.bodies("/slack") == [{"text": "webshop: live now runs v3"}] * 2, output
    assert "slack notification deployment.succeeded failed (attempt 1 of 3)" in output, output
    redis.Redis.from_url(url).delete(queue)


def test_with_the_broker_down_the_news_still_leaves_from_here(receiver, settings, caplog):
    """REDIS_URL set but nothing listens there: the delivery runs in this process instead."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with TestCase.captureOnCommitCallbacks(execute=True):
        send(
            [{"kind": "slack", "url": f"{receiver.url}/slack"}],
            {"event": "deployment.succeeded", "text": "webshop: live now runs v3"},
        )
    assert receiver.bodies("/slack") == [{"text": "webshop: live now runs v3"}]
    assert "could not queue a slack notification; sending it here" in caplog.text


def test_a_redirect_is_not_followed(pipeline, receiver, caplog):
    receiver.answers = [302, 302, 302]
    target = {"kind": "webhook", "url": f"{receiver.url}/hook", "secret_env": "WEBHOOK_SECRET"}
    payload = {"event": "deployment.succeeded", "text": "webshop: live now runs v3"}

    with pytest.raises(DeliveryFailed, match="answered 302 .a redirect, not followed"):
        deliver(target, payload)

    assert [path for path, _, _ in receiver.received] == ["/hook"]  # never /redirected


@pytest.fixture
def trickler():
    """A server that accepts, then sends one byte every 0.2 s and never finishes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    def trickle(connection):
        with connection:
            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: 1\r\n220-slow\r\n"):
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield listener.getsockname()[1]
    stop.set()
    server.join(timeout=5)
    listener.close()


def test_a_webhook_that_trickles_its_answer_is_cut_off_at_the_deadline(trickler, settings):
    settings.SLIPWAY_NOTIFICATION_SECONDS = 1
    target = {"kind": "slack", "url": f"http://127.0.0.1:{trickler}/slack"}
    started = time.monotonic()

    with pytest.raises(DeliveryFailed, match="took longer than 1 s"):
        deliver(target, {"event": "deployment.succeeded", "text": "x"})

    assert time.monotonic() - started < 5  # not the many minutes the trickle would take


def test_an_smtp_server_that_hangs_is_cut_off_at_the_deadline(trickler, settings):
    settings.SLIPWAY_NOTIFICATION_SECONDS = 1
    settings.MAILERS = {
        "default": {
            "BACKEND": "pipelines.deadline.SMTPBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": trickler, "timeout": 10, "use_tls": False},
        }
    }
    started = time.monotonic()

    with pytest.raises(DeliveryFailed, match="sending e-mail took longer than 1 s"):
        deliver({"kind": "email", "to": "team@example.com"}, {"event": "x", "text": "x"})

    assert time.monotonic() - started < 5
