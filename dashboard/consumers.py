"""WebSocket consumers: a deployment's live log and a pipeline's live board.

Channels delivers at most once (docs/architecture.md, "Live updates"): the database is the
truth and messages are only news of it. The log consumer is fed (dashboard/log_feed.py)
from before it replays, drops lines it has sent (`seq <= last`) and refills any gap from
the database, so a client sees every line exactly once and in order; a client that
reconnects with `?after=<last seq it rendered>` resumes exactly. Users who may not see a
pipeline get close code 4403 and nothing else, and so does an open socket once its user
logs out or loses their role (AccessWatched).
"""

import asyncio
import logging
from collections import deque
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard import live_data
from dashboard.access_watch import access_watch
from dashboard.log_feed import log_feed
from dashboard.log_html import live_batch_frame, live_frame
from pipelines.live import pipeline_group
from pipelines.numbers import parse_whole_number

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
# After how long without news a log socket checks the database itself: a lost final
# message, or a channel layer that lost its groups (a Redis restart), must not leave a
# client hanging. Only when idle: a busy stream is already checked by every message.
IDLE_CHECK_SECONDS = 5.0
# Live lines a catching-up socket keeps to send after what it reads from the database; past
# that the oldest go (the database has them).
MAX_HELD_LINES = 20_000
# The board re-renders at most this often, however many changes arrive (coalescing).
BOARD_RENDER_INTERVAL = 0.25


class AccessWatched:
    """Closes the socket with 4403 once its user has logged out or lost their role: access
    is not only decided at connect (docs/security.md). The process's AccessWatch checks all
    its sockets together every SLIPWAY_SOCKET_ACCESS_SECONDS."""

    def watch_access(self) -> None:
        session = self.scope.get("session")
        session_key = session.session_key if session is not None else None
        access_watch().add(self, self.scope.get("user"), session_key)

    def stop_watching_access(self) -> None:
        access_watch().discard(self)


class DeploymentLogConsumer(AccessWatched, AsyncWebsocketConsumer):
    """`ws /ws/deployments/{id}/?after=N`: stored lines with seq > N, live lines, the
    final status; then the socket closes normally (1000).

    Live news comes from the process's LogFeed of the deployment (dashboard/log_feed.py),
    not from a channel of its own: one subscription and one rendering per process."""

    channel_layer_alias = None  # no channel per socket: the feed holds the process's one

    async def connect(self) -> None:
        self.deployment_id = int(self.scope["url_route"]["kwargs"]["deployment"])
        self.last = _after(self.scope.get("query_string", b""))
        await self.accept()  # accept first, so that the client sees the 4403/4404 code
        access = await database_sync_to_async(live_data.deployment_access)(
            self.scope.get("user"), self.deployment_id
        )
        if access.close_code:
            await self.close(code=access.close_code)
            return
        self.roles = access.roles
        self.finished = False
        self.status_sent: str | None = None
        self.status_news = False  # the status or steps changed since it was last sent
        self.missed = False  # news came while catching up: read the database again
        self.delivering = asyncio.Lock()
        self.refill: asyncio.Task | None = None
        self.held: deque[tuple[int, list, str]] = deque()  # live batches, while catching up
        self.held_lines = 0
        self.lines_missed = True  # the database has lines this socket has not sent yet
        self.news_at = asyncio.get_running_loop().time()
        # Fed from before the replay: live lines that overlap it are dropped by seq.
        self.feed = log_feed(self.deployment_id)
        await self.feed.add(self)
        await self.catch_up()
        if not self.finished:
            self.watchdog = asyncio.create_task(self._check_when_idle())
            self.watch_access()

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "watchdog", None), getattr(self, "refill", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "feed", None) is not None:
            self.feed.discard(self)
        self.stop_watching_access()

    async def feed_lines(self, first: int, lines: list, frame: str) -> None:
        """Live lines with seqs first, first + 1, …, and their frame (rendered once for all
        the process's watchers). Called by the feed, which must never wait for the database:
        a gap, or a catch-up in progress, is left to `refill`."""
        self.news_at = asyncio.get_running_loop().time()
        if self.finished:
            return
        if self.delivering.locked():  # catching up: it sends these after what it reads
            self._hold(first, lines, frame)
            return
        async with self.delivering:
            if await self._send_live(first, lines, frame):
                return
        # A message was lost (or came out of order): the database has every line.
        logger.info(
            "deployment %s: lines %s-%s missed by the channel layer, sent from the db",
            self.deployment_id,
            self.last + 1,
            first - 1,
        )
        self._hold(first, lines, frame)
        self.lines_missed = True
        self._refill_soon()

    async def _send_live(self, first: int, lines: list, frame: str | None) -> bool:
        """Send the part of a live batch beyond `last`; False when there is a gap before it."""
        if first <= self.last:  # a duplicate, or overtaken by a refill
            lines = lines[self.last + 1 - first :]
            first, frame = self.last + 1, None
        if not lines:
            return True
        if first != self.last + 1:
            return False
        await self.send(text_data=frame or live_batch_frame(self.deployment_id, first, lines))
        self.last = first + len(lines) - 1
        return True

    def _hold(self, first: int, lines: list, frame: str) -> None:
        """Keep a live batch that came while catching up: the catch-up reads the database
        only up to the first line held, then sends the held batches as they are. Had it read
        up to the end instead, a log written faster than one socket's pages come from the
        database (each rendered for it alone) was never caught up with."""
        if self.held and first != self.held[-1][0] + len(self.held[-1][1]):
            self.held.clear()  # a gap: the database fills it, before this batch
            self.held_lines = 0
            self.lines_missed = True
        self.held.append((first, lines, frame))
        self.held_lines += len(lines)
        while self.held_lines > MAX_HELD_LINES:
            self.held_lines -= len(self.held.popleft()[1])
            self.lines_missed = True

    async def _send_held(self) -> None:
        while self.held and self.held[0][0] <= self.last + 1:
            first, lines, frame = self.held.popleft()
            self.held_lines -= len(lines)
            await self._send_live(first, lines, frame)

    def feed_changed(self) -> None:
        """The deployment's status or steps changed."""
        self.news_at = asyncio.get_running_loop().time()
        self.status_news = True
        self._refill_soon()

    def _refill_soon(self) -> None:
        self.missed = True
        if not self.finished and (self.refill is None or self.refill.done()):
            self.refill = asyncio.create_task(self.catch_up())

    async def catch_up(self) -> None:
        """Send the lines beyond `last` when some were missed (the database's, then the live
        ones held meanwhile), the status if new, and finish if final; again as long as news
        came meanwhile.

        A status change alone reads no lines: the feed brings them, and the final status
        comes after the last of them. (Fifty watchers, each reading from the database the
        lines the feed had not brought yet at each step of a busy deployment, fell behind
        for good.)"""
        async with self.delivering:
            while not self.finished:
                self.missed = False
                if self.lines_missed:  # a state read after it missed them, its own
                    state = await database_sync_to_async(live_data.deployment_state)(
                        self.deployment_id
                    )
                else:  # news of the deployment: the feed's read since then
                    state = await self.feed.state()
                if self.lines_missed or state.final:
                    await self._send_stored(upto=state.last_seq)
                    self.lines_missed = False
                await self._send_held()
                if self.status_news or state.status != self.status_sent:
                    self.status_news = False
                    await self.send(text_data=await self.feed.status_frame(state, self.roles))
                    self.status_sent = state.status
                if state.final:
                    self.finished = True
                    self.stop_watching_access()
                    await self.close(code=1000)
                    return
                await self._send_held()  # what came while the status went
                if self.held:  # a gap before them: the database fills it
                    self.lines_missed = True
                elif not self.missed:
                    return

    async def _send_stored(self, *, upto: int) -> None:
        """Send the lines up to `upto`: from the held live batches where they reach, from the
        database before them."""
        while True:
            await self._send_held()
            end = min(upto, self.held[0][0] - 1) if self.held else upto
            if self.last >= end:
                return
            lines = await database_sync_to_async(live_data.stored_lines)(
                self.deployment_id, after=self.last, upto=end
            )
            if not lines:
                return
            await self._send_lines(lines)

    async def _send_lines(self, lines: list[dict]) -> None:
        await self.send(text_data=live_frame(self.deployment_id, lines))
        self.last = lines[-1]["seq"]

    async def _check_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.finished:
            await asyncio.sleep(self.news_at + IDLE_CHECK_SECONDS - loop.time())
            if loop.time() - self.news_at < IDLE_CHECK_SECONDS:
                continue  # news came meanwhile
            self.news_at = loop.time()
            await self.feed.join()  # again: a restarted Redis has forgotten the groups
            self.lines_missed = True  # news may have been lost: the database tells
            try:
                await self.catch_up()
            except Exception:  # noqa: BLE001 (the database away: the next check asks again)
                logger.warning("deployment %s: no catch-up", self.deployment_id, exc_info=True)


