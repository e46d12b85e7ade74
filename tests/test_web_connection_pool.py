"""A web process in production mode takes its database connections from a pool: it holds no
more than SLIPWAY_DB_POOL_SIZE whatever the traffic; after a database restart no view gets a
dropped connection; while the database is away /healthz says 503 in seconds, and the pages
are back as soon as it is; a long download takes its turns with the other views. Workers,
beat, commands and a web process that runs deployments itself keep their own connections
(dashboard/settings.py says why)."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from pipelines.models import Deployment
from tests.blinking import DatabaseProxy
from tests.deploying import wait_for
from tests.history import add_history
from tests.live import (
    bearer,
    connections_named,
    database_url,
    run_server,
    session_cookie,
    with_application_name,
)
from tests.services import need_postgres, need_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

POOL_SIZE = 3


@pytest.fixture
def web_env():
    """What a production web process is given, but for its database URL."""
    need_postgres()
    return {"REDIS_URL": need_redis(), "SLIPWAY_DB_POOL_SIZE": str(POOL_SIZE)}


def test_a_web_process_holds_no_more_connections_than_its_pool_under_concurrent_views(
    transactional_db, pipeline, token_for, tmp_path, web_env
):
    token = token_for("developer")
    env = {**web_env, "DATABASE_URL": with_application_name(database_url(), "slipway-web-pooled")}
    with run_server(tmp_path / "artifacts", env=env) as server:

        def view(_) -> int:
            url = f"{server.url}/api/v1/pipelines/{pipeline.name}"
            return requests.get(url, headers=bearer(token), timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as views:
            answers = list(views.map(view, range(80)))

        assert answers == [200] * 80
        assert 1 <= connections_named("slipway-web-pooled") <= POOL_SIZE


def test_no_view_fails_after_a_database_restart_dropped_the_pooled_connections(
    transactional_db, pipeline, token_for, tmp_path, web_env
):
    token = token_for("developer")
    with DatabaseProxy() as proxy:
        env = {**web_env, "DATABASE_URL": proxy.url}
        with run_server(tmp_path / "artifacts", env=env) as server:
            api = f"{server.url}/api/v1/pipelines/{pipeline.name}"

            def view(_) -> int:
                return requests.get(api, headers=bearer(token), timeout=30).status_code

            with ThreadPoolExecutor(max_workers=8) as views:  # the pool grown to its size
                assert list(views.map(view, range(40))) == [200] * 40

            proxy.down()  # PostgreSQL restarts: every open connection is gone
            proxy.up()

            answers = [view(n) for n in range(POOL_SIZE * 2)]
            assert answers == [200] * (POOL_SIZE * 2), server.log()[-3000:]


def test_a_web_process_answers_503_while_the_database_is_away_and_serves_again_once_back(
    transactional_db, tmp_path, web_env
):
    with DatabaseProxy() as proxy:
        env = {**web_env, "DATABASE_URL": proxy.url}
        with run_server(tmp_path / "artifacts", env=env) as server:
            assert requests.get(f"{server.url}/healthz", timeout=15).status_code == 200

            proxy.down()
            away = [requests.get(f"{server.url}/healthz", timeout=15) for _ in range(3)]
            assert [answer.status_code for answer in away] == [503] * 3
            assert away[-1].json() == {"status": "unavailable"}

            proxy.up()
            wait_for(
                lambda: requests.get(f"{server.url}/healthz", timeout=15).status_code == 200,
                10,
                "the pages to be served again once the database is back",
            )


def test_downloads_of_a_long_log_leave_the_connections_to_other_views_in_turn(
    transactional_db, pipeline, users, tmp_path, web_env
):
    add_history(pipeline, builds=3, deployments=3, long_log=200_000)  # the newest: 200k lines
    deployment = Deployment.objects.filter(environment__pipeline=pipeline).latest("pk")
    lines = deployment.log_lines.count()
    cookie = {"Cookie": session_cookie(users["developer"])}
    env = {**web_env, "SLIPWAY_DB_POOL_SIZE": "1", "DATABASE_URL": database_url()}
    with run_server(tmp_path / "artifacts", env=env) as server:

        def download(_) -> tuple[int, int]:
            url = f"{server.url}/deployments/{deployment.pk}/log.txt"
            answer = requests.get(url, headers=cookie, timeout=120)
            return answer.status_code, answer.text.count("\n")

        with ThreadPoolExecutor(max_workers=20) as downloads:
            downloading = [downloads.submit(download, n) for n in range(20)]
            meanwhile = [
                requests.get(f"{server.url}/healthz", timeout=30).status_code for _ in range(5)
            ]
            downloaded = [future.result() for future in downloading]

    assert downloaded == [(200, lines)] * 20
    assert meanwhile == [200] * 5  # not 503: each waited its turn, not for whole downloads


@pytest.mark.parametrize(
    ("process", "startup", "given", "pooled"),
    [
        ("web server", "import dashboard.asgi", {}, True),
        ("web server running deployments", "import dashboard.asgi", {"REDIS_URL": ""}, False),
        ("worker", "from dashboard.celery import app; import django; django.setup()", {}, False),
        ("command", "import django; django.setup()", {}, False),
    ],
)
def test_only_a_web_process_pools_its_connections(process, startup, given, pooled, web_env):
    script = (
        f"{startup}\nimport json\nfrom django.conf import settings\n"
        "database = settings.DATABASES['default']\n"
        "print(json.dumps(['pool' in database.get('OPTIONS', {}), database['CONN_MAX_AGE']]))"
    )
    env = {
        **os.environ,
        **web_env,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        **given,
    }
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    has_pool, conn_max_age = json.loads(run.stdout.strip().splitlines()[-1])
    assert has_pool is pooled, process
    assert (conn_max_age == 0) is pooled, process  # persistent where there is no pool
