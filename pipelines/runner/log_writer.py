"""The runner's log: lines stored first (dense seq), then published after commit, in batches.

Publishing one channel-layer message per line would flood slow consumers (Channels drops
what is over capacity, docs/architecture.md "Live updates"), so lines are buffered and flushed every
SLIPWAY_LOG_FLUSH_SECONDS, at every step boundary and at the end.
"""

import time
from itertools import repeat

from pipelines.live import publish_after_commit, publish_log
from pipelines.logs import commit_log
from pipelines.models import Deployment, LogLine
from pipelines.runner.database import DatabaseAway, retrying

MAX_LINE_CHARS = 10_000
# Flush early when this many lines, or this much text, wait: one batch stays a reasonable
# message. (2,000 lines stored a fast command faster, but one viewer's share of a machine
# shared with the runner then fell under 0.9 of it: docs/architecture.md, "Live updates".)
MAX_BATCH = 500
MAX_BATCH_CHARS = 1_000_000

Stream = LogLine.Stream


class LogWriter:
    """Buffers a deployment's output lines; `flush` stores and publishes them.

    Past `max_lines` stored lines, output is cut with one marker line, never silently;
    the runner's own short notes (SYSTEM lines: step starts and ends) still get through.
    """

    def __init__(self, deployment: Deployment, *, max_lines: int, flush_seconds: float) -> None:
        self.deployment = deployment
        self.max_lines = max_lines
        self.flush_seconds = flush_seconds
        self.pending: list[tuple[str, str]] = []
        self.pending_chars = 0
        self.last_flush = time.monotonic()
        self.cut = False
        self.dropped = 0
        # While the previous release is put back: a database that is away must not stop
        # that; the lines wait (and go with the next flush that works).
        self.tolerant = False
        self.masked: list[str] = []

    def mask(self, secret: str) -> None:
        """Show `secret` as *** wherever it appears in what is stored and streamed, line by line
        for a value of several lines (as CI systems do)."""
        lines = {line for line in secret.splitlines() if line.strip()}
        # Longest first, so a secret containing another is masked whole.
        self.masked = sorted({*self.masked, *lines}, key=len, reverse=True)

    def write(self, text: str, stream: str = Stream.STDOUT) -> None:
        for secret in self.masked:
            text = text.replace(secret, "***")
        self._add(text, stream)
        if self._full():
            self.flush()

    def _add(self, text: str, stream: str) -> None:
        """Append one line (or the cut's marker), unflushed."""
        text = _shortened(text)
        if stream != Stream.SYSTEM:
            if self.cut:
                self.dropped += 1
                return
            if self.deployment.last_seq + len(self.pending) >= self.max_lines:
                self.cut = True
                self.dropped += 1
                self.pending.append(
                    (
                        Stream.SYSTEM,
                        f"✂ Log cut at {self.max_lines:,} lines: further output of this "
                        f"deployment is not stored.",
                    )
                )
                return
        self.pending.append((stream, text))
        self.pending_chars += len(text)

    def _full(self, lines: int = MAX_BATCH) -> bool:
        return len(self.pending) >= lines or self.pending_chars >= MAX_BATCH_CHARS

    def _flush_keeping(self, rest: list[str], stream: str) -> None:
        """Flush a full batch; if the database stays away, the rest of the chunk waits with
        the lines not stored (and DatabaseAway goes up): output is never lost half-way."""
        try:
            self.flush()
        except DatabaseAway:
            for text in rest:
                self._add(text, stream)
            raise

    def write_lines(self, texts: list[str], stream: str = Stream.STDOUT) -> None:
        """`write` each text in order, the common case in one go (a command's output comes a
        chunk of lines at a time): masked over the chunk joined (no secret line holds a
        newline, so none can match across two lines), and appended whole while no line is too
        long and the cap is not near."""
        if self.masked and texts:
            joined = "\n".join(texts)
            for secret in self.masked:
                joined = joined.replace(secret, "***")
            texts = joined.split("\n")
        room = self.max_lines - self.deployment.last_seq - len(self.pending)
        if stream == Stream.SYSTEM or self.cut or len(texts) > room:
            for n, text in enumerate(texts):
                self._add(text, stream)
                if self._full():
                    self._flush_keeping(texts[n + 1 :], stream)
            return
        longest = max(map(len, texts), default=0)
        if longest > MAX_LINE_CHARS:
            texts = [_shortened(text) for text in texts]
            longest = max(map(len, texts))
        per_batch = max(min(MAX_BATCH, MAX_BATCH_CHARS // max(longest, 1)), 1)
        start = 0
        while start < len(texts):
            chunk = texts[start : start + max(per_batch - len(self.pending), 1)]
            self.pending += zip(repeat(stream), chunk)
            self.pending_chars += sum(map(len, chunk))
            start += len(chunk)
            if self._full(per_batch):
                self._flush_keeping(texts[start:], stream)

    def system(self, text: str) -> None:
        self.write(text, Stream.SYSTEM)

    def due(self) -> bool:
        return bool(self.pending) and time.monotonic() - self.last_flush >= self.flush_seconds

    def flush(self) -> None:
        """Store and publish the pending lines, riding out a database blink; DatabaseAway
        when it stays away (the lines stay pending)."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        try:
            retrying(self.store, what="storing the log", seconds=0 if self.tolerant else None)
        except DatabaseAway:
            if not self.tolerant:
                raise

    def store(self) -> None:
        """One attempt at storing the pending lines (the database's error goes up)."""
        rows = commit_log(self.deployment, self.pending)
        publish_after_commit(publish_log, self.deployment.pk, rows)
        self.pending, self.pending_chars = [], 0


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + " … (line cut)"
