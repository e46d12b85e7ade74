"""Running a shell command for a deployment, its output streamed into the log line by line.

The command runs in a session of its own, so a cancel or timeout reaches everything it
started: TERM to the whole process group, then KILL after the grace period.
"""

import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

from pipelines.runner.context import Cancelled, LostClaim, RunContext, StepFailed, Stream

READ_SIZE = 65536
MAX_PARTIAL_BYTES = 1024 * 1024


def run_command(
    ctx: RunContext, command: str, *, cwd: Path | str, env: dict[str, str] | None = None
) -> None:
    """Run `command` with /bin/sh in `cwd`; raise StepFailed unless it exits with 0."""
    ctx.note(f"$ {command}")
    process = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=env if env is not None else ctx.command_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        ctx.track_process_group(process.pid)
    except BaseException:  # not recorded, so nobody could end it later: end it now
        _signal_group(process, signal.SIGKILL)
        process.wait()
        raise
    reader = _LineReader(ctx, process)
    try:
        reader.pump_until_exit(tick=ctx.tick)
    except Exception as reason:  # a cancel, a timeout, a lost claim, the database away…
        _stop(ctx, process, reader, reason)
        raise
    if process.returncode != 0:
        raise StepFailed(f"`{command}` exited with status {process.returncode}")


def _stop(ctx: RunContext, process: subprocess.Popen, reader: "_LineReader", reason) -> None:
    """TERM the command's process group, KILL it after the grace period."""
    if isinstance(reason, Cancelled):
        why = f"Cancelled by {reason.by}"
    elif isinstance(reason, LostClaim):
        why = "This deployment was marked interrupted"
    else:
        why = str(reason)[:1].upper() + str(reason)[1:]
    grace = ctx.timing.cancel_grace
    ctx.log.system(f"{why}: sending TERM to the command (process group {process.pid}).")
    _signal_group(process, signal.SIGTERM)
    try:
        reader.pump_until_exit(tick=ctx.log_only_tick, within=grace)
    except TimeoutError:
        ctx.log.system(f"Still running {grace:g} s after TERM: sending KILL.")
        _signal_group(process, signal.SIGKILL)
        reader.pump_until_exit(tick=ctx.log_only_tick, within=5)
    ctx.log.system(f"The command stopped (status {process.returncode}).")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


class _LineReader:
    """Reads stdout and stderr as they come, splitting them into log lines."""

    def __init__(self, ctx: RunContext, process: subprocess.Popen) -> None:
        self.ctx = ctx
        self.process = process
        self.selector = selectors.DefaultSelector()
        self.partial: dict[str, bytes] = {}
        for pipe, stream in ((process.stdout, Stream.STDOUT), (process.stderr, Stream.STDERR)):
            os.set_blocking(pipe.fileno(), False)
            self.selector.register(pipe, selectors.EVENT_READ, stream)
            self.partial[stream] = b""

    def pump_until_exit(self, *, tick, within: float | None = None) -> None:
        """Read output until the pipes close and the process exits; TimeoutError past `within`."""
        end = None if within is None else time.monotonic() + within
        while self.selector.get_map() or self.process.poll() is None:
            if end is not None and time.monotonic() > end:
                raise TimeoutError
            if self.selector.get_map():
                for key, _ in self.selector.select(timeout=0.05):
                    self._read(key)
            else:
                time.sleep(0.05)
            tick()

    def _read(self, key: selectors.SelectorKey) -> None:
        stream = key.data
        try:
            data = os.read(key.fileobj.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.selector.unregister(key.fileobj)
            key.fileobj.close()
            if self.partial[stream]:
                self._emit(stream, self.partial[stream])
                self.partial[stream] = b""
            return
        # No newline in it: rpartition gives (b"", b"", all of it), so it all waits in `rest`.
        complete, newline, rest = (self.partial[stream] + data).rpartition(b"\n")
        # Decoded at once: a newline is never part of a UTF-8 sequence, so each line decodes
        # (invalid bytes replaced) as it would alone.
        texts = complete.decode("utf-8", errors="replace").split("\n") if newline else []
        if b"\r" in complete:
            texts = [text.rstrip("\r") for text in texts]
        if len(rest) > MAX_PARTIAL_BYTES:  # a "line" that never ends
            texts.append(rest.decode("utf-8", errors="replace").rstrip("\r"))
            rest = b""
        self.partial[stream] = rest
        if texts:
            self.ctx.log.write_lines(texts, stream)

    def _emit(self, stream: str, line: bytes) -> None:
        self.ctx.log.write(line.decode("utf-8", errors="replace").rstrip("\r"), stream)
