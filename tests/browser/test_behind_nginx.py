"""Production's shape, for real: nginx with docs/deploying-behind-nginx.md's configuration in
front of two daphne processes, two Celery workers (one with beat) on PostgreSQL and Redis,
and everyone in Chromium through nginx. A developer watches live's deployment, run by a
worker, while the sign-offs and the promotion go through nginx to both web processes; the
daphne holding the developer's socket is killed mid-stream, and the page reconnects through
nginx to the other and shows every line once."""

import contextlib
import re
import sys
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from playwright.sync_api import expect

from dashboard.settings import redis_channel_layers
from pipelines.models import Deployment, Environment
from tests.browser.conftest import confirm, in_thread
from tests.browser.test_login_and_board import log_in
from tests.factories import passing_build
from tests.live import database_url, run_server
from tests.nginx import documented_config, free_port, start_nginx
from tests.services import need_postgres

pytestmark = pytest.mark.browser

DEPLOY_TIMEOUT_MS = 60_000
# Live's deploy command: a hundred lines, a pause at a gate the test opens once it has
# killed the viewer's web process, then three hundred more.
STREAM = """import pathlib, sys, time
gate = pathlib.Path(sys.argv[1])
for n in range(1, 101):
    print(f"migrating table {n}", flush=True)
    time.sleep(0.005)
while not gate.exists():
    time.sleep(0.02)
for n in range(101, 401):
    print(f"copying asset {n}", flush=True)
    time.sleep(0.005)
"""


@pytest.fixture
def production(celery_workers, pipeline, settings, tmp_path):
    """nginx → two daphnes; two workers and beat; all on this test's database and Redis."""
    need_postgres()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    settings.SLIPWAY_ARTIFACT_DIR = artifacts  # the workers and the test share the store
    first = celery_workers.start()
    celery_workers.start(beat=False)
    settings.REDIS_URL = first.redis_url  # this process schedules on the test's workers…
    # …and publishes where the web processes listen, through the same layer as theirs
    settings.CHANNEL_LAYERS = redis_channel_layers(first.redis_url)
    port = free_port()
    env = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": first.redis_url,
        **celery_workers.queues,
        # As the guide says: the public origin, here nginx's port.
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
    }
    with contextlib.ExitStack() as stack:
        webs = [stack.enter_context(run_server(artifacts, env=env)) for _ in range(2)]
        upstreams = [web.url.removeprefix("http://") for web in webs]
        nginx = stack.enter_context(
            start_nginx(tmp_path / "nginx", documented_config(upstreams), port=port)
        )
        yield SimpleNamespace(url=nginx.url, nginx=nginx, webs=webs, tmp_path=tmp_path)
        connection.close()


def live_streams_through_a_gate(pipeline, tmp_path):
    script, gate = tmp_path / "stream.py", tmp_path / "gate"
    script.write_text(STREAM)
    Environment.objects.filter(pipeline=pipeline, name="live").update(
        driver="script", driver_settings={"deploy_command": f"{sys.executable} {script} {gate}"}
    )
    return gate


def uat_runs_a_new_build(pipeline):
    """CI reports a passing master build; a worker deploys it to uat."""
    build = passing_build(pipeline, "master")
    uat = Environment.objects.get(pipeline=pipeline, name="uat")
    deadline = time.monotonic() + DEPLOY_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        uat.refresh_from_db()
        if uat.current_release and uat.current_release.build_id == build.pk:
            return build
        time.sleep(0.05)
    raise AssertionError("no worker deployed the build to uat")


def test_two_web_processes_and_two_workers_behind_nginx_carry_a_release_and_a_killed_daphne(
    production, pipeline, users, new_page
):
    gate = live_streams_through_a_gate(pipeline, production.tmp_path)
    build = in_thread(uat_runs_a_new_build, pipeline)

    for name, key in (
        ("sales", "not-mid-demo"),
        ("support", "not-serving-a-customer"),
        ("qa", "smoke-tested"),
    ):
        signer = new_page()
        log_in(signer, production, name)
        row = signer.locator(f'[data-checklist-item="{key}"]')
        row.get_by_role("button", name="Sign").click()
        expect(row).to_contain_text(f"signed by {name}")

    lead = new_page()
    log_in(lead, production, "lead")
    promote = lead.locator('[data-action="promote"]')
    expect(promote).to_be_enabled()
    confirm(lead, promote, "confirm-promote")
    live_card = lead.locator('[data-env="live"] [data-field="deployment"] a')
    expect(live_card).to_have_count(1)
    deployment = Deployment.objects.filter(environment__name="live").latest("pk")

    viewer = new_page()
    log_in(viewer, production, "developer")
    with viewer.expect_websocket(lambda ws: f"/ws/deployments/{deployment.pk}/" in ws.url):
        viewer.goto(f"{production.url}/deployments/{deployment.pk}/")
    log = viewer.locator("[data-log]")
    expect(log).to_contain_text("migrating table 100", timeout=DEPLOY_TIMEOUT_MS)

    # Both web processes served the story; one of them holds the viewer's socket (the page
    # may show the line from its first render while the socket's handshake is still going).
    holding = _webs_holding_socket(production.webs, deployment.pk)
    assert len(holding) == 1, [web.log()[-2000:] for web in production.webs]
    # nginx balances every request (static files, polls, posts) round-robin, so which process
    # takes which POST is chance; that each one served the story is not.
    for web in production.webs:
        assert re.search(r'"(GET|POST) /', web.log()), "every web process took part of the story"
    holding[0].process.kill()
    holding[0].process.wait()
    gate.touch()

    expect(viewer.locator("#deployment-status")).to_have_attribute(
        "data-status", "succeeded", timeout=DEPLOY_TIMEOUT_MS
    )
    expect(log).to_contain_text("copying asset 400")
    deployment.refresh_from_db()
    seqs = [
        int(s)
        for s in log.locator("[data-seq]").evaluate_all(
            "lines => lines.map(line => line.dataset.seq)"
        )
    ]
    assert seqs == list(range(1, deployment.last_seq + 1)), "a line lost or shown twice"
    viewer.close()  # nginx logs a WebSocket when it closes
    sockets = _sockets_logged(production.nginx, deployment.pk, at_least=2)
    assert len(sockets) >= 2 and int(sockets[-1]) >= 100, "the page resumed through nginx"
    assert Environment.objects.get(pipeline=pipeline, name="live").current_release.build == build


def _webs_holding_socket(webs, deployment_id: int) -> list:
    """The web processes that logged the viewer's socket as connected, once one has."""
    pattern = rf"WSCONNECT /ws/deployments/{deployment_id}/"
    deadline = time.monotonic() + 10
    while True:
        holding = [web for web in webs if re.search(pattern, web.log())]
        if holding or time.monotonic() > deadline:
            return holding
        time.sleep(0.1)


def _sockets_logged(nginx, deployment_id: int, *, at_least: int) -> list[str]:
    """The `after=` of each log socket nginx upgraded (101) and has seen closed."""
    pattern = rf'"GET /ws/deployments/{deployment_id}/\?after=(\d+) HTTP/1.1" 101 '
    deadline = time.monotonic() + 10
    while True:
        found = re.findall(pattern, nginx.access_log())
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
