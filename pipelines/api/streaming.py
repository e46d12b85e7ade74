"""A raw ASGI app for artifact uploads: the body goes from the socket into the store.

Django's ASGIHandler spools a whole request body to a temporary file before any view
runs. For artifacts (up to 2 GiB) this app serves `PUT …/builds/{sha}/artifact` instead:
it authenticates with the same token code and runs the same checks as the Django view
(pipelines.api.artifacts), then feeds `http.request` chunks, batched, through a small
bounded queue to `store_artifact` in a worker thread. Memory stays at a few MiB and the
bytes are written once. Everything else goes to Django, its body bounded by `body_limit`
(`with_body_limits`; dashboard/daphne_streaming.py applies the same limits in daphne).
"""

import asyncio
import json
import logging
import queue
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from pipelines.api.artifacts import DIGEST_HEADER, Upload, finish_upload, prepare_upload
from pipelines.api.auth import authenticate_header
from pipelines.api.responses import error_body
from pipelines.artifacts import store_artifact
from pipelines.errors import SlipwayError

log = logging.getLogger(__name__)

ARTIFACT_PATH = re.compile(
    r"^/api/v1/pipelines/(?P<pipeline>[-a-zA-Z0-9_]+)/builds/(?P<sha>[^/]+)/artifact$"
)
REPORTS_PATH = re.compile(r"^/api/v1/pipelines/[-a-zA-Z0-9_]+/builds/[^/]+/reports$")
# Room for the multipart boundaries and part headers around the reports.
MULTIPART_ALLOWANCE = 64 * 1024
BATCH_BYTES = 1024 * 1024
QUEUED_BATCHES = 4

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


class Body:
    """The request body as ASGI delivers it, remembering whether it has all been read."""

    def __init__(self, receive: Callable) -> None:
        self._receive = receive
        self.finished = False

    async def next_chunk(self) -> bytes:
        """The next chunk (b"" at the end). Raises ClientDisconnected."""
        if self.finished:
            return b""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.finished = True
            raise ClientDisconnected()
        self.finished = not message.get("more_body", False)
        return message.get("body", b"")

    async def drain(self) -> None:
        """Read (and drop) what is left, so the client gets to read our answer."""
        while not self.finished:
            await self.next_chunk()


def is_streamed(method: str, path: str) -> bool:
    return method == "PUT" and ARTIFACT_PATH.match(path) is not None


def is_forwarded(method: str, path: str) -> bool:
    """Bodies the server hands over while they arrive: artifacts, and reports (which Django
    then spools to disk)."""
    return is_streamed(method, path) or (method == "POST" and REPORTS_PATH.match(path) is not None)


def body_limit(method: str, path: str) -> int | None:
    """The largest body a request may send (docs/security.md); None for artifact uploads,
    which count against SLIPWAY_MAX_ARTIFACT_BYTES while they are stored."""
    if is_streamed(method, path):
        return None
    if method == "POST" and REPORTS_PATH.match(path):
        return settings.SLIPWAY_MAX_REPORT_BYTES + MULTIPART_ALLOWANCE
    return settings.SLIPWAY_MAX_BODY_BYTES


def too_large(limit: int) -> tuple[int, dict]:
    """The 413 answer to a body over `limit`."""
    return 413, error_body(
        "body_too_large",
        f"The request body is larger than {limit:,} bytes, the most this endpoint accepts.",
        {"limit": limit},
    )


class _BodyTooLarge(Exception):
    pass


