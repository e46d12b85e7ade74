"""The live log socket replays stored lines, then sends live ones, then the final status."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, connection, connections

from dashboard import consumers, live_data
from pipelines.live import publish_deployment, publish_log
from pipelines.models import LogLine
from tests.services import need_postgres
from tests.watching import (
    communicator,
    finish,
    finish_async,
    receive_seqs,
    receive_until_closed,
    running_deployment,
    seqs_in,
    watching_log,
    write_lines,
    write_lines_async,
)

pytestmark = pytest.mark.django_db(transaction=True)


def pages_read(monkeypatch, after_each=lambda pages: None) -> list[tuple[int, int]]:
    """The first and last seq of each page of lines the sockets read from the database, as
    they read them (`after_each` runs after each read, with the pages so far)."""
    pages = []
    read_page = live_data.stored_lines

    def read(*args, **kwargs):
        page = read_page(*args, **kwargs)
        pages.append((page[0]["seq"], page[-1]["seq"]))
        after_each(pages)
        return page

    monkeypatch.setattr(live_data, "stored_lines", read)
    return pages


def test_it_replays_stored_lines_after_the_cursor_then_the_final_status(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [f"line {n}" for n in range(1, 8)])
    finish(deployment)

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/?after=3", users["developer"])
        connected, _ = await client.connect()
        assert connected
        return await receive_until_closed(client)

    frames, code = watch()
    assert seqs_in(frames) == [4, 5, 6, 7]
    assert 'id="deployment-status"' in frames[-1]
    assert 'data-status="succeeded"' in frames[-1]
    assert code == 1000


def test_it_sends_live_lines_in_order_after_the_replay_and_closes_when_finished(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["before 1", "before 2"])

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["qa"])
        await client.connect()
        seen = await receive_seqs(client, upto=2)
        await write_lines_async(deployment, ["live 3", "live 4", "live 5"])
        seen += await receive_seqs(client, upto=5)
        await finish_async(deployment, "failed")
        frames, code = await receive_until_closed(client)
        return seen, frames, code

    seen, frames, code = watch()
    assert seen == [1, 2, 3, 4, 5]
    assert 'data-status="failed"' in frames[-1]
    assert code == 1000


def test_it_sends_nothing_twice_when_live_messages_repeat_lines_it_replayed(pipeline, users):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two", "three"])

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await client.connect()
        await client.receive_from()  # the replay of 1-3
        rows = [row async for row in LogLine.objects.filter(deployment=deployment)]
        await sync_to_async(publish_log)(deployment.pk, rows)  # the same lines again
        await write_lines_async(deployment, ["four"])
        return await receive_seqs(client, upto=4)

    assert watch() == [4]  # and not 1, 2, 3 again


def test_it_refills_from_the_database_when_a_live_message_was_dropped(pipeline, users):
    deployment = running_deployment(pipeline)

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await client.connect()
        await write_lines_async(deployment, ["one", "two"])
        seen = await receive_seqs(client, upto=2)
        # Lines 3-5 are stored but their message is lost (Channels is at-most-once) …
        await write_lines_async(deployment, ["three", "four", "five"], publish=False)
        # … so when line 6 arrives, the consumer fetches 3-5 from the database first.
        await write_lines_async(deployment, ["six"])
        seen += await receive_seqs(client, upto=6)
        await client.disconnect()
        return seen

    assert watch() == [1, 2, 3, 4, 5, 6]


def test_a_socket_catching_up_with_a_fast_log_reads_the_database_only_up_to_the_live_lines(
    pipeline, users, monkeypatch
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [f"stored {n}" for n in range(1, 3001)])

    def a_runner_storing_a_page_while_each_is_read(pages):
        if len(pages) <= 10:
            write_lines(deployment, [f"live {len(pages)}.{n}" for n in range(1000)])

    pages = pages_read(monkeypatch, after_each=a_runner_storing_a_page_while_each_is_read)

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await client.connect()
        seen = await receive_seqs(client, upto=6000)  # 3 pages read, 3 pages written
        await finish_async(deployment)
        frames, code = await receive_until_closed(client)
        return seen + seqs_in(frames), code

    seen, code = watch()
    deployment.refresh_from_db()
    assert seen == list(range(1, deployment.last_seq + 1))
    assert code == 1000
    # The 3,000 lines stored before it came, from the database; every later one, live. (It
    # read on to each new end instead, and a runner this fast kept it reading.)
    assert pages == [(1, 1000), (1001, 2000), (2001, 3000)]


def test_a_status_change_while_lines_are_on_their_way_reads_no_lines_from_the_database(
    pipeline, users, monkeypatch
):
    deployment = running_deployment(pipeline)
    pages = pages_read(monkeypatch)

    @async_to_sync
    async def watch():
        client = await watching_log(deployment, users["developer"])
        # Lines stored, their message on its way, when news of a step arrives.
        rows = await write_lines_async(
            deployment, [f"line {n}" for n in range(3000)], publish=False
        )
        await sync_to_async(publish_deployment)(deployment)
        await asyncio.sleep(0.2)  # the watcher reads the deployment's state meanwhile
        await sync_to_async(publish_log)(deployment.pk, rows)
        seen = await receive_seqs(client, upto=3000)
        await finish_async(deployment)
        frames, code = await receive_until_closed(client)
        return seen + seqs_in(frames), code

    seen, code = watch()
    assert seen == list(range(1, 3001))
    assert code == 1000
    assert pages == []  # every line came live; fifty watchers read none of them each


def test_a_database_blink_during_an_idle_check_does_not_stop_the_checks(
    pipeline, users, monkeypatch, caplog
):
    need_postgres()  # a server that drops the connection
    monkeypatch.setattr(consumers, "IDLE_CHECK_SECONDS", 0.3)
    deployment = running_deployment(pipeline)

    @async_to_sync
    async def watch():
        client = await watching_log(deployment, users["developer"])
        await write_lines_async(deployment, ["stored, its message lost"], publish=False)
        await sync_to_async(the_server_drops_this_threads_connection)()
        for _ in range(100):  # until an idle check has met the dropped connection
            if "no catch-up" in caplog.text:
                break
            await asyncio.sleep(0.05)
        # What close_old_connections does before the next query in a server (channels'
        # test communicator turns it off, to keep the test's connection).
        await sync_to_async(close_this_threads_connection)()
        seen = await receive_seqs(client, upto=1)  # the next check finds the line
        await client.disconnect()
        return seen

    assert watch() == [1]


def close_this_threads_connection() -> None:
    connection.close()


def the_server_drops_this_threads_connection() -> None:
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


def test_it_sends_lines_whose_message_was_lost_before_the_final_status(pipeline, users):
    deployment = running_deployment(pipeline)

    @async_to_sync
    async def watch():
        client = communicator(f"/ws/deployments/{deployment.pk}/", users["developer"])
        await client.connect()
        await write_lines_async(deployment, ["the last words"], publish=False)
        await finish_async(deployment)
        return await receive_until_closed(client)

    frames, code = watch()
    assert seqs_in(frames) == [1]
    assert 'data-status="succeeded"' in frames[-1]


def test_watchers_of_a_deployment_that_ends_share_its_state_read_and_status_frame_rendered_once(
    pipeline, users, monkeypatch
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one"])
    reads, renders = [], []
    real_state, real_status_frame = live_data.deployment_state, live_data.status_frame

    def read(deployment_id):
        reads.append(deployment_id)
        return real_state(deployment_id)

    def render(deployment_id, roles):
        renders.append(deployment_id)
        return real_status_frame(deployment_id, roles)

    monkeypatch.setattr(live_data, "deployment_state", read)
    monkeypatch.setattr(live_data, "status_frame", render)

    @async_to_sync
    async def watch():
        watchers = [communicator(f"/ws/deployments/{deployment.pk}/", users["qa"]) for _ in "abc"]
        for watcher in watchers:
            await watcher.connect()
            await receive_seqs(watcher, upto=1)
        reads.clear()  # the connects' replays
        renders.clear()
        await finish_async(deployment)
        return [await receive_until_closed(watcher) for watcher in watchers]

    for frames, code in watch():
        assert 'data-status="succeeded"' in frames[-1]
        assert code == 1000
    assert reads == [deployment.pk]
    assert renders == [deployment.pk]


def test_a_watcher_that_saw_the_deployment_end_never_gets_a_shared_frame_of_it_running(
    pipeline, users
):
    from dashboard.live_data import DeploymentState
    from dashboard.log_feed import log_feed

    deployment = running_deployment(pipeline)

    @async_to_sync
    async def frames():
        feed = log_feed(deployment.pk)
        running = await feed.status_frame(DeploymentState("running", 0), {"qa"})
        await finish_async(deployment)  # its news not received yet: the same generation
        ended = await feed.status_frame(DeploymentState("succeeded", 0), {"qa"})
        return running, ended

    running, ended = frames()
    assert 'data-status="running"' in running
    assert 'data-status="succeeded"' in ended


def test_batches_that_queued_up_in_a_feed_leave_as_one_frame_and_are_left_as_they_came():
    """While the feed sent, batches came: those that continue one another go as one frame
    (up to MAX_MESSAGE_LINES), the rest as their own; the messages received are not changed."""
    from dashboard.log_feed import LogFeed
    from pipelines.live import MAX_MESSAGE_LINES

    def batch(first: int, count: int) -> dict:
        lines = [["stdout", f"line {seq}"] for seq in range(first, first + count)]
        return {"type": "log.lines", "first": first, "lines": lines}

    class Watcher:
        def __init__(self):
            self.fed: list[tuple[int, int]] = []

        async def feed_lines(self, first, lines, frame):
            assert f'data-seq="{first + len(lines) - 1}"' in frame
            self.fed.append((first, len(lines)))

    size = MAX_MESSAGE_LINES // 4
    received = [batch(1 + size * n, size) for n in range(6)] + [batch(10 * MAX_MESSAGE_LINES, 1)]

    async def deliver(watcher):
        feed = LogFeed(1, forget=lambda feed: None)
        feed.watchers[watcher] = None
        feed.waiting.extend(received[1:])
        await feed._send_lines(received[0])
        while feed.waiting:
            await feed._send_lines(feed.waiting.popleft())

    watcher = Watcher()
    asyncio.run(deliver(watcher))

    assert watcher.fed == [(1, 4 * size), (1 + 4 * size, 2 * size), (10 * MAX_MESSAGE_LINES, 1)]
    assert [len(message["lines"]) for message in received] == [size] * 6 + [1]
