"""The sockets take the session of the page, check the Origin, and let only people who may
see the pipeline watch: anyone else gets close code 4403 and not a single frame."""

import pytest
from asgiref.sync import async_to_sync
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
