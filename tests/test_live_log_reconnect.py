"""A client that reconnects with the last seq it rendered resumes exactly: nothing lost,
nothing twice, even when Redis restarts (and forgets everything) during the stream."""

import contextlib

import pytest
from asgiref.sync import async_to_sync

from dashboard.settings import redis_channel_layers
from tests.blinking import RedisServer
from tests.deploying import free_port
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
    port = free_port()
    settings.CHANNEL_LAYERS = redis_channel_layers(f"redis://127.0.0.1:{port}/0")
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