def with_body_limits(app: ASGIApp) -> ASGIApp:
    """Answer 413 to a body over its `body_limit`: at once when Content-Length says so, else
    as soon as the bytes received pass it (a chunked body)."""

    async def limited(scope: dict, receive: Callable, send: Callable) -> None:
        limit = body_limit(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            return await app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _respond(send, *too_large(limit), close=True)
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge()
            return message

        try:
            await app(scope, counted, send)
        except _BodyTooLarge:  # Django reads the whole body before it answers anything
            await _respond(send, *too_large(limit), close=True)

    return limited


def with_streamed_uploads(django_app: ASGIApp) -> ASGIApp:
    """Serve artifact uploads here and every other request with `django_app`."""

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and is_streamed(scope["method"], scope["path"]):
            await upload_artifact(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return app


def in_thread(function: Callable) -> Callable[..., Awaitable[Any]]:
    # Not thread-sensitive: a long upload must not hold the thread other requests share.
    return DatabaseSyncToAsync(function, thread_sensitive=False)


async def upload_artifact(scope: dict, receive: Callable, send: Callable) -> None:
    match = ARTIFACT_PATH.match(scope["path"])
    body = Body(receive)
    headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}

    def header(name: str) -> str | None:
        value = headers.get(name.lower())
        return value.decode("latin-1") if value is not None else None

    try:
        address = (scope.get("client") or [None])[0]
        token = await in_thread(authenticate_header)(header("Authorization"), address)
        upload = await in_thread(prepare_upload)(
            token.user,
            match["pipeline"],
            match["sha"],
            digest_header=header(DIGEST_HEADER),
            content_length=header("Content-Length"),
        )
        artifact = await _stream_into_store(body, upload)
        answer, status = await in_thread(finish_upload)(upload, artifact, token.user)
    except SlipwayError as exc:
        status, answer = exc.http_status, error_body(exc.code, exc.message, exc.details)
    except ClientDisconnected:
        return
    except Exception:
        log.exception("artifact upload to %s failed", scope["path"])
        status, answer = 500, error_body("server_error", "The upload failed on the server.")
    try:
        await body.drain()
    except ClientDisconnected:
        return
    await _respond(send, status, answer)


async def _stream_into_store(body: Body, upload: Upload):
    feed = ThreadFeed(asyncio.get_running_loop())
    storing = asyncio.ensure_future(
        in_thread(store_artifact)(feed.chunks(), expected_sha256=upload.digest)
    )
    feed.watch(storing)
    try:
        await _pump(body, feed)
    except BaseException:
        await feed.put(ClientDisconnected())
        await asyncio.wait([storing])
        raise
    return await storing


async def _pump(body: Body, feed: "ThreadFeed") -> None:
    """Move body chunks into the feed, batched, until the body ends or the store gives up."""
    batch: list[bytes] = []
    size = 0
    while not body.finished:
        chunk = await body.next_chunk()
        batch.append(chunk)  # a list, not a bytearray: the bytes are never copied here
        size += len(chunk)
        if size >= BATCH_BYTES or body.finished:
            if not await feed.put(batch):
                return  # the store refused (e.g. too large): its error is the answer
            batch, size = [], 0
    await feed.put(None)


class ThreadFeed:
    """A bounded hand-over from the event loop to the store's thread, without polling."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
        self._room = asyncio.Event()
        self._consumer: asyncio.Future | None = None

    def watch(self, consumer: asyncio.Future) -> None:
        """Stop waiting for room once `consumer` is done (it will read no more)."""
        self._consumer = consumer
        consumer.add_done_callback(lambda _: self._room.set())

    async def put(self, item: Any) -> bool:
        """Queue `item`, a list of chunks (None ends the stream, an exception aborts it).
        False if the consumer stopped reading."""
        while not (self._consumer and self._consumer.done()):
            try:
                self._items.put_nowait(item)
                return True
            except queue.Full:
                self._room.clear()
                if not self._items.full():
                    continue
                await self._room.wait()
        return False

    def chunks(self) -> Iterator[bytes]:
        """The consumer's side, in its thread."""
        while True:
            item = self._items.get()
            self._loop.call_soon_threadsafe(self._room.set)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item


async def _respond(send: Callable, status: int, answer: dict, *, close: bool = False) -> None:
    content = json.dumps(answer, cls=DjangoJSONEncoder).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    if close:  # the rest of the body is not read
        headers.append((b"connection", b"close"))
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="slipway"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
