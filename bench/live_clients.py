"""The watching side of bench/live_logs.py: many WebSocket clients (or raw Redis subscribers)
spread over a few processes, so that the clients are not what limits the figures.

Both kinds do the same work per message, as cheaply as Python allows: one regex pass over
the payload's text for the lines' seqs, and a set update (lost and duplicated lines are
counted by seq). Per line in Python (a tuple, a set.add, a max each) the 50 clients took
three times the CPU of daphne, the runner and PostgreSQL together, and were what the
figure measured. The client that times emit → receive (`keep_latencies`) parses every line.
"""

import asyncio
import json
import multiprocessing
import re
import time
from collections.abc import Callable

LINE = re.compile(r'<div class="line (\w+)" data-seq="(\d+)"[^>]*>([^<]*)')
SEQ = re.compile(r'data-seq="(\d+)"')
JSON_SEQ = re.compile(rb'"seq": (\d+)')  # in the ceiling's messages (json.dumps' spacing)
CHANNEL = "bench-live-logs"
FINAL_CLOSE_CODES = (1000, 4403, 4404)  # finished, forbidden, not found: no reconnect
MAX_RECONNECTS = 20


def run_clients(
    kind: str,
    target,
    clients: int,
    lines: int,
    start: Callable[[], None] | None = None,
    batch: int = 0,
) -> dict:
    """Connect `clients` watchers, then `start()` the stream (for "redis": publish `lines`
    lines to `target`, a Redis URL, `batch` lines a message, as the runner batches them);
    wait until every watcher has seen the end."""
    context = multiprocessing.get_context("spawn")
    processes = min(clients, 4)
    ready, results = context.Queue(), context.Queue()
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    workers = [
        context.Process(
            target=_watch_in_process, args=(kind, target, n, clients == 1, ready, results)
        )
        for n in shares
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    if kind == "redis":
        _publish(target, lines, batch)
    elif start is not None:
        start()
    collected = [client for _ in workers for client in results.get(timeout=600)]
    for worker in workers:
        worker.join()
    received = max(1, sum(c["count"] for c in collected))
    result = {
        "rates": [c["count"] / max(c["last"] - c["first"], 1e-9) for c in collected],
        "unique": [c["unique"] for c in collected],
        "duplicates": [c["count"] - c["unique"] for c in collected],
        "latencies": [x for c in collected for x in c["latencies"]],
        "closes": [c["closes"] for c in collected],
        "cpu_per_line": sum(c["cpu"] for c in collected) / received,  # equal work, both kinds
    }
    if kind == "redis":
        result["lost"] = [lines - seen for seen in result["unique"]]
    return result


def _watch_in_process(kind, target, count, keep_latencies, ready, results) -> None:
    results.put(asyncio.run(_watch_all(kind, target, count, keep_latencies, ready)))


async def _watch_all(kind, target, count, keep_latencies, ready) -> list[dict]:
    if kind == "slipway":
        opened = [await _open_socket(target, after=0) for _ in range(count)]
        # Ready once the server has replayed each socket's log (its status frame comes last),
        # as a page that was open before the deployment started: the stream meets no
        # connection work on the server. The frame may hold lines: it is counted.
        first = [await socket.recv() for socket in opened]
        receiving = (
            _receive_frames(target, socket, keep_latencies, frame)
            for socket, frame in zip(opened, first, strict=True)
        )
    else:
        opened = [await _subscribe(target) for _ in range(count)]
        receiving = (_receive_messages(pubsub, keep_latencies) for pubsub in opened)
    ready.put(count)
    cpu = time.process_time()
    watched = await asyncio.gather(*receiving)
    for client in watched:  # this process's CPU from the start to the end, shared out
        client["cpu"] = (time.process_time() - cpu) / count
    return watched


async def _open_socket(target, *, after: int):
    from websockets.asyncio.client import connect

    url, cookie, origin = target
    return await connect(
        re.sub(r"after=\d+", f"after={after}", url),
        origin=origin,
        additional_headers={"Cookie": cookie},
        max_size=None,
        open_timeout=60,
        ping_interval=None,
    )


async def _receive_frames(target, socket, keep_latencies: bool, first: str) -> dict:
    """Frames (`first` already received) until the server closes with 1000 (the deployment
    ended). On any other close it reconnects with `?after=<highest seq seen>`, as the page
    does (static/js/deployment.js: not after 1000, 4403 or 4404); every close code is kept
    for the report."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    stats = _Stats(keep_latencies)

    def take(frame: str) -> None:
        now = time.time()
        if keep_latencies:
            found = LINE.findall(frame)
            stats.add(now, ((int(seq), stream, text) for stream, seq, text in found))
        else:
            stats.add_seqs(now, list(map(int, SEQ.findall(frame))))

    take(first)
    while True:
        try:
            async for frame in socket:
                take(frame)
        except ConnectionClosed:
            pass
        code = socket.close_code
        stats.closes.append(code)
        if code in FINAL_CLOSE_CODES or len(stats.closes) > MAX_RECONNECTS:
            return stats.summary()
        await asyncio.sleep(0.2)
        try:
            socket = await _open_socket(target, after=stats.highest)
        except (OSError, InvalidHandshake, TimeoutError):
            stats.closes.append(None)  # could not reconnect this time
            if len(stats.closes) > MAX_RECONNECTS:
                return stats.summary()


async def _subscribe(url: str):
    import redis.asyncio as redis

    pubsub = redis.Redis.from_url(url, protocol=2).pubsub()
    await pubsub.subscribe(CHANNEL)
    return pubsub


async def _receive_messages(pubsub, keep_latencies: bool) -> dict:
    stats = _Stats(keep_latencies)
    async for message in pubsub.listen():
        if message["type"] != "message":
            continue
        if message["data"] == b"END":
            break
        now = time.time()
        if keep_latencies:
            batch = json.loads(message["data"])
            stats.add(now, ((line["seq"], line["stream"], line["text"]) for line in batch))
        else:
            stats.add_seqs(now, list(map(int, JSON_SEQ.findall(message["data"]))))
    await pubsub.aclose()
    return stats.summary()


def _publish(url: str, lines: int, batch: int) -> None:
    """The same lines, in the runner's batches, with raw PUBLISH: the ceiling."""
    import redis

    connection = redis.Redis.from_url(url)
    for first in range(1, lines + 1, batch):
        message = [
            {"seq": seq, "time": "", "stream": "stdout", "text": f"{time.time():.6f} line {seq}"}
            for seq in range(first, min(first + batch, lines + 1))
        ]
        connection.publish(CHANNEL, json.dumps(message))
    connection.publish(CHANNEL, "END")


class _Stats:
    def __init__(self, keep_latencies: bool) -> None:
        self.seen: set[int] = set()
        self.count = 0
        self.first = self.last = 0.0
        self.latencies: list[float] | None = [] if keep_latencies else None
        self.highest = 0
        self.closes: list[int | None] = []

    def add(self, now: float, lines) -> None:
        for seq, stream, text in lines:
            self.count += 1
            self.seen.add(seq)
            self.highest = max(self.highest, seq)
            if self.latencies is not None and stream == "stdout":
                self.latencies.append(now - float(text.split(" ", 1)[0]))
            self.first = self.first or now
            self.last = now

    def add_seqs(self, now: float, seqs: list[int]) -> None:
        """The lines of one message, by seq (no latency): per message, not per line."""
        if not seqs:
            return
        self.count += len(seqs)
        self.seen.update(seqs)
        self.highest = max(self.highest, max(seqs))
        self.first = self.first or now
        self.last = now

    def summary(self) -> dict:
        return {
            "count": self.count,
            "unique": len(self.seen),
            "first": self.first,
            "last": self.last,
            "latencies": self.latencies or [],
            "closes": self.closes,
        }
