"""The embedded mode (no REDIS_URL): background work runs in the server process.

Work is scheduled with `sync_to_async(..., thread_sensitive=False)` on the server's own
event loop, so `async_to_sync(group_send)` inside it reaches the in-memory channel layer
that lives on that loop (docs/architecture.md, "Embedded and production mode"). Without a
server loop (a management command, a shell, a test client) the caller runs it itself.
"""

import asyncio
import functools
import logging
import os
from collections.abc import Callable

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from pipelines.runner.reaper import reap_stale_deployments

logger = logging.getLogger(__name__)

_background: set = set()  # keeps running futures referenced until they finish
_reaper_loops: set[asyncio.AbstractEventLoop] = set()
_periodic: list[tuple[str, Callable[[], object]]] = []  # run_periodically's jobs
STARTUP_ROUND_SECONDS = 1.0


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the server that called this (sync) code, if there is one."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def run_in_process(function: Callable[[], object]) -> None:
    """Run `function` on a thread of the server's event loop, or right away without one."""
    loop = server_loop()
    if loop is None:
        function()
        return
    coroutine = sync_to_async(_in_worker_thread, thread_sensitive=False)(function)
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    _background.add(future)
    future.add_done_callback(_finished)
    loop.call_soon_threadsafe(start_reaper)


def start_reaper() -> None:
    """Start the reaper's timer on the running loop (once per loop). Call it on the loop."""
    loop = asyncio.get_running_loop()
    if settings.REDIS_URL or loop in _reaper_loops:
        return
    _reaper_loops.add(loop)
    task = loop.create_task(_reap_periodically(settings.SLIPWAY_REAPER_INTERVAL_SECONDS))
    _background.add(task)
    for interval_setting, job in _periodic:
        interval = getattr(settings, interval_setting)
        _background.add(loop.create_task(_every(interval, job)))


def run_periodically(interval_setting: str, job: Callable[[], object]) -> None:
    """Run `job` every `settings.<interval_setting>` seconds beside the reaper, in the embedded
    mode (Celery beat runs it in production). The layers above register their jobs here
    (pipelines/apps.py), so the runner never imports them."""
    if (interval_setting, job) not in _periodic:
        _periodic.append((interval_setting, job))


def with_embedded_reaper(application: Callable) -> Callable:
    """ASGI wrapper: the first connection starts the reaper timer (daphne has no lifespan)."""

    async def app(scope, receive, send):
        start_reaper()
        return await application(scope, receive, send)

    return app


async def _reap_periodically(interval: float) -> None:
    """The first round, soon after start-up, also picks up every deployment left queued:
    this process runs them all, and it has just started. Later rounds, every `interval`."""
    started = timezone.now()
    # Wait a moment first: a short-lived loop (a test's communicator) never touches the
    # database, and nothing is stale before SLIPWAY_STALE_AFTER_SECONDS anyway.
    await asyncio.sleep(min(interval, STARTUP_ROUND_SECONDS))
    queued_before = started
    while True:
        try:
            await sync_to_async(_in_worker_thread, thread_sensitive=False)(
                functools.partial(reap_stale_deployments, queued_before=queued_before)
            )
        except Exception:
            logger.exception("the embedded reaper failed; trying again later")
        queued_before = None
        await asyncio.sleep(interval)


async def _every(interval: float, job: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await sync_to_async(_in_worker_thread, thread_sensitive=False)(job)
        except Exception:
            logger.exception("the periodic job %s failed; trying again later", job.__name__)


def _in_worker_thread(function: Callable, *args):
    close_old_connections()
    try:
        return function(*args)
    finally:
        connections.close_all()  # this thread's connections only


def _finished(future) -> None:
    _background.discard(future)
    if not future.cancelled() and future.exception() is not None:
        logger.error("embedded background work crashed", exc_info=future.exception())
