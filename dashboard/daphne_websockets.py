"""Daphne's WebSocket sends, for a frame that goes to many sockets and a socket that reads slowly
(docs/architecture.md, "Live updates").

- **Framed once.** A deployment's log feed sends the very same frame (one `str`) to every
  watcher in the process (dashboard/log_feed.py). Daphne encoded it to UTF-8 and autobahn
  framed it, copying it twice, for each socket: two of every three copies daphne made of a
  busy log. A text sent again is now sent as autobahn's `PreparedMessage` of it, encoded and
  framed once (autobahn's own way of sending one message to many connections).
- **Written at once.** Twisted buffers every write for a later turn of the loop, and a
  socket with bytes still buffered copies them together with each new frame (a seventh of
  daphne's time with fifty watchers); autobahn formats a debug line for each send. A frame
  for a plain TCP socket with nothing buffered goes to the kernel at once (`write_now`), the
  rest to Twisted's buffer.
- **Bounded.** Daphne writes whatever the application sends into Twisted's buffer for the
  socket, which grows without limit while the client reads slower than the log is written:
  each slow socket held all of the log its client had not read yet. A socket more than
  `SLIPWAY_SOCKET_BUFFER_BYTES` behind is now closed at once (the client sees 1006 and
  reconnects with `?after=<the last line it rendered>`, so it resumes from the database, in
  a few big frames, and misses nothing).
- **Closed after its tail.** Autobahn gives a client 1 s to answer the close frame, which
  waits behind whatever the socket's buffers hold (Twisted's, the kernel's, the client's): a
  client a few seconds behind when its deployment ended was cut off (1006) before it read
  the last lines, and reconnected for them. It now has `CLOSE_HANDSHAKE_SECONDS`.

`install(max_behind)` swaps the protocol class in; it is a no-op without daphne.
"""

import logging
from collections import OrderedDict

log = logging.getLogger(__name__)

CLOSE_HANDSHAKE_SECONDS = 30.0
PREPARED_FRAMES = 8  # recent texts kept framed: the feed sends each to all its watchers in turn


def install(max_behind: int) -> bool:
    """Bound daphne's sockets to `max_behind` buffered bytes each."""
    try:
        from daphne import ws_protocol
    except ImportError:
        return False
    protocol = ws_protocol.WebSocketFactory.protocol
    if getattr(protocol, "prepared_frames", None) is None:
        protocol = ws_protocol.WebSocketFactory.protocol = _protocol_class(protocol)
    protocol.max_behind = max_behind
    return True


class PreparedFrames:
    """The last few texts sent, by identity, with their prepared message."""

    def __init__(self, size: int = PREPARED_FRAMES) -> None:
        self.size = size
        self.frames: OrderedDict[int, tuple[str, object]] = OrderedDict()

    def get(self, factory, text: str):
        entry = self.frames.get(id(text))
        if entry is not None and entry[0] is text:  # the same object, not a reused id
            return entry[1]
        prepared = factory.prepareMessage(text.encode("utf8"))
        self.frames[id(text)] = (text, prepared)  # holding `text` keeps its id from reuse
        while len(self.frames) > self.size:
            self.frames.popitem(last=False)
        return prepared


def buffered_bytes(transport) -> int:
    """What Twisted holds for the socket, not yet handed to the kernel (a FileDescriptor's
    buffers; 0 for a transport without them)."""
    pending = getattr(transport, "dataBuffer", b"")
    return len(pending) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


def write_now(transport, data: bytes) -> None:
    """Hand `data` to the kernel now, as much as it takes, and the rest to Twisted's buffer.

    Twisted's transports only buffer, to write on a later turn of the loop; a socket that is
    behind then copies what it holds together with each new frame. Writing at once when
    nothing is buffered (the plain TCP socket of a client that keeps up) skips that copy and
    that turn. Anything else (TLS, a wrapped transport, a socket already behind) goes
    through Twisted, in order."""
    sock = getattr(transport, "socket", None)
    if sock is None or getattr(transport, "TLS", False) or buffered_bytes(transport):
        transport.write(data)
        return
    try:
        sent = sock.send(data)
    except OSError:  # would block, or the connection is going: Twisted finds out which
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])


def _protocol_class(WebSocketProtocol: type) -> type:
    class BoundedWebSocketProtocol(WebSocketProtocol):
        prepared_frames = PreparedFrames()
        max_behind = 16 * 1024 * 1024

        def serverSend(self, content, binary=False):
            if self.state != self.STATE_OPEN:
                return super().serverSend(content, binary)
            behind = buffered_bytes(self.transport)
            if behind > self.max_behind:
                log.info(
                    "WebSocket %s is %s MB behind: closed (the client resumes from its cursor)",
                    self.client_addr,
                    behind // 2**20,
                )
                self.dropConnection(abort=True)
                return
            if binary:
                return super().serverSend(content, binary)
            prepared = self.prepared_frames.get(self.factory, content)
            if self.send_queue or self._perMessageCompress is not None:
                self.sendPreparedMessage(prepared)  # autobahn's own ways, in their order
            else:
                write_now(self.transport, prepared.payloadHybi)

        def serverClose(self, code=None):
            self.closeHandshakeTimeout = CLOSE_HANDSHAKE_SECONDS  # autobahn reads it on close
            super().serverClose(code)

    return BoundedWebSocketProtocol
