"""Publishing live updates to the channel layer (docs/architecture.md, "Live updates").

The database is the source of truth; these messages only carry news of it, so publishers
send them after commit (`publish_after_commit`) and consumers refill from the database
whenever a message is missing.

To channels-redis, a process sends from one thread of its own (`_Publisher`): its event
loop, and so the layer's Redis connection, lives as long as the process. (`async_to_sync`
outside a server makes a new event loop per call, and channels-redis keeps connections per
loop: a new connection per message.) The caller — the runner storing a log — never waits
for Redis, and log batches that queued up meanwhile leave as one message.
"""

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from pipelines.logs import StoredLines
from pipelines.models import Deployment

logger = logging.getLogger(__name__)


def publish_after_commit(publish: Callable[..., None], *args: Any) -> None:
    """Call `publish(*args)` once the current transaction commits (right away outside one):
    news must never arrive before the change it tells of. Robust: a channel layer hiccup
    never turns a committed change into an error."""
    transaction.on_commit(lambda: publish(*args), robust=True)


def deployment_group(deployment_id: int) -> str:
    return f"deployment.{deployment_id}"


def pipeline_group(pipeline_id: int) -> str:
    return f"pipeline.{pipeline_id}"


# Messages waiting for the publisher's thread; past that, new ones are dropped (news only:
# watchers refill from the database), so a Redis that hangs cannot grow the process.
MAX_WAITING = 1000
# A log's batches leave at most this often (seconds); those stored meanwhile go together.
SEND_INTERVAL = 0.05
# Consecutive log batches of one deployment that waited are joined up to this size.
MAX_MESSAGE_LINES = 2000
MAX_MESSAGE_CHARS = 1_000_000


def _send(group: str, message: dict) -> None:
    """Best effort: a channel layer that is down (Redis restarting) must not fail the
    deployment or request that published; watchers refill from the database."""
    layer = get_channel_layer()
    if layer is None:
        return
    if not isinstance(layer, InMemoryChannelLayer):
        _publisher().put(layer, group, message)
        return
    # In memory: the layer lives on the server's loop, which async_to_sync finds from a
    # thread the server started (docs/architecture.md, "Embedded and production mode").
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001
        logger.warning("could not publish %s to %s", message.get("type"), group, exc_info=True)


