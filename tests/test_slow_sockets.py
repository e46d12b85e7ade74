"""A viewer who reads slower than a log is written, on a real daphne: the server holds a bounded
amount for them, closes a socket that falls too far behind (its client resumes from its
cursor, missing nothing), and lets one that is behind at the end read its tail before the
close (dashboard/daphne_websockets.py)."""

import re
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dashboard.daphne_websockets import PreparedFrames
from tests.live import run_server, session_cookie
from tests.watching import finish, running_deployment, write_lines

pytestmark = pytest.mark.django_db(transaction=True)

SEQ = re.compile(r'data-seq="(\d+)"')
LINE = "x" * 200  # 30,000 such lines: about 7 MB of frames, more than the kernel's buffers hold
LINES = 30_000
BOUND = 256 * 1024


def open_socket(server_url: str, path: str, user, *, receive_buffer: int | None = None):
    """A signed-in WebSocket; with `receive_buffer`, one whose kernel buffer is that small, so
    that what it does not read stays on the server's side."""
    host, port = server_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    return connect(
        server_url.replace("http://", "ws://") + path,
        sock=sock,
        origin=server_url,
        additional_headers={"Cookie": session_cookie(user)},
        max_size=None,
        max_queue=1,  # stop reading the socket while a frame waits to be taken
        open_timeout=10,
    )


def read_until_closed(websocket) -> tuple[list[int], int | None]:
    seqs = []
    try:
        while True:
            seqs += map(int, SEQ.findall(websocket.recv(timeout=30)))
    except ConnectionClosed:
        pass
    return seqs, websocket.close_code


def test_a_socket_that_does_not_read_is_closed_past_its_bound_and_resumes_from_its_cursor(
    pipeline, users, tmp_path
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [f"{LINE} {n}" for n in range(1, LINES + 1)], publish=False)
    env = {"SLIPWAY_SOCKET_BUFFER_BYTES": str(BOUND)}
    with run_server(tmp_path / "artifacts", env=env) as server:
        path = f"/ws/deployments/{deployment.pk}/?after="
        developer = users["developer"]
        with open_socket(server.url, path + "0", developer, receive_buffer=4096) as stalled:
            deadline = time.monotonic() + 30
            while "behind: closed" not in server.log() and time.monotonic() < deadline:
                time.sleep(0.1)  # the replay goes on, and piles up on the server, until the bound
            seen, code = read_until_closed(stalled)
        assert "behind: closed" in server.log()
        assert code == 1006  # closed without a close frame: the page reconnects
        assert seen == list(range(1, len(seen) + 1)) and len(seen) < LINES

        finish(deployment)
        with open_socket(server.url, f"{path}{len(seen)}", users["qa"]) as again:
            rest, code = read_until_closed(again)
    assert seen + rest == list(range(1, LINES + 1))
    assert code == 1000


def test_a_viewer_behind_when_the_deployment_ends_reads_every_line_then_a_normal_close(
    slipway_server, pipeline, users
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, [f"{LINE} {n}" for n in range(1, LINES + 1)], publish=False)
    finish(deployment)
    path = f"/ws/deployments/{deployment.pk}/?after=0"
    with open_socket(slipway_server.url, path, users["developer"]) as behind:
        time.sleep(3)  # the server has sent it all and closed: the close waits behind the lines
        seen, code = read_until_closed(behind)
    assert seen == list(range(1, LINES + 1))
    assert code == 1000


def test_a_text_sent_to_many_sockets_is_prepared_once_and_only_for_that_very_text():
    class Factory:
        prepared = 0

        def prepareMessage(self, payload):
            self.prepared += 1
            return ("prepared", payload)

    factory, frames = Factory(), PreparedFrames(size=2)
    frame = "".join(["<div>", "line</div>"])  # built at run time: a str object of its own
    assert frames.get(factory, frame) is frames.get(factory, frame)
    assert factory.prepared == 1
    equal_but_another = "".join(["<div>line", "</div>"])
    assert frames.get(factory, equal_but_another) == ("prepared", b"<div>line</div>")
    assert factory.prepared == 2
    frames.get(factory, "".join(["a", "b"]))  # the first falls out of the two kept
    assert frames.get(factory, frame) == ("prepared", frame.encode())
    assert factory.prepared == 4
