"""Daphne's streamed responses wait for a client that reads slowly.

Daphne writes every chunk the application sends into Twisted's buffer for the socket and
returns at once, so a streamed response is produced as fast as the application can make it,
whatever the client reads: a client reading a 200,000-line log slowly had all of its 6.9 MB
held by the server, and a log at its caps (1,000,000 lines of up to 10,000 characters) would
have been 10 GB. After each chunk the application's `send` now waits while more than
`max_buffered` bytes wait for the socket; a client that goes away ends the wait (and the
response). The WebSocket side has its own bound (dashboard/daphne_websockets.py).

`install(max_buffered)` wraps daphne's send; it is a no-op without daphne.
"""

import asyncio

from dashboard.daphne_websockets import buffered_bytes

RESPONSE_BUFFER_BYTES = 1024 * 1024
DRAIN_CHECK_SECONDS = 0.005


def install(max_buffered: int = RESPONSE_BUFFER_BYTES) -> bool:
    try:
        from daphne import server
    except ImportError:
        return False
    send = server.Server.handle_reply
    if getattr(send, "waits_for_readers", False):
        return True  # installed already

    async def handle_reply(self, protocol, message):
        await send(self, protocol, message)
        if message.get("type") == "http.response.body" and message.get("more_body"):
            await _drained(self, protocol, max_buffered)

    handle_reply.waits_for_readers = True
    server.Server.handle_reply = handle_reply
    return True


async def _drained(server, protocol, max_buffered: int) -> None:
    """Until the socket of `protocol` holds no more than `max_buffered` unsent bytes, or the
    client is gone."""
    while True:
        channel = getattr(protocol, "channel", None)
        transport = getattr(channel, "transport", None)
        if transport is None or getattr(protocol, "finished", False):
            return
        if server.connections.get(protocol, {}).get("disconnected"):
            return
        if buffered_bytes(transport) <= max_buffered:
            return
        await asyncio.sleep(DRAIN_CHECK_SECONDS)
