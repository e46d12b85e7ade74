"""One channel-layer subscription per deployment per web process (docs/architecture.md,
"Live updates").

All the watchers of a deployment's log in one process are fed from one channel: the feed
joins the deployment's group once, receives each message once, renders a batch once and
sends that same frame to every watcher (`DeploymentLogConsumer.feed_lines`). With a group
member per socket, channels-redis woke every socket's receive for every message and each
one dispatched it on its own. Batches that queued up while the feed was sending leave as
one frame: a busy log gets fewer, bigger frames; a quiet one waits for nothing.

The feed never waits for the database: a watcher that is catching up from it, or that
finds a gap, refills on its own task (the database is the truth, messages are news). When
the deployment changes, its state is read once for all the watchers (`state`), and the
status frame for a state and a set of roles rendered once (`status_frame`): fifty watchers
of a deployment that ended read and rendered it fifty times while their last lines were on
their way.
"""

import asyncio
import logging
import weakref
from collections import deque

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from dashboard import live_data
from dashboard.log_html import live_batch_frame
from pipelines.live import LogRun, deployment_group

logger = logging.getLogger(__name__)

# Messages received but not yet sent on; past that the oldest are dropped (watchers see the
# gap and refill from the database), so a process that cannot keep up does not grow.
MAX_WAITING = 1000
RETRY_SECONDS = 1.0  # after the channel layer failed (Redis restarting)


class LogFeed:
    def __init__(self, deployment_id: int, forget) -> None:
        self.deployment_id = deployment_id
        self.group = deployment_group(deployment_id)
        self.forget = forget  # drops this feed from its loop's registry
        self.layer = get_channel_layer()
        self.watchers: dict = {}  # consumer → None, in the order they came
        self.waiting: deque[dict] = deque()
        self.arrived = asyncio.Event()
        self.channel: str | None = None
        self.starting = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []
        self.dropped = 0
        # Since the last deployment.changed: the deployment's state read once for all the
        # watchers, and status frames by (state, roles).
        self.state_read: asyncio.Future | None = None
        self.status_frames: dict[tuple, asyncio.Future] = {}

    async def add(self, watcher) -> None:
        """Feed `watcher` from now on; returns once the group is joined (so a replay from
        the database after this misses nothing)."""
        self.watchers[watcher] = None
        if self.layer is None:
            return  # no channel layer: the watchers' idle checks read the database
        async with self.starting:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                loop = asyncio.get_running_loop()
                self.tasks = [loop.create_task(self._receive()), loop.create_task(self._deliver())]
        await self.join()

    def discard(self, watcher) -> None:
        self.watchers.pop(watcher, None)
        if self.watchers:
            return
        self.forget(self)
        for task in self.tasks:
            task.cancel()
        if self.channel is not None:
            self.tasks = [asyncio.get_running_loop().create_task(self._leave())]

    async def join(self) -> None:
        """Join the deployment's group (idempotent: the watchers' idle checks call it again,
        as a restarted Redis has forgotten the groups). A channel layer that is down does
        not stop the watchers: the database still answers."""
        for attempt in (1, 2):  # the first may meet a pooled connection a restart broke
            try:
                await self.layer.group_add(self.group, self.channel)
                return
            except Exception:  # noqa: BLE001
                if attempt == 2:
                    logger.warning("could not join %s", self.group, exc_info=True)

    async def _leave(self) -> None:
        try:
            await self.layer.group_discard(self.group, self.channel)
        except Exception:  # noqa: BLE001 (the group expires in Redis anyway)
            logger.info("could not leave %s", self.group, exc_info=True)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                logger.warning("%s: the channel layer failed", self.group, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if len(self.waiting) >= MAX_WAITING:
                self.waiting.popleft()
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    logger.warning("%s: %s messages dropped", self.group, self.dropped)
            self.waiting.append(message)
            self.arrived.set()

    async def _deliver(self) -> None:
        while True:
            await self.arrived.wait()
            self.arrived.clear()
            while self.waiting:
                message = self.waiting.popleft()
                if message["type"] == "log.lines":
                    await self._send_lines(message)
                else:  # deployment.changed: each watcher catches up on its own task
                    self.state_read, self.status_frames = None, {}
                    for watcher in list(self.watchers):
                        watcher.feed_changed()

    async def state(self) -> live_data.DeploymentState:
        """The deployment's state, read after the last deployment.changed: once for all the
        watchers that ask before the next (each read it for itself, fifty reads at each step
        of a deployment with fifty watchers)."""
        load = database_sync_to_async(live_data.deployment_state)
        self.state_read = _shared(self.state_read, lambda: load(self.deployment_id))
        return await asyncio.shield(self.state_read)

    async def status_frame(self, state: live_data.DeploymentState, roles: set[str]) -> str:
        """The status frame of the deployment as it is in `state` or later, for `roles`:
        rendered once for all the watchers that ask with the same state and roles (keyed by
        the state, a watcher that saw the deployment end never gets a frame of it running)."""
        key = (state.status, state.last_seq, frozenset(roles))
        render = database_sync_to_async(live_data.status_frame)
        frame = _shared(self.status_frames.get(key), lambda: render(self.deployment_id, roles))
        self.status_frames[key] = frame
        return await asyncio.shield(frame)  # one watcher cancelled must not cancel the rest

    async def _send_lines(self, message: dict) -> None:
        if self.waiting:  # batches that continue this one leave with it
            run = LogRun(message)
            while self.waiting and run.take(self.waiting[0]):
                self.waiting.popleft()
            message = run.message
        first, lines = int(message["first"]), message["lines"]
        frame = live_batch_frame(self.deployment_id, first, lines)
        for watcher in list(self.watchers):
            try:
                await watcher.feed_lines(first, lines, frame)
            except Exception:  # noqa: BLE001 (one broken socket must not starve the others)
                logger.warning("%s: a watcher failed", self.group, exc_info=True)


def _shared(future: asyncio.Future | None, start) -> asyncio.Future:
    """`future`, awaited by every watcher that asks, unless there is none yet or it failed:
    then a new one of `start()`."""
    if future is None or (future.done() and (future.cancelled() or future.exception())):
        future = asyncio.ensure_future(start())
    return future


_feeds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def log_feed(deployment_id: int) -> LogFeed:
    """The running event loop's feed of a deployment (daphne has one loop per process)."""
    feeds = _feeds.setdefault(asyncio.get_running_loop(), {})
    feed = feeds.get(deployment_id)
    if feed is None:

        def forget(gone: LogFeed) -> None:
            if feeds.get(deployment_id) is gone:
                del feeds[deployment_id]

        feed = feeds[deployment_id] = LogFeed(deployment_id, forget)
    return feed
