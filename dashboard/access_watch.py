"""Open WebSockets lose access as their user does (docs/security.md, "Live sockets").

Every SLIPWAY_SOCKET_ACCESS_SECONDS one task per process (per event loop) checks the
sessions and users of all its open sockets together, in a constant number of queries
(`live_data.sockets_still_allowed`), and closes with 4403 those whose user logged out or
lost their role. One loop per socket cost three queries and a thread hop each: with fifty
viewers of a busy log, a third of the web process's CPU (docs/architecture.md, "Live
updates").
"""

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from dashboard import live_data

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403


class AccessWatch:
    """The sockets of one event loop, each with the user and session key it opened with."""

    def __init__(self) -> None:
        self.sockets: dict[object, tuple] = {}  # consumer → (user, session key), in order
        self.task: asyncio.Task | None = None

    def add(self, consumer, user, session_key: str | None) -> None:
        self.sockets[consumer] = (user, session_key)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer) -> None:
        self.sockets.pop(consumer, None)

    async def _run(self) -> None:
        while self.sockets:  # ends with the last socket; `add` starts it again
            await asyncio.sleep(settings.SLIPWAY_SOCKET_ACCESS_SECONDS)
            await self.check()

    async def check(self) -> None:
        """Close, with 4403, every socket whose user may no longer watch."""
        watched = list(self.sockets.items())
        if not watched:
            return
        try:
            allowed = await database_sync_to_async(live_data.sockets_still_allowed)(
                [opened_by for _, opened_by in watched]
            )
        except Exception:  # noqa: BLE001 (the database is down: keep watching, try next time)
            logger.warning("could not re-check %s sockets' access", len(watched), exc_info=True)
            return
        for (consumer, _), may_go_on in zip(watched, allowed, strict=True):
            if may_go_on or consumer not in self.sockets:  # closed meanwhile
                continue
            self.discard(consumer)
            try:
                await consumer.close(code=CLOSE_FORBIDDEN)
            except Exception:  # noqa: BLE001 (one socket's failure must not spare the others)
                logger.warning("could not close a socket that lost access", exc_info=True)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def access_watch() -> AccessWatch:
    """The running event loop's watch (daphne has one loop per process)."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = AccessWatch()
    return watch
