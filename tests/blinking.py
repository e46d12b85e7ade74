"""Services that blink, for fault tests: a TCP proxy in front of the real PostgreSQL that
can drop every connection and refuse new ones for a while (what a restart looks like from
a client), and a redis-server of the test's own that can be stopped and started again.

The shared PostgreSQL and Redis of the machine are never restarted; only what a test
started here goes down.

    with TcpProxy("127.0.0.1", 5432) as proxy:   # postgres://…@127.0.0.1:{proxy.port}/…
        proxy.down()                               # every connection dropped, new ones too
        proxy.up()

    with DatabaseProxy() as proxy:                 # in front of the test database
        run_server(…, env={"DATABASE_URL": proxy.url})
"""

import contextlib
import socket
import subprocess
import threading
import time
from urllib.parse import urlparse


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepting = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "TcpProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.down()
        self.listener.close()

    def down(self) -> None:
        """Drop every connection and refuse new ones (they are closed at once)."""
        self.accepting = False
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def up(self) -> None:
        self.accepting = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.accepting:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class DatabaseProxy(TcpProxy):
    """A TcpProxy in front of the test session's PostgreSQL: `url` reaches the test database
    through it, `host` and `port` are its address."""

    def __init__(self) -> None:
        from django.db import connection

        from tests.live import database_url

        db = connection.settings_dict
        super().__init__(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
        self.host = "127.0.0.1"
        url = urlparse(database_url())
        credentials = url.netloc.rsplit("@", 1)[0]
        self.url = url._replace(netloc=f"{credentials}@{self.host}:{self.port}").geturl()


class RedisServer:
    """Our own redis-server on a free port, without persistence, so it can be restarted."""

    def __init__(self, program: str, port: int, directory) -> None:
        self.command = [
            program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ]
        self.port = port
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
