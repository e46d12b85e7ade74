"""A client that reconnects with the last seq it rendered resumes exactly: nothing lost,
nothing twice, even when Redis restarts (and forgets everything) during the stream."""

import contextlib
import socket
import subprocess
import time

import pytest
from asgiref.sync import async_to_sync

from tests.services import need_program
from tests.watching import (
    communicator,
    finish_async,
    receive_seqs,
    receive_until_closed,
    running_deployment,
    seqs_in,
    write_lines,
    write_lines_async,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reconnect_mid_stream_resumes_after_the_last_rendered_line(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two"])

    @async_to_sync
    async def watch():
        first = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await first.connect()
        seen = await receive_seqs(first, upto=2)
        await write_lines_async(deployment, ["three"])
        seen += await receive_seqs(first, upto=3)
        await first.disconnect()
        await write_lines_async(deployment, ["four", "five"])  # while nobody listens
        again = communicator(f"/ws/deployments/{deployment.pk}/?after={seen[-1]}", users["qa"])
        await again.connect()
        seen += await receive_seqs(again, upto=5)
        await write_lines_async(deployment, ["six"])
        await finish_async(deployment)
        frames, _ = await receive_until_closed(again)
        return seen + seqs_in(frames)

    assert watch() == [1, 2, 3, 4, 5, 6]


def test_a_redis_restart_during_a_stream_loses_nothing_after_a_reconnect(
    pipeline, users, settings, tmp_path
):
    port = _free_port()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"], "capacity": 1000},
        }
    }
    deployment = running_deployment(pipeline)

    @async_to_sync
    async def watch(redis):
        first = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await first.connect()
        await write_lines_async(deployment, ["one", "two", "three"])
        seen = await receive_seqs(first, upto=3)

        redis.stop()
        await write_lines_async(deployment, ["four"])  # stored; publishing fails (logged)
        redis.start()  # empty: the groups and queued messages are gone
        await write_lines_async(deployment, ["five"])  # published to nobody
        with contextlib.suppress(Exception):  # the old socket may have died with Redis
            await first.disconnect()

        again = communicator(f"/ws/deployments/{deployment.pk}/?after={seen[-1]}", users["qa"])
        await again.connect()
        seen += await receive_seqs(again, upto=5)
        await write_lines_async(deployment, ["six", "seven"])
        await finish_async(deployment)
        frames, code = await receive_until_closed(again)
        return seen + seqs_in(frames), code

    with RedisServer(need_program("redis-server"), port, tmp_path) as redis:
        seen, code = watch(redis)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert code == 1000


class RedisServer:
    """Our own redis-server on a free port, without persistence, so it can be restarted."""

    def __init__(self, program: str, port: int, directory) -> None:
        self.command = [
            program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ]
        self.port = port
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
