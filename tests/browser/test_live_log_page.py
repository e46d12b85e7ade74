"""People watch a deployment's log and the board change live, in a real Chromium, over a
real daphne with channels-redis (the test publishes as the runner does, through Redis)."""

import re
import threading

import pytest
from playwright.sync_api import expect

from dashboard.settings import redis_channel_layers
from tests.browser.test_login_and_board import log_in
from tests.live import database_url, run_server
from tests.services import need_redis
from tests.watching import finish, running_deployment, write_lines

pytestmark = pytest.mark.browser


@pytest.fixture
def daphne_with_redis(transactional_db, settings, tmp_path):
    """daphne with REDIS_URL, and this process publishing to the same Redis."""
    redis_url = need_redis()
    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url)  # the layer daphne uses
    env = {"DATABASE_URL": database_url(), "REDIS_URL": redis_url}
    with run_server(tmp_path / "artifacts", env=env) as server:
        yield server


def in_thread(function, *args) -> None:
    """Playwright's sync API holds this thread's event loop: publish from another thread."""
    thread = threading.Thread(target=function, args=args)
    thread.start()
    thread.join()


def test_a_developer_watches_a_deployment_log_live(daphne_with_redis, pipeline, users, new_page):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["Unpacking release", "\x1b[32mmigrations OK\x1b[0m"])
    page = new_page()
    log_in(page, daphne_with_redis, "developer")
    page.goto(f"{daphne_with_redis.url}/deployments/{deployment.pk}/")
    log = page.locator("[data-log] [data-seq]")
    expect(log).to_have_count(2)
    expect(page.locator("#log .ansi32")).to_have_text("migrations OK")
    page.wait_for_function("() => document.querySelector('[data-live-note]').hidden")

    in_thread(write_lines, deployment, ["<script>window.pwned = 1</script>", "line 4"])
    expect(log).to_have_count(4)
    expect(page.locator('[data-seq="3"]')).to_have_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned") is None

    in_thread(finish, deployment)
    expect(page.locator("#deployment-status")).to_have_attribute("data-status", "succeeded")
    seqs = [int(s) for s in log.evaluate_all("lines => lines.map(l => l.dataset.seq)")]
    assert seqs == [1, 2, 3, 4]


def test_the_log_falls_back_to_polling_when_no_socket_gets_through(
    daphne_with_redis, pipeline, users, new_page
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one"])
    page = new_page()
    page.route_web_socket(re.compile("/ws/"), lambda socket: socket.close(code=1011))
    log_in(page, daphne_with_redis, "developer")
    page.goto(f"{daphne_with_redis.url}/deployments/{deployment.pk}/")
    expect(page.locator("[data-live-note]")).to_contain_text("polling")
    write_lines(deployment, ["two", "three"])
    expect(page.locator("[data-log] [data-seq]")).to_have_count(3)


def test_the_board_changes_for_every_viewer_when_a_deployment_finishes(
    daphne_with_redis, pipeline, users, new_page
):
    deployment = running_deployment(pipeline, "dev")
    pages = []
    for name in ("developer", "sales"):
        page = new_page()
        log_in(page, daphne_with_redis, name)
        expect(page.locator('[data-env="dev"] [data-field="deployment"]')).to_be_visible()
        expect(page.locator("[data-live-board]")).to_have_attribute("data-live", "open")
        pages.append(page)
    in_thread(finish, deployment)
    for page in pages:
        expect(page.locator('[data-env="dev"] [data-field="deployment"]')).to_have_count(0)
        expect(page.locator("[data-board-offline]")).to_be_hidden()
