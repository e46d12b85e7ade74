"""Publishing to channels-redis from a process that has no event loop of its own (a Celery
worker running a deployment): one long-lived connection, in order, batches joined."""

import asyncio

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from dashboard.settings import redis_channel_layers
from pipelines.live import (
    joined,
    publish_after_commit,
    publish_board,
    publish_log,
    wait_until_published,
)
from pipelines.logs import StoredLines
from tests.services import need_redis


@pytest.fixture
def redis_layer(settings):
    url = need_redis()
    settings.CHANNEL_LAYERS = redis_channel_layers(url)
    return url


def connections_received(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.info("stats")["total_connections_received"]
    finally:
        client.close()


def test_a_process_publishes_many_messages_over_one_redis_connection(redis_layer):
    publish_board(1)  # the first message opens the connection
    assert wait_until_published()
    before = connections_received(redis_layer)

    for n in range(1, 41):
        publish_log(7, StoredLines(n, None, [("stdout", f"line {n}")]))
        publish_board(1)
    assert wait_until_published()

    # (async_to_sync per message opened a connection for each: 80 here.)
    assert connections_received(redis_layer) - before <= 2  # our INFO, and a spare


def test_log_lines_published_in_batches_arrive_once_in_order(redis_layer):
    layer = get_channel_layer()

    @async_to_sync
    async def publish_and_receive() -> list[tuple[int, str]]:
        channel = await layer.new_channel()
        await layer.group_add("deployment.8", channel)
        try:
            # Pub/sub keeps nothing for later: see our own message once we are subscribed.
            await layer.group_send("deployment.8", {"type": "subscribed"})
            assert (await asyncio.wait_for(layer.receive(channel), 10))["type"] == "subscribed"
            for first in range(1, 301, 3):
                publish_log(
                    8, StoredLines(first, None, [("stdout", f"l{first + i}") for i in range(3)])
                )
            seen = []
            while len(seen) < 300:
                message = await asyncio.wait_for(layer.receive(channel), 10)
                seen += [(message["first"] + i, t) for i, (_, t) in enumerate(message["lines"])]
            return seen
        finally:
            await layer.group_discard("deployment.8", channel)

    assert publish_and_receive() == [(n, f"l{n}") for n in range(1, 301)]


def log(first: int, count: int, group: str = "deployment.1", layer: object = "L") -> tuple:
    return layer, group, {"type": "log.lines", "first": first, "lines": [("stdout", "x")] * count}


def test_waiting_log_batches_are_joined_only_where_they_continue_one_another():
    board = ("L", "pipeline.1", {"type": "board.changed"})
    taken = [
        log(1, 2),
        log(3, 2),  # continues 1-2
        log(5, 1, group="deployment.2"),  # another deployment
        log(5, 1),
        board,  # news in between: nothing is joined across it, order is kept
        log(6, 1),
        log(9, 1),  # a gap (another writer's lines): the consumer refills it, not joined
        log(10, 1, layer="M"),  # another channel layer (settings changed)
    ]
    sent = [
        (layer, group, m.get("first"), len(m.get("lines", []))) for layer, group, m in joined(taken)
    ]
    assert sent == [
        ("L", "deployment.1", 1, 4),
        ("L", "deployment.2", 5, 1),
        ("L", "deployment.1", 5, 1),
        ("L", "pipeline.1", None, 0),
        ("L", "deployment.1", 6, 1),
        ("L", "deployment.1", 9, 1),
        ("M", "deployment.1", 10, 1),
    ]


def test_joined_messages_stay_within_the_size_limit():
    taken = [log(1 + 500 * n, 500) for n in range(9)]
    sizes = [len(m["lines"]) for _, _, m in joined(taken)]
    assert sizes == [2000, 2000, 500]
    assert [len(m["lines"]) for _, _, m in taken] == [500] * 9  # what was put is left as it was


def test_a_consumer_waiting_longer_than_redis_blocking_pop_keeps_waiting(settings):
    """With redis-py 8 a read gave up after 5 s, as long as channels-redis' blocking pop:
    an idle consumer's wait raised TimeoutError, which closed its socket (code 1011)."""
    settings.CHANNEL_LAYERS = redis_channel_layers(need_redis())
    layer = get_channel_layer()

    @async_to_sync
    async def wait_for_a_late_message() -> dict:
        channel = await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(7)  # more than the blocking pop, and than redis-py's 5 s default
        await layer.send(channel, {"type": "late"})
        return await asyncio.wait_for(waiting, 10)

    assert wait_for_a_late_message() == {"type": "late"}


@pytest.mark.django_db(transaction=True)
def test_news_leaves_after_commit_and_a_broken_channel_layer_never_fails_the_change():
    """Outside a transaction (the runner's committed batches) news leaves at once; inside
    one, only once it commits, never if it rolls back."""
    sent = []
    with transaction.atomic():
        publish_after_commit(sent.append, "committed")
        assert sent == []
    assert sent == ["committed"]
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        publish_after_commit(sent.append, "rolled back")
        1 / 0  # noqa: B018
    publish_after_commit(sent.append, "outside")
    assert sent == ["committed", "outside"]

    def broken(_message: str) -> None:
        raise ConnectionError("the channel layer is away")

    publish_after_commit(broken, "outside")
    with transaction.atomic():
        publish_after_commit(broken, "committed")
