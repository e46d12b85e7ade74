"""Bounded request bodies, against the real daphne server: a body over its endpoint's limit
gets 413 before it is read into memory, and a 50 MB JUnit report is parsed in little memory.

Memory is the server's peak RSS (VmHWM, reset before each request through
/proc/PID/clear_refs) against its RSS before the request."""

import socket
import threading
from pathlib import Path

import pytest
import requests

from pipelines.models import Build
from tests.factories import fake_sha
from tests.live import bearer

MiB = 1024 * 1024


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


class RawPost:
    """A POST over a bare socket whose body is sent only as long as the server reads it; the
    answer is collected by a thread, so it is not lost when the server closes early."""

    def __init__(self, url: str, path: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.sock.sendall(head.encode() + b"\r\n")
        self.answer = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self.answer += data
        except OSError:
            pass

    def send_body(self, total: int, *, chunked: bool = False) -> int:
        """Send up to `total` bytes; returns how many the server took before it hung up."""
        block = b"{" + b" " * (MiB - 1)
        sent = 0
        try:
            while sent < total and not self.answer:
                data = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
                self.sock.sendall(data)
                sent += len(block)
        except OSError:
            pass
        return sent

    def status(self) -> int:
        self.reader.join(timeout=30)
        self.sock.close()
        assert self.answer, "the server sent no answer"
        return int(self.answer.split(b" ", 2)[1])


def test_a_400_mb_post_gets_413_before_it_is_read_and_costs_the_server_no_memory(
    slipway_server,
):
    pid = slipway_server.process.pid
    before = rss(pid)
    reset_peak(pid)

    post = RawPost(
        slipway_server.url,
        "/api/v1/pipelines/webshop/builds",
        {"Content-Type": "application/json", "Content-Length": str(400 * MiB)},
    )
    sent = post.send_body(400 * MiB)

    assert post.status() == 413
    assert b'"body_too_large"' in post.answer
    assert sent < 100 * MiB  # the server stopped reading long before the end
    growth = rss(pid, "VmHWM") - before
    print(f"400 MB POST: server peak RSS grew {growth / MiB:.1f} MiB (ceiling 32 MiB)")
    assert growth < 32 * MiB


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/pipelines/webshop/builds"])
def test_a_chunked_body_is_cut_off_with_413_past_the_limit(slipway_server, path):
    pid = slipway_server.process.pid
    before = rss(pid)
    reset_peak(pid)

    post = RawPost(
        slipway_server.url,
        path,
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    sent = post.send_body(400 * MiB, chunked=True)

    assert post.status() == 413
    assert sent < 100 * MiB
    assert rss(pid, "VmHWM") - before < 32 * MiB


def junit_file(path: Path, size: int) -> int:
    """A JUnit report of about `size` bytes (cases with some output); returns the cases."""
    output = "x" * 400
    cases = 0
    with path.open("w") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="big">\n')
        written = 0
        while written < size - 1000:
            case = (
                f'<testcase classname="tests.test_big" name="test_{cases}" time="0.001">'
                f"<system-out>{output}</system-out></testcase>\n"
            )
            out.write(case)
            written += len(case)
            cases += 1
        out.write("</testsuite></testsuites>\n")
    return cases


def test_a_50_mb_junit_costs_the_server_under_100_mib(
    slipway_server, pipeline, token_for, tmp_path
):
    build = Build.objects.create(pipeline=pipeline, sha=fake_sha("big"), status="passed")
    report = tmp_path / "junit.xml"
    cases = junit_file(report, 50 * 1000 * 1000)
    pid = slipway_server.process.pid
    before = rss(pid)
    reset_peak(pid)

    with report.open("rb") as junit:
        response = requests.post(
            f"{slipway_server.url}/api/v1/pipelines/webshop/builds/{build.sha}/reports",
            files={"junit": ("junit.xml", junit, "application/xml")},
            headers=bearer(token_for("developer")),
            timeout=300,
        )

    assert response.status_code == 200, response.text
    assert response.json()["tests"]["passed"] == cases
    growth = rss(pid, "VmHWM") - before
    print(f"50 MB JUnit: server peak RSS grew {growth / MiB:.1f} MiB (ceiling 100 MiB)")
    assert growth < 100 * MiB


def test_a_report_over_its_limit_gets_413(slipway_server, pipeline, token_for, tmp_path, settings):
    build = Build.objects.create(pipeline=pipeline, sha=fake_sha("big"), status="passed")
    limit = settings.SLIPWAY_MAX_REPORT_BYTES
    post = RawPost(
        slipway_server.url,
        f"/api/v1/pipelines/webshop/builds/{build.sha}/reports",
        {
            **bearer(token_for("developer")),
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(limit + 1024 * 1024),
        },
    )

    assert post.status() == 413
    assert f"larger than {limit + 64 * 1024:,} bytes".encode() in post.answer