class _Publisher:
    """One thread per process sending messages in the order they were put.

    A busy log's news leaves at most every SEND_INTERVAL: batches stored meanwhile wait and
    go as one message (`joined`), so a chatty deployment costs a few sends a second, not one
    per batch, and the storing thread is not woken for each. Any other message (a status,
    the board) is sent at once, with whatever waits before it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        lock = threading.Lock()
        self.arrived = threading.Condition(lock)  # for the publisher: something to send
        self.sent = threading.Condition(lock)  # for `wait_until_sent`
        self.waiting: list[tuple] = []
        self.unsent = 0  # put and neither sent nor given up yet
        self.urgent = False  # a message waits that is not a log batch
        self.idle = False  # the publisher waits for a first message
        self.dropped = 0
        threading.Thread(target=self._run, name="slipway-publisher", daemon=True).start()

    def put(self, layer, group: str, message: dict) -> None:
        with self.arrived:
            if len(self.waiting) >= MAX_WAITING:
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    logger.warning("the channel layer is behind: %s messages dropped", self.dropped)
                return
            self.waiting.append((layer, group, message))
            self.unsent += 1
            if message["type"] != "log.lines":
                self.urgent = True
            if self.idle or self.urgent:
                self.arrived.notify()

    def wait_until_sent(self, seconds: float) -> bool:
        """Whether every message put so far has been sent (or given up) within `seconds`."""
        with self.sent:
            return self.sent.wait_for(lambda: not self.unsent, seconds)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        last_send = -SEND_INTERVAL
        while True:
            with self.arrived:
                self.idle = True
                self.arrived.wait_for(lambda: self.waiting)
                self.idle = False
                hold = last_send + SEND_INTERVAL - time.monotonic()
                if hold > 0 and not self.urgent:
                    self.arrived.wait_for(lambda: self.urgent, hold)
                taken, self.waiting, self.urgent = self.waiting, [], False
            loop.run_until_complete(_send_all(joined(taken)))
            last_send = time.monotonic()
            with self.sent:
                self.unsent -= len(taken)
                if not self.unsent:
                    self.sent.notify_all()


async def _send_all(messages: list[tuple]) -> None:
    for layer, group, message in messages:
        await _send_now(layer, group, message)


async def _send_now(layer, group: str, message: dict) -> None:
    for attempt in (1, 2):  # the first may meet a pooled connection a Redis restart broke
        try:
            await layer.group_send(group, message)
            return
        except Exception:  # noqa: BLE001
            if attempt == 2:
                logger.warning(
                    "could not publish %s to %s", message.get("type"), group, exc_info=True
                )


def joined(taken: list[tuple]) -> list[tuple]:
    """`taken` in order, each run of log batches that continue one another (same layer and
    group, seq following seq) as one message, within MAX_MESSAGE_LINES / _CHARS."""
    out: list[tuple] = []
    run: LogRun | None = None  # out[-1]'s, when it is log batches
    for layer, group, message in taken:
        if run and out[-1][0] is layer and out[-1][1] == group and run.take(message):
            continue
        run = LogRun(message) if message["type"] == "log.lines" else None
        out.append((layer, group, run.message if run else message))
    return out


class LogRun:
    """Log batches that continue one another (seq after seq), joined into one message
    within MAX_MESSAGE_LINES / _CHARS: by the publisher and by each web process's log feed.
    Linear: each batch is appended to one list of the run's own (joining a copy of the run so
    far to each took the square of the run's length, in the thread the runner shares the GIL
    with); the messages taken are left as they came."""

    def __init__(self, first: dict) -> None:
        self.message = {**first, "lines": list(first["lines"])}
        self.chars = _text_chars(first)

    def take(self, message: dict) -> bool:
        """Append `message` if it continues the run and fits; whether it did."""
        if message["type"] != "log.lines":
            return False
        lines = self.message["lines"]
        if int(self.message["first"]) + len(lines) != int(message["first"]):
            return False
        chars = _text_chars(message)
        if (
            len(lines) + len(message["lines"]) > MAX_MESSAGE_LINES
            or self.chars + chars > MAX_MESSAGE_CHARS
        ):
            return False
        lines += message["lines"]
        self.chars += chars
        return True


def _text_chars(message: dict) -> int:
    return sum(map(len, map(itemgetter(1), message["lines"])))


_publishers: dict[int, _Publisher] = {}
_publishers_lock = threading.Lock()


def _publisher() -> _Publisher:
    """This process's publisher (a forked child, such as a Celery worker, starts its own)."""
    pid = os.getpid()
    publisher = _publishers.get(pid)
    if publisher is None:
        with _publishers_lock:
            publisher = _publishers.get(pid) or _publishers.setdefault(pid, _Publisher())
    return publisher


def wait_until_published(seconds: float = 5.0) -> bool:
    """Whether what this process published so far has left (tests; the end of a process)."""
    publisher = _publishers.get(os.getpid())
    return publisher is None or publisher.wait_until_sent(seconds)


atexit.register(wait_until_published, 2.0)


def publish_log(deployment_id: int, lines: Sequence) -> None:
    """New log lines of a deployment, already stored, in seq order: one message per run of
    consecutive seqs, `{"type": "log.lines", "first": seq, "lines": [[stream, text], …]}`
    (no object per line; the consumers know the seqs from `first`). Lines are a batch from
    `append_log` (pipelines.logs.StoredLines) or have `seq`, `stream` and `text` (LogLine)."""
    group = deployment_group(deployment_id)
    for first, batch in _consecutive_runs(lines):
        _send(group, {"type": "log.lines", "first": first, "lines": batch})


def _consecutive_runs(lines: Sequence) -> list[tuple[int, list]]:
    if isinstance(lines, StoredLines):
        return [(lines.first, lines.lines)] if lines.lines else []
    runs: list[tuple[int, list]] = []
    for line in lines:
        if runs and runs[-1][0] + len(runs[-1][1]) == line.seq:
            runs[-1][1].append((line.stream, line.text))
        else:
            runs.append((line.seq, [(line.stream, line.text)]))
    return runs


def publish_deployment(deployment: Deployment) -> None:
    """A deployment's status or steps changed; also tells its pipeline's board."""
    _send(
        deployment_group(deployment.pk),
        {
            "type": "deployment.changed",
            "status": deployment.status,
            "last_seq": deployment.last_seq,
        },
    )
    publish_board(deployment.environment.pipeline_id)


def publish_board(pipeline_id: int) -> None:
    """Something on a pipeline's board changed: builds, deployments, sign-offs, locks."""
    _send(pipeline_group(pipeline_id), {"type": "board.changed"})
