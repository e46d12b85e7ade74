"""docs/deploying-behind-nginx.md's configuration, as written there, in front of a real
daphne: pages, the API, uploads and the WebSocket upgrade all get through it."""

import re

import pytest
import requests
from websockets.sync.client import connect

from tests.live import bearer, session_cookie
from tests.nginx import documented_config, guide_config, start_nginx
from tests.watching import running_deployment, write_lines

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxy(slipway_server, tmp_path):
    upstream = slipway_server.url.removeprefix("http://")
    with start_nginx(tmp_path / "nginx", documented_config([upstream])) as nginx:
        yield nginx


def test_the_guide_holds_one_configuration_that_listens_on_443_and_proxies_to_daphne():
    text = guide_config()
    assert "listen 443 ssl;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text


def test_a_signed_in_page_and_the_api_answer_through_nginx(proxy, pipeline, users, token_for):
    board = requests.get(
        f"{proxy.url}/pipelines/webshop/",
        headers={"Cookie": session_cookie(users["developer"])},
        timeout=10,
    )
    assert board.status_code == 200
    assert "webshop" in board.text
    api = requests.get(
        f"{proxy.url}/api/v1/pipelines/webshop", headers=bearer(token_for("qa")), timeout=10
    )
    assert api.status_code == 200
    assert api.json()["name"] == "webshop"


def test_the_websocket_upgrade_passes_nginx_and_replays_the_log(proxy, pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two", "three"], publish=False)
    url = proxy.url.replace("http://", "ws://") + f"/ws/deployments/{deployment.pk}/?after=1"
    with connect(
        url,
        origin=proxy.url,
        additional_headers={"Cookie": session_cookie(users["developer"])},
        open_timeout=10,
    ) as socket:
        frame = socket.recv(timeout=10)
    assert re.findall(r'data-seq="(\d+)"', frame) == ["2", "3"]
    assert re.search(r'"GET /ws/deployments/\d+/\?after=1 HTTP/1.1" 101 ', proxy.access_log())


def test_a_socket_from_another_origin_is_still_refused_behind_nginx(proxy, pipeline, users):
    deployment = running_deployment(pipeline)
    url = proxy.url.replace("http://", "ws://") + f"/ws/deployments/{deployment.pk}/"
    with pytest.raises(Exception, match="403"):
        connect(
            url,
            origin="https://evil.example",
            additional_headers={"Cookie": session_cookie(users["developer"])},
            open_timeout=10,
        )
