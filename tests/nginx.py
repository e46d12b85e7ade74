"""A real nginx for tests: Debian's nginx in the foreground, with a temporary prefix.

`start_nginx` runs any `http {}` configuration on a free 127.0.0.1 port; the process, its
pid file, temp files and logs live under the given directory, and it is stopped after.

    def http(port: int) -> str:
        return f"server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}"

    with start_nginx(tmp_path / "nginx", http) as proxy:
        requests.get(proxy.url + "/")

`documented_config` is the configuration docs/deploying-behind-nginx.md tells operators to
use, taken from that page (the same text, so the page is what the tests prove), made local:
`listen` on the test's port instead of 443 with TLS, and one `server` line per upstream.

    with start_nginx(tmp_path / "nginx", documented_config(["127.0.0.1:8001", …])) as proxy:
        ...
"""

import contextlib
import os
import pwd
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import need_program

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "deploying-behind-nginx.md"
STARTUP_SECONDS = 10
PORT_ATTEMPTS = 5

HttpConfig = str | Callable[[int], str]


@dataclass
class Nginx:
    port: int
    process: subprocess.Popen
    prefix: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """nginx's error log and what it printed (why it refused a config, why a proxy failed)."""
        error_log = self.prefix / "error.log"
        return error_log.read_text(errors="replace") if error_log.exists() else ""

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


def guide_config() -> str:
    """The one ```nginx block of docs/deploying-behind-nginx.md, verbatim."""
    blocks = re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    if len(blocks) != 1:
        raise AssertionError(f"{GUIDE.name} should hold exactly one nginx block: {len(blocks)}")
    return blocks[0]


def documented_config(upstreams: list[str]) -> Callable[[int], str]:
    """The guide's configuration for `start_nginx`: listening on the test's port without
    TLS, and proxying to `upstreams` ("127.0.0.1:port" of each daphne)."""
    text = guide_config()
    upstream_line = re.compile(r"^(\s*)server 127\.0\.0\.1:8000;.*$", re.MULTILINE)
    listen_line = re.compile(r"^(\s*)listen 443 ssl;.*$", re.MULTILINE)
    for pattern in (upstream_line, listen_line):
        if len(pattern.findall(text)) != 1:
            raise AssertionError(f"{GUIDE.name}: expected one line matching {pattern.pattern}")
    text = upstream_line.sub(
        lambda m: "\n".join(f"{m.group(1)}server {address};" for address in upstreams), text
    )

    def render(port: int) -> str:
        return listen_line.sub(lambda m: f"{m.group(1)}listen 127.0.0.1:{port};", text)

    return render


def _main_config(prefix: Path, http: str) -> str:
    # As root, nginx's workers would run as "nobody" and could not read the private temp
    # directory; they run as the user running the tests instead.
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};\n" if os.getuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nmaster_process on;\nworker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temp}{http}\n}}\n"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def start_nginx(directory: Path, http: HttpConfig, *, port: int | None = None) -> Iterator[Nginx]:
    """nginx serving `http` (the inside of an `http {}` block, or a function of the port
    giving it) on `port` or a free one, until the block ends. Skips loudly without nginx.
    (Pass `port` when the upstreams must know it first, e.g. for CSRF_TRUSTED_ORIGINS.)"""
    binary = _nginx_binary()
    directory.mkdir(parents=True, exist_ok=True)
    chosen = port
    for _ in range(1 if chosen else PORT_ATTEMPTS):  # nginx binds the port itself: another
        port = chosen or free_port()  # process may take it first
        text = http(port) if callable(http) else http
        config = directory / "nginx.conf"
        config.write_text(_main_config(directory, text))
        process = subprocess.Popen(
            [binary, "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proxy = Nginx(port, process, directory)
        if _wait_until_listening(proxy):
            break
        if chosen or "Address already in use" not in proxy.log():
            raise RuntimeError(f"nginx did not start:\n{proxy.log()}\n--- config:\n{text}")
    else:
        raise RuntimeError(f"nginx found no free port in {PORT_ATTEMPTS} attempts")
    try:
        yield proxy
    finally:
        _stop(process)


def _nginx_binary() -> str:
    """Debian's nginx lives in /usr/sbin, which is not on every user's PATH."""
    installed = Path("/usr/sbin/nginx")
    return str(installed) if installed.exists() else need_program("nginx")


def _wait_until_listening(proxy: Nginx) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    _stop(proxy.process)
    raise RuntimeError(f"nginx was not listening within {STARTUP_SECONDS}s:\n{proxy.log()}")


def _stop(process: subprocess.Popen) -> None:
    """SIGQUIT (graceful) and then SIGKILL to nginx's whole process group."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGQUIT)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
