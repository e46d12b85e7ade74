"""A client that reads a streamed response slowly (the raw log of a long deployment) costs the
server a buffer, not the response: daphne makes the response no faster than its client reads
it (dashboard/daphne_responses.py), and the client still gets every line."""

import http.client
import socket
import time
from pathlib import Path

import pytest

from pipelines.models import Deployment
from tests.history import add_history
from tests.live import run_server, session_cookie

READERS = 4
LINES = 600_000  # ~20 MB of text


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def stalled_download(port: int, path: str, cookie: str) -> socket.socket:
    """A GET of `path` whose client reads nothing yet, with a small receive window (as a
    client on a slow link)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    return sock


def read_to_the_end(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    assert answer.status == 200
    return answer.read()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_slow_readers_of_a_long_log_cost_the_server_a_buffer_not_the_log(
    transactional_db, pipeline, users, tmp_path
):
    add_history(pipeline, builds=3, deployments=3, long_log=LINES)  # on the newest
    deployment = Deployment.objects.filter(environment__pipeline=pipeline).latest("pk")
    lines = deployment.log_lines.count()
    cookie = session_cookie(users["developer"])
    with run_server(tmp_path / "artifacts") as server:
        port = int(server.url.rsplit(":", 1)[1])
        path = f"/deployments/{deployment.pk}/log.txt"
        log_mb = len(read_to_the_end(stalled_download(port, path, cookie))) / 2**20
        before = resident_mb(server.process.pid)

        readers = [stalled_download(port, path, cookie) for _ in range(READERS)]
        time.sleep(4)  # unbounded, the server read and held the whole log for each by now
        held = resident_mb(server.process.pid) - before
        bodies = [read_to_the_end(reader) for reader in readers]

    assert [body.count(b"\n") for body in bodies] == [lines] * READERS
    # Each held its buffer (1 MiB), the chunk in hand and the kernel's share, not ~20 MB.
    assert held < READERS * log_mb / 2, f"{held:.0f} MB held for {READERS} × {log_mb:.0f} MB"
