"""Helpers for the live-log and live-board tests: a running deployment to write to, and
WebSocket clients (channels' WebsocketCommunicator) that collect what they are sent."""

import re

from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.utils import timezone

from dashboard.routing import websocket_urlpatterns
from pipelines.live import publish_deployment, publish_log
from pipelines.logs import append_log
from pipelines.models import Deployment, Environment, Release, ReleaseCause
from tests.factories import passing_build

SEQ = re.compile(r'data-seq="(\d+)"')
TIMEOUT = 10  # seconds a test waits for a frame before it fails (never a timed assertion)


def running_deployment(pipeline, environment: str = "dev") -> Deployment:
    """A deployment of `environment` in the running state, with no log yet."""
    env = Environment.objects.get(pipeline=pipeline, name=environment)
    build = passing_build(pipeline, branch="feature/x")
    release = Release.objects.create(
        environment=env,
        version=99,
        build=build,
        artifact=build.artifact,
        cause=ReleaseCause.MANUAL,
        description="manual deploy",
    )
    return Deployment.objects.create(
        environment=env, release=release, status="running", started_at=timezone.now()
    )


def write_lines(deployment: Deployment, texts: list[str], *, publish: bool = True) -> list:
    """What the runner does: store the lines, then publish them after commit."""
    with transaction.atomic():
        rows = append_log(deployment, [("stdout", text) for text in texts])
    if publish:
        publish_log(deployment.pk, rows)
    return rows


def finish(deployment: Deployment, status: str = "succeeded") -> None:
    deployment.refresh_from_db()
    deployment.status = status
    deployment.finished_at = timezone.now()
    deployment.save()
    publish_deployment(deployment)


def communicator(path: str, user) -> WebsocketCommunicator:
    """A client of the WebSocket routes, signed in as `user` (the session part is tested
    through the whole ASGI application in test_live_access.py)."""
    client = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    client.scope["user"] = user
    return client


async def watching_log(deployment: Deployment, user) -> WebsocketCommunicator:
    """A client of the deployment's log socket, connected and past its first frame (the
    status, when the log is empty)."""
    client = communicator(f"/ws/deployments/{deployment.pk}/", user)
    await client.connect()
    await client.receive_from()
    return client


async def receive_until_closed(client: WebsocketCommunicator) -> tuple[list[str], int]:
    """Every text frame until the server closes, and the close code."""
    frames = []
    while True:
        message = await client.receive_output(TIMEOUT)
        if message["type"] == "websocket.close":
            return frames, message.get("code", 1000)
        frames.append(message["text"])


async def receive_seqs(client: WebsocketCommunicator, upto: int) -> list[int]:
    """The seqs of the lines received, until line `upto` has arrived."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < upto:
        frame = await client.receive_from(TIMEOUT)
        seqs.extend(int(n) for n in SEQ.findall(frame))
    return seqs


def seqs_in(frames: list[str]) -> list[int]:
    return [int(n) for frame in frames for n in SEQ.findall(frame)]


# The ORM from async test code (each runs in the test's thread, on its connection).
write_lines_async = sync_to_async(write_lines)
finish_async = sync_to_async(finish)
