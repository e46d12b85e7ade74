"""Let daphne hand chosen request bodies to the application while they arrive.

Daphne (4.x) waits for the whole body — Twisted spools it to a temporary file — and then
puts all of it into the application's unbounded input queue at once (django/daphne#483):
a 1 GiB upload costs 1 GiB of server memory before the application reads a byte.

For requests that `streamed(method, path)` accepts, this request class starts the
application as soon as the headers are in and passes each body chunk on as it comes,
pausing the socket while more than a few MiB wait in the queue. All other requests keep
daphne's own handling, less one thing: Twisted no longer parses POSTed forms for itself.
Daphne never reads what it parses, and a multipart body Twisted's parser cannot read
(say, one with no parts) got a bare 400 before the application
could answer it (django/daphne#447). And every body has a limit (`body_limit`): one whose
Content-Length is over it gets 413 before a byte of it is read, one that grows past it while
it arrives (chunked) gets 413 then, and the connection is closed (docs/security.md).
`install()` swaps the class in; it is a no-op without daphne.
"""

import io
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote

log = logging.getLogger(__name__)

READ_BYTES = 1024 * 1024
HIGH_WATER = 8  # queued chunks (each up to READ_BYTES) before pausing the socket
LOW_WATER = 2
RESUME_CHECK_SECONDS = 0.002

Streamed = Callable[[str, str], bool]
BodyLimit = Callable[[str, str], int | None]
# The answer to a body over its limit: (status, JSON-ready body).
Refusal = Callable[[int], tuple[int, dict]]


def install(streamed: Streamed, body_limit: BodyLimit, refusal: Refusal) -> bool:
    try:
        from daphne import http_protocol
    except ImportError:
        return False
    if getattr(http_protocol.WebRequest, "streamed", None) is not None:
        return True  # installed already
    http_protocol.WebRequest = _request_class(
        http_protocol.WebRequest, streamed, body_limit, refusal
    )
    return True


def _request_class(
    WebRequest: type, streamed: Streamed, body_limit: BodyLimit, refusal: Refusal
) -> type:
    from twisted.internet import reactor

    class StreamingWebRequest(WebRequest):
        refused = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

        def gotLength(self, length):
            method = self.channel._command.decode("ascii", "replace").upper()
            path = unquote(self.channel._path.split(b"?", 1)[0].decode("ascii", "replace"))
            limit = body_limit(method, path)
            if limit is not None and length is not None and length > limit:
                self.refuse(limit)  # before a byte of the body is read
            elif streamed(method, path) and self._start():
                self.content = _ForwardedBody(self)
            else:
                super().gotLength(length)
                if limit is not None:  # daphne would queue all of it in memory: count it
                    self.content = _CappedBody(self, self.content, limit)

        def refuse(self, limit: int) -> None:
            """Answer 413 now, read no more of this connection, and close it."""
            self.refused = True
            self.content = _CappedBody(self, io.BytesIO(), 0)
            status, answer = refusal(limit)
            body = json.dumps(answer).encode()
            channel = self.channel
            channel.transport.write(
                b"HTTP/1.1 %d Request Entity Too Large\r\n" % status
                + b"Content-Type: application/json\r\nConnection: close\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + body
            )
            channel._networkProducer.pauseProducing()
            channel.transport.loseConnection()

        def _start(self) -> bool:
            """Start the application now, with the scope daphne would give it later."""
            if self.server.proxy_forwarded_address_header or not self._headers_valid():
                return False  # daphne's own handling: proxy-aware, answers bad headers
            channel = self.channel
            self.method, self.uri, self.clientproto = (
                channel._command,
                channel._path,
                channel._version,
            )
            self.path, _, self.query_string = self.uri.partition(b"?")
            self.request_start = time.time()
            if hasattr(self.client, "host") and hasattr(self.client, "port"):
                self.client_addr = [str(self.client.host), self.client.port]
                self.server_addr = [str(self.host.host), self.host.port]
            headers = [
                (name.lower(), value)
                for name, values in self.requestHeaders.getAllRawHeaders()
                if b"_" not in name  # as daphne does (CVE-2015-0219)
                for value in values
            ]
            scope = {
                "type": "http",
                "http_version": self.clientproto.split(b"/")[-1].decode("ascii"),
                "method": self.method.decode("ascii").upper(),
                "path": unquote(self.path.decode("ascii")),
                "raw_path": self.path,
                "root_path": self.server.root_path,
                "scheme": "https" if self.isSecure() else "http",
                "query_string": self.query_string,
                "headers": headers,
                "client": self.client_addr,
                "server": self.server_addr,
            }
            if hasattr(channel.transport, "bufferSize"):
                # Read the socket in bigger bites: far fewer trips through Twisted per MiB.
                channel.transport.bufferSize = READ_BYTES
            self.application_queue = self.server.create_application(self, scope)
            return self.application_queue is not None

        def _headers_valid(self) -> bool:
            from daphne.utils import HEADER_NAME_RE, INVALID_HEADER_VALUE_BYTES

            return all(
                HEADER_NAME_RE.fullmatch(name)
                and not any(INVALID_HEADER_VALUE_BYTES.intersection(v) for v in values)
                for name, values in self.requestHeaders.getAllRawHeaders()
            )

        def process(self):
            if self.refused:
                return None
            if isinstance(self.content, _ForwardedBody):
                self.content.end()
            else:
                return super().process()

    StreamingWebRequest.streamed = staticmethod(streamed)

    class _ForwardedBody:
        """Stands in for Twisted's content file: chunks go to the application queue."""

        def __init__(self, request) -> None:
            self.request, self.size, self.paused, self.closed = request, 0, False, False

        def write(self, data: bytes) -> None:
            self.size += len(data)
            queue = self.request.application_queue
            queue.put_nowait({"type": "http.request", "body": data, "more_body": True})
            if queue.qsize() > HIGH_WATER:
                self.request.channel._networkProducer.pauseProducing()
                if not self.paused:
                    self.paused = True
                    reactor.callLater(RESUME_CHECK_SECONDS, self._resume_when_drained)

        def _resume_when_drained(self) -> None:
            channel = self.request.channel
            if channel is None or self.closed:
                return
            if self.request.application_queue.qsize() > LOW_WATER:
                reactor.callLater(RESUME_CHECK_SECONDS, self._resume_when_drained)
                return
            self.paused = False
            channel._networkProducer.resumeProducing()

        def end(self) -> None:
            self.request.application_queue.put_nowait(
                {"type": "http.request", "body": b"", "more_body": False}
            )

        def tell(self) -> int:
            return self.size

        def seek(self, *args) -> None:
            pass

        def read(self, *args) -> bytes:
            return b""

        def close(self) -> None:
            self.closed = True

    class _CappedBody:
        """Twisted's content file, refusing the request once more than `limit` bytes came."""

        def __init__(self, request, content, limit: int) -> None:
            self.request, self.content, self.limit, self.size = request, content, limit, 0

        def write(self, data: bytes) -> None:
            if self.request.refused:
                return
            self.size += len(data)
            if self.size > self.limit:
                self.request.refuse(self.limit)
                return
            self.content.write(data)

        def __getattr__(self, name):
            return getattr(self.content, name)

    return StreamingWebRequest
