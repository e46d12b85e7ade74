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


def session_of(user) -> tuple[Client, str]:
    browser = Client()
    browser.force_login(user)
    return browser, browser.cookies["sessionid"].value


def test_a_process_rechecks_its_sockets_together_and_closes_only_the_one_that_lost_access(
    pipeline, users, settings
):
    settings.SLIPWAY_SOCKET_ACCESS_SECONDS = 0.2
    deployment = running_deployment(pipeline)
    watchers = ["lead", "developer", "sales", "qa"]
    paths = [f"/ws/deployments/{deployment.pk}/", "/ws/pipelines/webshop/"]

    @async_to_sync
    async def run():  # one event loop: one process's sockets
        clients = {}
        for i, name in enumerate(watchers):
            _, key = await sync_to_async(session_of)(users[name])
            headers = [
                (b"host", b"127.0.0.1"),
                (b"origin", b"http://127.0.0.1"),
                (b"cookie", f"sessionid={key}".encode()),
            ]
            clients[name] = WebsocketCommunicator(application, paths[i % 2], headers=headers)
            assert (await clients[name].connect(TIMEOUT))[0]
            if i % 2 == 0:  # the log's first frame: the deployment's status
                assert "deployment-status" in await clients[name].receive_from(TIMEOUT)
        await sync_to_async(users["sales"].groups.clear)()
        closed = await clients["sales"].receive_output(TIMEOUT)
        still_open = {}
        for name in ("lead", "developer", "qa"):  # several checks have passed meanwhile
            still_open[name] = await clients[name].receive_nothing(timeout=0.5)
            await clients[name].disconnect()
        return closed, still_open

    closed, still_open = run()

    assert closed == {"type": "websocket.close", "code": 4403}
    assert still_open == {"lead": True, "developer": True, "qa": True}


def test_the_recheck_of_many_sockets_takes_as_many_queries_as_that_of_one(
    pipeline, users, django_assert_num_queries
):
    from django.contrib.auth.models import User

    from dashboard.live_data import sockets_still_allowed

    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")  # lead, no group
    sessions = {name: session_of(user) for name, user in {**users, "admin": admin}.items()}
    logged_out, _ = sessions["support"]
    logged_out.logout()
    users["qa"].set_password("a new one")  # invalidates the sessions signed with the old
    users["qa"].save()
    users["sales"].is_active = False
    users["sales"].save()
    sockets = [(users[name], sessions[name][1]) for name in users] + [
        (admin, sessions["admin"][1]),
        (users["lead"], sessions["developer"][1]),  # another user's session
        (users["lead"], None),
        (None, sessions["lead"][1]),
    ]

    with django_assert_num_queries(3):
        one = sockets_still_allowed(sockets[:1])
    with django_assert_num_queries(3):
        many = sockets_still_allowed(sockets)

    assert one == [True]
    names = [*users, "admin", "foreign", "no session", "no user"]
    assert dict(zip(names, many, strict=True)) == {
        "lead": True,
        "developer": True,
        "sales": False,  # deactivated
        "support": False,  # logged out
        "qa": False,  # password changed
        "nobody": False,  # no role
        "admin": True,
        "foreign": False,
        "no session": False,
        "no user": False,
    }
