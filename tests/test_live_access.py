"""The sockets take the session of the page, check the Origin, and let only people who may
see the pipeline watch: anyone else gets close code 4403 and not a single frame."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from tests.watching import TIMEOUT, running_deployment, write_lines

pytestmark = pytest.mark.django_db(transaction=True)


def connect(path: str, *, user=None, origin: str = "http://127.0.0.1") -> tuple[bool, list]:
    """Connect through the whole ASGI application as a browser would; everything it got."""
    headers = [(b"host", b"127.0.0.1"), (b"origin", origin.encode())]
    if user is not None:
        browser = Client()
        browser.force_login(user)
        headers.append((b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()))

    @async_to_sync
    async def run():
        client = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await client.connect(TIMEOUT)
        received = []
        if connected:
            while True:
                message = await client.receive_output(TIMEOUT)
                received.append(message)
                if message["type"] == "websocket.close":
                    break
        return connected, received

    return run()


def test_a_user_without_a_role_gets_4403_and_nothing_else(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["secret"])
    for path in (f"/ws/deployments/{deployment.pk}/", "/ws/pipelines/webshop/"):
        connected, received = connect(path, user=users["nobody"])
        assert connected
        assert received == [{"type": "websocket.close", "code": 4403}]


def test_an_anonymous_visitor_gets_4403(pipeline):
    connected, received = connect("/ws/pipelines/webshop/")
    assert received == [{"type": "websocket.close", "code": 4403}]


def test_it_refuses_a_socket_opened_from_another_origin(pipeline, users):
    connected, received = connect(
        "/ws/pipelines/webshop/", user=users["lead"], origin="https://evil.example"
    )
    assert not connected


def test_a_signed_in_viewer_watches_through_the_session(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["hello"])
    deployment.status = "succeeded"
    deployment.save()
    connected, received = connect(f"/ws/deployments/{deployment.pk}/", user=users["sales"])
    assert connected
    assert 'data-seq="1"' in received[0]["text"]
    assert received[-1] == {"type": "websocket.close", "code": 1000}


def test_an_unknown_deployment_or_pipeline_gets_4404(pipeline, users):
    for path in ("/ws/deployments/999999/", "/ws/pipelines/nowhere/"):
        connected, received = connect(path, user=users["developer"])
        assert received == [{"type": "websocket.close", "code": 4404}]


def watch_until_closed(path: str, user, then, settings) -> tuple[list, float]:
    """Open a socket as `user` through the session, call `then(browser)` once it runs, and
    collect what arrives until the server closes it; (messages, seconds it stayed open)."""
    import time

    settings.SLIPWAY_SOCKET_ACCESS_SECONDS = 0.2
    browser = Client()
    browser.force_login(user)
    headers = [
        (b"host", b"127.0.0.1"),
        (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
    ]

    @async_to_sync
    async def run():
        client = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await client.connect(TIMEOUT)
        assert connected
        await sync_to_async(then)(browser)
        started = time.monotonic()
        received = []
        while True:
            message = await client.receive_output(10)
            received.append(message)
            if message["type"] == "websocket.close":
                return received, time.monotonic() - started

    return run()


@pytest.mark.parametrize("path", ["/ws/pipelines/webshop/", "deployment"])
def test_a_socket_is_closed_within_seconds_once_its_users_role_is_removed(
    pipeline, users, settings, path
):
    if path == "deployment":
        path = f"/ws/deployments/{running_deployment(pipeline).pk}/"
    developer = users["developer"]

    received, open_for = watch_until_closed(
        path, developer, lambda browser: developer.groups.clear(), settings
    )

    assert received[-1] == {"type": "websocket.close", "code": 4403}
    assert open_for < 5


def test_a_socket_is_closed_within_seconds_after_its_user_logs_out(pipeline, users, settings):
    received, open_for = watch_until_closed(
        "/ws/pipelines/webshop/", users["sales"], lambda browser: browser.logout(), settings
    )

    assert received[-1] == {"type": "websocket.close", "code": 4403}
    assert open_for < 5


def test_a_socket_of_a_user_who_keeps_access_stays_open(pipeline, users, settings):
    settings.SLIPWAY_SOCKET_ACCESS_SECONDS = 0.1
    browser = Client()
    browser.force_login(users["qa"])
    headers = [
        (b"host", b"127.0.0.1"),
        (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
    ]

    @async_to_sync
    async def run():
        client = WebsocketCommunicator(application, "/ws/pipelines/webshop/", headers=headers)
        assert (await client.connect(TIMEOUT))[0]
        closed = not await client.receive_nothing(timeout=1)
        await client.disconnect()
        return closed

    assert run() is False