class BoardConsumer(AccessWatched, AsyncWebsocketConsumer):
    """`ws /ws/pipelines/{p}/`: the environment cards and promotion panels, re-rendered for
    this user as htmx out-of-band swaps whenever the board changes, and at once on a
    reconnect (`?resync=1`: changes may have been missed while it was down).

    Not on the first connect: the page was rendered a moment ago, and a copy rendered while
    the person acts could arrive after their action's answer and show it undone.
    """

    async def connect(self) -> None:
        await self.accept()
        access = await database_sync_to_async(live_data.pipeline_access)(
            self.scope.get("user"), self.scope["url_route"]["kwargs"]["pipeline"]
        )
        if access.close_code:
            await self.close(code=access.close_code)
            return
        self.pipeline = access.pipeline
        self.dirty = False
        self.last_render = float("-inf")
        self.render_task: asyncio.Task | None = None
        group = pipeline_group(self.pipeline.pk)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        self.watch_access()
        if "resync" in parse_qs(self.scope.get("query_string", b"").decode("latin-1")):
            await self._render()  # a reconnected board may have missed changes

    async def disconnect(self, code: int) -> None:
        if getattr(self, "render_task", None) is not None:
            self.render_task.cancel()
        self.stop_watching_access()

    async def board_changed(self, event: dict) -> None:
        self.dirty = True
        if self.render_task is None or self.render_task.done():
            self.render_task = asyncio.create_task(self._render_when_due())

    async def _render_when_due(self) -> None:
        loop = asyncio.get_running_loop()
        while self.dirty:
            wait = self.last_render + BOARD_RENDER_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # changes arriving meanwhile join this render
            self.dirty = False
            await self._render()

    async def _render(self) -> None:
        self.last_render = asyncio.get_running_loop().time()
        html = await database_sync_to_async(live_data.board_frame)(
            self.pipeline, self.scope["user"]
        )
        await self.send(text_data=html)


def _after(query_string: bytes) -> int:
    """The client's resume cursor `?after=N`: the last seq it rendered (0: from the start)."""
    values = parse_qs(query_string.decode("latin-1")).get("after", ["0"])
    return parse_whole_number(values[-1]) or 0
